/**
 * libtrust's key ID, in one place: SHA-256 of the key's DER SubjectPublicKeyInfo, the first 240
 * bits, base32 (RFC 4648, no padding), 12 groups of 4 joined by `:`. Schema 1 signatures carry it
 * (core/bridge/jws.ts), and token `kid`s use it (auth/libtrust.ts).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The libtrust key ID of a public key, or of a private key's public half. */
export function libtrustKeyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const digest = createHash('sha256').update(der).digest().subarray(0, 30);
  return (base32(digest).match(/.{4}/g) ?? []).join(':');
}
