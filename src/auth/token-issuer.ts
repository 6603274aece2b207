/**
 * Signs Berth's tokens with a {@link SigningKey}. Access tokens follow the Docker token spec
 * (auth.md §6.1, §8): header `typ: JWT`, `alg` of the key (ES256 for the generated key, RS256 for
 * RSA), `kid` = libtrust ID and `x5c` when a certificate is available, so distribution 2.8 and 3.x
 * verify them as well as Berth; claims `iss`, `sub` (`""` anonymous), `aud` (one string), `exp`,
 * `nbf`, `iat`, `jti`, `access` (type `repository`/`registry`, never `repository(plugin)`).
 *
 * Refresh tokens (docker's identity tokens) are long-lived JWTs signed by the same key, of a
 * distinct `typ` ({@link REFRESH_TOKEN_TYP}) and audience (`refresh:<service>`), so no verifier
 * takes one for an access token; they carry no access and are bound to the subject and service.
 * Any node holding the key verifies them.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { compactVerify, SignJWT } from 'jose';
import type { Access } from './access.js';
import type { SigningKey } from './signing-key.js';
import { TokenError } from './token-error.js';
import { REFRESH_TOKEN_TYP } from './token-verifier.js';

export const DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS = 365 * 24 * 3600;
const MAX_REFRESH_TOKEN_LENGTH = 16 * 1024;

export interface TokenIssuerOptions {
  readonly key: SigningKey;
  /** `iss` of every token (`auth.token.issuer`). */
  readonly issuer: string;
  /** Clock in milliseconds. */
  readonly now?: () => number;
  readonly refreshTokenLifetimeSeconds?: number;
}

export interface IssueRequest {
  readonly subject: string;
  /** `aud`: the service the token is for. */
  readonly audience: string;
  readonly access: readonly Access[];
  readonly expiresInSeconds: number;
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresIn: number;
  readonly issuedAt: Date;
}

function refreshAudience(service: string): string {
  return `refresh:${service}`;
}

export class TokenIssuer {
  readonly issuer: string;
  private readonly key: SigningKey;
  private readonly now: () => number;
  private readonly refreshLifetime: number;

  constructor(options: TokenIssuerOptions) {
    this.key = options.key;
    this.issuer = options.issuer;
    this.now = options.now ?? Date.now;
    this.refreshLifetime = options.refreshTokenLifetimeSeconds ?? DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS;
  }

  /** The public key verifiers must trust (`TokenVerifier` option `trustedKeys`). */
  get publicKey(): KeyObject {
    return this.key.publicKey;
  }

  /** The certificate chain as PEM (a `rootcertbundle` for other registries), or undefined. */
  get certificatePem(): string | undefined {
    return this.key.certificatePem;
  }

  get keyId(): string {
    return this.key.keyId;
  }

  private header(typ: string): { alg: string; typ: string; kid: string; x5c?: string[] } {
    const header = { alg: this.key.algorithm, typ, kid: this.key.keyId };
    return this.key.certificates.length === 0 ? header : { ...header, x5c: this.key.certificates.map((c) => c.toString('base64')) };
  }

  /** Signs an access token. Access items with no action are left out. */
  async issue(request: IssueRequest): Promise<IssuedToken> {
    const issuedAtMs = this.now();
    const iat = Math.floor(issuedAtMs / 1000);
    const access = request.access
      .filter((a) => a.actions.length > 0)
      .map((a) => ({ type: a.type, name: a.name, actions: [...a.actions] }));
    const claims = {
      iss: this.issuer,
      sub: request.subject,
      aud: request.audience,
      exp: iat + request.expiresInSeconds,
      nbf: iat,
      iat,
      jti: randomBytes(16).toString('base64url'),
      access,
    };
    const token = await new SignJWT(claims).setProtectedHeader(this.header('JWT')).sign(this.key.privateKey);
    return { token, expiresIn: request.expiresInSeconds, issuedAt: new Date(iat * 1000) };
  }

  /** Signs a refresh token for `subject` at `service`. */
  async issueRefreshToken(subject: string, service: string): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    const claims = {
      iss: this.issuer,
      sub: subject,
      aud: refreshAudience(service),
      exp: iat + this.refreshLifetime,
      iat,
      jti: randomBytes(16).toString('base64url'),
    };
    return new SignJWT(claims).setProtectedHeader(this.header(REFRESH_TOKEN_TYP)).sign(this.key.privateKey);
  }

  /** The subject of a refresh token issued by this key for `service`; throws TokenError otherwise. */
  async verifyRefreshToken(token: string, service: string): Promise<{ readonly subject: string }> {
    if (token.length > MAX_REFRESH_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
      throw new TokenError('malformed refresh token');
    }
    let header: { typ?: unknown };
    let payload: Uint8Array;
    try {
      const result = await compactVerify(token, this.key.publicKey, { algorithms: [this.key.algorithm] });
      header = result.protectedHeader;
      payload = result.payload;
    } catch {
      throw new TokenError('refresh token signature invalid');
    }
    if (header.typ !== REFRESH_TOKEN_TYP) throw new TokenError('not a refresh token');
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new TokenError('refresh token claims are not JSON');
    }
    if (claims['iss'] !== this.issuer) throw new TokenError('refresh token of another issuer');
    if (claims['aud'] !== refreshAudience(service)) throw new TokenError('refresh token of another service');
    const exp = claims['exp'];
    if (typeof exp !== 'number' || this.now() / 1000 > exp) throw new TokenError('refresh token expired');
    const sub = claims['sub'];
    if (typeof sub !== 'string' || sub === '') throw new TokenError('refresh token without subject');
    return { subject: sub };
  }
}
