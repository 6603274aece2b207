/**
 * Content digests: parsing and validation (OCI descriptor grammar), the supported algorithms, and
 * streaming hashers on node's OpenSSL-backed `crypto` (the fastest hashing Node offers).
 */
import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from '../errors/registry-error.js';

export type Algorithm = 'sha256' | 'sha512';

/** A validated digest string `alg:hex`, lowercase hex of the algorithm's length. */
export type Digest = string & { readonly __digest: unique symbol };

export interface ParsedDigest {
  readonly algorithm: Algorithm;
  readonly hex: string;
  readonly digest: Digest;
}

const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HEX_LENGTH: Record<Algorithm, number> = { sha256: 64, sha512: 128 };

export function isAlgorithm(value: string): value is Algorithm {
  return value === 'sha256' || value === 'sha512';
}

/** Parses a digest or throws DIGEST_INVALID (malformed or unsupported algorithm). */
export function parseDigest(value: string): ParsedDigest {
  const parsed = tryParseDigest(value);
  if (parsed === undefined) {
    const algorithm = value.split(':', 1)[0] ?? '';
    const reason =
      GRAMMAR.test(value) && !isAlgorithm(algorithm)
        ? `unsupported digest algorithm ${JSON.stringify(algorithm.slice(0, 32))}`
        : 'invalid digest';
    throw new RegistryError('DIGEST_INVALID', { message: reason, detail: { digest: value.slice(0, 200) } });
  }
  return parsed;
}

export function tryParseDigest(value: string): ParsedDigest | undefined {
  if (value.length > 200 || !GRAMMAR.test(value)) return undefined;
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (!isAlgorithm(algorithm)) return undefined;
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(hex)) return undefined;
  return { algorithm, hex, digest: value as Digest };
}

export function isDigest(value: string): boolean {
  return tryParseDigest(value) !== undefined;
}

export function newHash(algorithm: Algorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(bytes: Uint8Array, algorithm: Algorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
}

export function hashToDigest(algorithm: Algorithm, hash: Hash): Digest {
  return `${algorithm}:${hash.digest('hex')}` as Digest;
}
