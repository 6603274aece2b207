/**
 * Key identifiers of public keys, as token verifiers look them up: the libtrust key ID that
 * distribution 2.x, Harbor, GitLab and docker_auth put in a JWT's `kid` (SHA-256 of the DER
 * SubjectPublicKeyInfo, first 30 bytes, base32 without padding, 12 groups of 4 joined by `:`), and
 * the RFC 7638 JWK thumbprint (SHA-256, base64url) that distribution 3.x indexes keys by.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { libtrustKeyId } from '../core/libtrust-key-id.js';

export { libtrustKeyId };

/** The members RFC 7638 hashes, per key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

/** RFC 7638 thumbprint (SHA-256, base64url) of a public JWK; undefined for unsupported key types. */
export function jwkThumbprintOf(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const members = typeof jwk['kty'] === 'string' ? THUMBPRINT_MEMBERS[jwk['kty']] : undefined;
  if (members === undefined) return undefined;
  const parts: string[] = [];
  for (const name of members) {
    const value = jwk[name];
    if (typeof value !== 'string') return undefined;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(value)}`);
  }
  return createHash('sha256').update(`{${parts.join(',')}}`).digest('base64url');
}

/** RFC 7638 thumbprint of a key (its public half). */
export function jwkThumbprint(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const thumbprint = jwkThumbprintOf(publicKey.export({ format: 'jwk' }) as Record<string, unknown>);
  if (thumbprint === undefined) throw new TypeError(`no JWK thumbprint for key type ${String(key.asymmetricKeyType)}`);
  return thumbprint;
}
