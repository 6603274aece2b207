/**
 * Verifies Docker token-spec JWTs (auth.md §6) as distribution 2.8 does, plus the 3.x extras.
 *
 * Trusted keys: the certificates of a PEM bundle (trust anchors for `x5c` chains and directly
 * trusted keys), extra trusted public keys (e.g. Berth's own token issuer), and JWKS keys. The
 * header selects the key, first present wins, no fallback:
 *   1. `x5c`: the chain must verify to a bundle certificate (signatures, dates, CA issuers), or its
 *      leaf key must itself be a trusted key; the leaf key checks the signature;
 *   2. `jwk`: only when its RFC 7638 thumbprint equals a trusted key's (a forged key never passes);
 *   3. `kid`: the libtrust ID or RFC 7638 thumbprint of a bundle/trusted key, or a JWKS `kid`.
 * Algorithms: RS256/384/512, ES256/384/512 (the EC curve must match), EdDSA (Ed25519). `none`,
 * HS* (a public key must never become an HMAC secret) and PS* (distribution 2.8 refuses them, and
 * no known issuer sends them) are refused. Claims: `iss` exact, `aud` a string or a list containing
 * the service, `exp` required, `nbf` optional, both with a leeway (default 60 s); `sub` may be
 * absent (anonymous). Berth refresh tokens are refused here. Successful verifications are cached by
 * token (a SHA-256 of it) until they expire.
 */
import { createHash, createPublicKey, type JsonWebKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import type { Access, Action } from './access.js';
import { checkChain, parseCertificateBundle, parseX5c } from './cert-chain.js';
import { jwkThumbprint, jwkThumbprintOf, libtrustKeyId } from './libtrust.js';
import { TokenError } from './token-error.js';

/** Longest token accepted, in characters (16 KiB). */
export const MAX_TOKEN_LENGTH = 16 * 1024;
export const DEFAULT_LEEWAY_SECONDS = 60;
export const DEFAULT_TOKEN_CACHE_ENTRIES = 10_000;
/** JOSE `typ` of Berth's refresh tokens (never accepted as access tokens). */
export const REFRESH_TOKEN_TYP = 'berth-refresh+jwt';

export interface TokenVerifierOptions {
  /** Expected `iss`. */
  readonly issuer: string;
  /** Expected `aud` (the `service`). */
  readonly service: string;
  /** PEM text with one or more CERTIFICATE blocks (`auth.token.rootcertbundle`). */
  readonly rootCertBundlePem?: string;
  /** Public keys trusted directly (by `kid` = libtrust ID or thumbprint, `jwk`, or an `x5c` leaf). */
  readonly trustedKeys?: readonly KeyObject[];
  /** A JWKS document `{keys: [...]}` (`auth.token.jwks`); keys are found by their `kid`. */
  readonly jwks?: unknown;
  readonly leewaySeconds?: number;
  /** Clock in milliseconds. */
  readonly now?: () => number;
  readonly cacheMaxEntries?: number;
  readonly maxTokenLength?: number;
}

export interface VerifiedToken {
  /** `sub`; empty for anonymous. */
  readonly subject: string;
  readonly access: readonly Access[];
  /** `exp`, in seconds since the epoch. */
  readonly expiresAt: number;
}

const ALLOWED_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);
const CURVE_ALG: Readonly<Record<string, string>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
const ACTIONS: readonly string[] = ['pull', 'push', 'delete', '*'];

/** Whether `alg` is the one algorithm family this key may verify. */
export function algorithmFitsKey(alg: string, key: KeyObject): boolean {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return CURVE_ALG[key.asymmetricKeyDetails?.namedCurve ?? ''] === alg;
    case 'rsa':
      return alg === 'RS256' || alg === 'RS384' || alg === 'RS512';
    case 'ed25519':
      return alg === 'EdDSA';
    default:
      return false;
  }
}

function assertSupportedKey(key: KeyObject, what: string): void {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
  if (type === 'rsa' || type === 'ed25519' || (type === 'ec' && curve in CURVE_ALG)) return;
  throw new Error(`${what}: unsupported key type ${String(type)}${curve === '' ? '' : ` (${curve})`}`);
}

function fail(message: string): never {
  throw new TokenError(message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `access` claim, typed; items of other types and unknown actions are dropped. */
function readAccess(claim: unknown): Access[] {
  if (claim === undefined || claim === null) return [];
  if (!Array.isArray(claim)) fail('access claim is not a list');
  const out: Access[] = [];
  for (const item of claim) {
    if (!isRecord(item) || typeof item['type'] !== 'string' || typeof item['name'] !== 'string') fail('malformed access item');
    const actions = item['actions'] ?? [];
    if (!Array.isArray(actions) || !actions.every((a) => typeof a === 'string')) fail('malformed access actions');
    const type = item['type'];
    if (type !== 'repository' && type !== 'registry') continue;
    out.push({ type, name: item['name'], actions: (actions as string[]).filter((a): a is Action => ACTIONS.includes(a)) });
  }
  return out;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export class TokenVerifier {
  private readonly anchors: X509Certificate[];
  /** kid → key: libtrust IDs and thumbprints of bundle and trusted keys, JWKS kids. */
  private readonly byKid = new Map<string, KeyObject>();
  /** RFC 7638 thumbprint → key, for header `jwk` and `x5c` leaves. */
  private readonly byThumbprint = new Map<string, KeyObject>();
  private readonly cache = new Map<string, VerifiedToken>();
  private readonly leeway: number;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly maxLength: number;

  /** Throws an Error (a configuration problem) for an unreadable bundle or JWKS, or no key at all. */
  constructor(private readonly options: TokenVerifierOptions) {
    this.leeway = options.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS;
    this.now = options.now ?? Date.now;
    this.maxEntries = options.cacheMaxEntries ?? DEFAULT_TOKEN_CACHE_ENTRIES;
    this.maxLength = options.maxTokenLength ?? MAX_TOKEN_LENGTH;
    this.anchors = options.rootCertBundlePem === undefined ? [] : parseCertificateBundle(options.rootCertBundlePem);
    if (options.rootCertBundlePem !== undefined && this.anchors.length === 0) throw new Error('rootcertbundle: no CERTIFICATE in the bundle');
    for (const cert of this.anchors) {
      assertSupportedKey(cert.publicKey, `rootcertbundle certificate ${cert.subject.replace(/\n/g, ', ')}`);
      this.trustKey(cert.publicKey);
    }
    for (const key of options.trustedKeys ?? []) {
      const publicKey = key.type === 'private' ? createPublicKey(key) : key;
      assertSupportedKey(publicKey, 'trusted key');
      this.trustKey(publicKey);
    }
    if (options.jwks !== undefined) this.loadJwks(options.jwks);
    if (this.byThumbprint.size === 0) throw new Error('token verifier: no trusted key (rootcertbundle, jwks or a trusted key is needed)');
  }

  private trustKey(key: KeyObject): void {
    const thumbprint = jwkThumbprint(key);
    this.byThumbprint.set(thumbprint, key);
    this.byKid.set(thumbprint, key);
    this.byKid.set(libtrustKeyId(key), key);
  }

  private loadJwks(jwks: unknown): void {
    if (!isRecord(jwks) || !Array.isArray(jwks['keys'])) throw new Error('jwks: expected an object with a "keys" list');
    jwks['keys'].forEach((jwk: unknown, i: number) => {
      if (!isRecord(jwk)) throw new Error(`jwks: keys[${i}] is not an object`);
      let key: KeyObject;
      try {
        key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
      } catch (error) {
        throw new Error(`jwks: keys[${i}] is not a usable public key (${(error as Error).message})`);
      }
      assertSupportedKey(key, `jwks: keys[${i}]`);
      const thumbprint = jwkThumbprint(key);
      this.byThumbprint.set(thumbprint, key);
      this.byKid.set(typeof jwk['kid'] === 'string' ? jwk['kid'] : thumbprint, key);
    });
  }

  /** Verifies a bearer token; resolves with its subject and access or throws TokenError. */
  async verify(token: string): Promise<VerifiedToken> {
    if (token.length > this.maxLength) fail('token too long');
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) fail('not a compact JWS');
    const nowSeconds = this.now() / 1000;
    const cacheKey = createHash('sha256').update(token).digest('base64');
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) {
      if (nowSeconds <= cached.expiresAt + this.leeway) return cached;
      this.cache.delete(cacheKey);
    }
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      fail('malformed header');
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || !ALLOWED_ALGORITHMS.has(alg)) fail('algorithm not allowed');
    if (header.typ === REFRESH_TOKEN_TYP) fail('refresh token used as an access token');
    const key = this.selectKey(header, nowSeconds * 1000);
    if (!algorithmFitsKey(alg, key)) fail('algorithm does not match the key');
    let payloadBytes: Uint8Array;
    try {
      ({ payload: payloadBytes } = await compactVerify(token, key, { algorithms: [alg] }));
    } catch {
      fail('bad signature');
    }
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payloadBytes).toString('utf8'));
    } catch {
      fail('claims are not JSON');
    }
    const verified = this.checkClaims(claims, nowSeconds);
    this.remember(cacheKey, verified);
    return verified;
  }

  private selectKey(header: ProtectedHeaderParameters, nowMs: number): KeyObject {
    if (header.x5c !== undefined) {
      const chain = parseX5c(header.x5c);
      if (typeof chain === 'string') fail(chain);
      const leafKey = (chain[0] as X509Certificate).publicKey;
      const reason = checkChain(chain, this.anchors, nowMs);
      if (reason === undefined) return leafKey;
      // A leaf whose key is itself trusted (e.g. a self-signed issuer certificate) needs no chain.
      const direct = this.thumbprintOf(leafKey);
      if (direct !== undefined) return direct;
      fail(reason);
    }
    if (header.jwk !== undefined) {
      const thumbprint = isRecord(header.jwk) ? jwkThumbprintOf(header.jwk) : undefined;
      const key = thumbprint === undefined ? undefined : this.byThumbprint.get(thumbprint);
      if (key === undefined) fail('header jwk is not a trusted key');
      return key;
    }
    if (typeof header.kid === 'string') {
      const key = this.byKid.get(header.kid);
      if (key === undefined) fail('token signed by untrusted key');
      return key;
    }
    fail('no key identification (x5c, jwk or kid) in the header');
  }

  private thumbprintOf(key: KeyObject): KeyObject | undefined {
    try {
      return this.byThumbprint.get(jwkThumbprint(key));
    } catch {
      return undefined;
    }
  }

  private checkClaims(claims: unknown, now: number): VerifiedToken {
    if (!isRecord(claims)) fail('claims are not an object');
    if (claims['iss'] !== this.options.issuer) fail('wrong issuer');
    const aud = claims['aud'];
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!audiences.includes(this.options.service)) fail('wrong audience');
    const exp = claims['exp'];
    if (!isFiniteNumber(exp)) fail('no expiry');
    if (now > exp + this.leeway) fail('token expired');
    const nbf = claims['nbf'];
    if (nbf !== undefined && !isFiniteNumber(nbf)) fail('malformed nbf');
    if (nbf !== undefined && now < nbf - this.leeway) fail('token not yet valid');
    const sub = claims['sub'] ?? '';
    if (typeof sub !== 'string') fail('malformed sub');
    return { subject: sub, access: readAccess(claims['access']), expiresAt: exp };
  }

  private remember(key: string, verified: VerifiedToken): void {
    this.cache.delete(key);
    this.cache.set(key, verified);
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}
