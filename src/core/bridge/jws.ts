/**
 * libtrust's "pretty" JSON Web Signatures, as Docker schema1 manifests carry them, on node's own
 * crypto: signing with an EC P-256 key (ES256, the key type docker and distribution used) and
 * verifying ES256/384/512 and RS256/384/512 signatures made with an embedded `jwk` or the leaf of
 * an `x5c` chain.
 *
 * Format (libtrust jsonsign.go): the signed payload is the whole JSON document; the protected
 * header `{"formatLength":N,"formatTail":b64url(tail),"time":RFC3339}` says where the document is
 * cut (`formatLength` = just after the last value before the closing brace) so that a
 * `"signatures": [...]` member can be spliced in; the signing input is
 * `b64url(protected) + "." + b64url(payload)`. Verification rebuilds the payload as
 * `content[:formatLength] + formatTail`, which is also what the manifest digest is computed over.
 *
 * Signing keys: derived from `http.secret` when it is set (the same key on every node that shares
 * the secret, so every node signs with one identity), otherwise generated once per process.
 */
import { libtrustKeyId } from '../libtrust-key-id.js';
import {
  createECDH,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
  X509Certificate,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { goIndent, type GoValue } from './go-json.js';
import { isRecord } from '../json.js';

export class JwsError extends Error {
  override readonly name = 'JwsError';
}

export interface SigningKey {
  readonly privateKey: KeyObject;
  /** The public JWK as libtrust writes it: crv, kid, kty, x, y. */
  readonly jwk: { readonly crv: string; readonly kid: string; readonly kty: string; readonly x: string; readonly y: string };
}

export function b64url(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64url');
}

export { libtrustKeyId };

/** The P-256 group order n. */
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

function keyFromPrivate(privateKey: KeyObject): SigningKey {
  const pub = createPublicKey(privateKey);
  const jwk = pub.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') throw new Error('internal: EC key without coordinates');
  return { privateKey, jwk: { crv: 'P-256', kid: libtrustKeyId(pub), kty: 'EC', x: jwk.x, y: jwk.y } };
}

/** An EC P-256 key derived deterministically from a secret (HMAC-SHA256 → scalar in [1, n-1]). */
export function deriveSigningKey(secret: string): SigningKey {
  const seed = createHmac('sha256', secret).update('berth schema1 signing key v1').digest();
  const scalar = (BigInt(`0x${seed.toString('hex')}`) % (P256_N - 1n)) + 1n;
  const d = Buffer.from(scalar.toString(16).padStart(64, '0'), 'hex');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  const jwk: JsonWebKey = { kty: 'EC', crv: 'P-256', d: b64url(d), x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33, 65)) };
  return keyFromPrivate(createPrivateKey({ key: jwk, format: 'jwk' }));
}

export function generateSigningKey(): SigningKey {
  return keyFromPrivate(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

const keys = new Map<string, SigningKey>();
let ephemeral: SigningKey | undefined;

/** The schema1 signing key for this configuration (cached). */
export function signingKeyFor(secret: string | undefined): SigningKey {
  if (secret === undefined || secret === '') return (ephemeral ??= generateSigningKey());
  let key = keys.get(secret);
  if (key === undefined) {
    key = deriveSigningKey(secret);
    keys.set(secret, key);
  }
  return key;
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

function lastNonSpace(bytes: Uint8Array, end: number): number {
  let i = end - 1;
  while (i >= 0 && isSpace(bytes[i])) i--;
  return i;
}

/** libtrust detectJSONIndent: the indent of the first member when the document starts `{\n`. */
function detectIndent(content: Uint8Array): string {
  if (content.length > 2 && content[0] === 0x7b && content[1] === 0x0a) {
    const quote = Buffer.from(content).indexOf(0x22, 1);
    if (quote > 1) return Buffer.from(content.subarray(2, quote)).toString('utf8');
  }
  return '';
}

/** RFC 3339 at second precision, UTC (Go's time.RFC3339 of a UTC time). */
function rfc3339(now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

/**
 * Signs a JSON object document and returns it with a `signatures` member spliced in before the
 * closing brace, laid out as libtrust's PrettySignature.
 */
export function signPretty(content: Buffer, key: SigningKey, now: Date = new Date()): Buffer {
  const close = lastNonSpace(content, content.length);
  if (close < 0 || content[close] !== 0x7d) throw new JwsError('content is not a JSON object');
  const lastValue = lastNonSpace(content, close);
  if (lastValue < 0 || content[lastValue] === 0x2c) throw new JwsError('content is not a JSON object');
  const formatLength = lastValue + 1;
  const formatTail = content.subarray(formatLength);
  const protectedHeader = b64url(
    `{"formatLength":${formatLength},"formatTail":${JSON.stringify(b64url(formatTail))},"time":${JSON.stringify(rfc3339(now))}}`,
  );
  const signature = cryptoSign('sha256', Buffer.from(`${protectedHeader}.${b64url(content)}`), {
    key: key.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  const signatures: GoValue = [
    {
      header: { jwk: { ...key.jwk }, alg: 'ES256' },
      signature: b64url(signature),
      protected: protectedHeader,
    },
  ];
  const indent = detectIndent(content);
  const head = content.subarray(0, formatLength);
  const tail =
    indent !== ''
      ? `,\n${indent}"signatures": ${goIndent(signatures, indent, indent)}\n}`
      : `,"signatures":${JSON.stringify(signatures)}}`;
  return Buffer.concat([head, Buffer.from(tail)]);
}

const ALGORITHMS: Readonly<Record<string, { readonly hash: string; readonly ec: boolean }>> = {
  ES256: { hash: 'sha256', ec: true },
  ES384: { hash: 'sha384', ec: true },
  ES512: { hash: 'sha512', ec: true },
  RS256: { hash: 'sha256', ec: false },
  RS384: { hash: 'sha384', ec: false },
  RS512: { hash: 'sha512', ec: false },
};

function publicKeyOf(header: Record<string, unknown>): KeyObject {
  const jwk = header['jwk'];
  if (isRecord(jwk)) {
    try {
      return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch {
      throw new JwsError('signature header has an unusable jwk');
    }
  }
  const chain = header['x5c'] ?? header['chain'];
  if (Array.isArray(chain) && typeof chain[0] === 'string') {
    try {
      return new X509Certificate(Buffer.from(chain[0], 'base64')).publicKey;
    } catch {
      throw new JwsError('signature header has an unusable x5c certificate');
    }
  }
  throw new JwsError('signature header has neither jwk nor x5c');
}

export interface VerifiedPretty {
  /** `content[:formatLength] + formatTail`: the document without its signatures. */
  readonly payload: Buffer;
  readonly signatures: number;
}

/**
 * Verifies every signature of a pretty-signed document (the `signatures` member) and returns the
 * payload. Throws JwsError when a signature is malformed or does not verify.
 */
export function verifyPretty(content: Buffer, signatureKey = 'signatures'): VerifiedPretty {
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString('utf8'));
  } catch {
    throw new JwsError('content is not JSON');
  }
  const blocks = isRecord(doc) ? doc[signatureKey] : undefined;
  if (!Array.isArray(blocks) || blocks.length === 0) throw new JwsError('no signatures');
  let formatLength: number | undefined;
  let formatTail: Buffer | undefined;
  const parsed = blocks.map((block: unknown, i) => {
    if (!isRecord(block) || typeof block['protected'] !== 'string' || typeof block['signature'] !== 'string' || !isRecord(block['header'])) {
      throw new JwsError(`signature ${i} is malformed`);
    }
    let prot: unknown;
    try {
      prot = JSON.parse(Buffer.from(block['protected'], 'base64url').toString('utf8'));
    } catch {
      throw new JwsError(`signature ${i}: protected header is not JSON`);
    }
    if (!isRecord(prot) || typeof prot['formatLength'] !== 'number' || typeof prot['formatTail'] !== 'string') {
      throw new JwsError(`signature ${i}: protected header lacks formatLength/formatTail`);
    }
    const length = prot['formatLength'];
    const tail = Buffer.from(prot['formatTail'], 'base64url');
    if (!Number.isSafeInteger(length) || length < 0 || length > content.length) throw new JwsError('invalid format length');
    if (formatLength !== undefined && formatLength !== length) throw new JwsError('conflicting format length');
    if (formatTail !== undefined && !formatTail.equals(tail)) throw new JwsError('conflicting format tail');
    formatLength = length;
    formatTail = tail;
    return { protected: block['protected'], signature: block['signature'], header: block['header'] };
  });
  const payload = Buffer.concat([content.subarray(0, formatLength ?? 0), formatTail ?? Buffer.alloc(0)]);
  const encodedPayload = b64url(payload);
  parsed.forEach((sig, i) => {
    const alg = sig.header['alg'];
    const spec = typeof alg === 'string' ? ALGORITHMS[alg] : undefined;
    if (spec === undefined) throw new JwsError(`signature ${i}: unsupported algorithm ${JSON.stringify(alg)}`);
    const key = publicKeyOf(sig.header);
    if ((key.asymmetricKeyType === 'ec') !== spec.ec) throw new JwsError(`signature ${i}: key type does not match ${String(alg)}`);
    const ok = cryptoVerify(
      spec.hash,
      Buffer.from(`${sig.protected}.${encodedPayload}`),
      spec.ec ? { key, dsaEncoding: 'ieee-p1363' } : key,
      Buffer.from(sig.signature, 'base64url'),
    );
    if (!ok) throw new JwsError(`signature ${i} does not verify`);
  });
  return { payload, signatures: parsed.length };
}
