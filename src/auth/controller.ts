/**
 * The access controller used whenever an `auth` backend is configured: ONE implementation of the
 * {@link AccessController} contract for Basic (htpasswd), Bearer (Berth's token server or an
 * external one) and v1 `Token` credentials, so v2, v1, SmartOS, IMGAPI and Berth's own API decide
 * alike.
 *
 * For each request: the Authorization header is parsed (malformed → 401); Basic credentials are
 * checked against the htpasswd store (a wrong password is throttled per user and address before
 * bcrypt runs, and counted after); a Bearer token is verified and its `access` claim must cover
 * what the request needs (else 401 `insufficient_scope`, as distribution); a v1 session token
 * names the user it was issued to. Principals from Basic and v1 credentials, and anonymous
 * callers, are then checked against the access policy: an anonymous caller without the rights
 * gets 401 with the challenge, a signed-in user without them 403 DENIED. `GET /v2/` (nothing
 * required) answers 401 to anonymous callers, so `docker login` really checks the password. Reads
 * and writes are then counted against the caller's rate-limit budget (429 with Retry-After).
 *
 * The challenge is one scheme only (docker and containers/image cannot cope with two): `Basic`
 * in basic mode, `Bearer realm,service,scope` when a token server is in use.
 */
import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../errors/registry-error.js';
import type { Access, AccessController, Action, Principal } from './access.js';
import { isAnonymousBasic, MalformedAuthorizationError, parseAuthorization, type AuthorizationHeader } from './authorization-header.js';
import type { HtpasswdStore } from './htpasswd.js';
import type { Policy } from './policy.js';
import type { RateLimiter, TakeResult } from './rate-limit.js';
import { basicChallenge, bearerChallenge } from './scope.js';
import { TokenError } from './token-error.js';
import type { TokenVerifier, VerifiedToken } from './token-verifier.js';
import type { V1Tokens } from './v1-tokens.js';

export type Challenge =
  | { readonly scheme: 'basic'; readonly realm: string }
  | { readonly scheme: 'bearer'; readonly realm: (req: IncomingMessage) => string; readonly service: string };

export interface ControllerDeps {
  readonly challenge: Challenge;
  readonly policy: Policy;
  readonly limiter: RateLimiter;
  /** Basic credentials are accepted when present. */
  readonly htpasswd?: HtpasswdStore;
  /** Bearer tokens are accepted when present. */
  readonly verifier?: TokenVerifier;
  readonly v1Tokens?: V1Tokens;
}

const ANONYMOUS: Principal = { subject: '' };

function covers(token: VerifiedToken, required: readonly Access[]): boolean {
  return required.every((need) =>
    need.actions.every((action) =>
      token.access.some((a) => a.type === need.type && a.name === need.name && (a.actions.includes(action) || a.actions.includes('*'))),
    ),
  );
}

function kindOf(req: IncomingMessage): 'read' | 'write' {
  return req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write';
}

export class AuthController implements AccessController {
  readonly signIn?: (req: IncomingMessage, user: string, password: string) => Promise<Principal | undefined>;
  readonly knows?: (subject: string) => Promise<boolean>;

  constructor(private readonly deps: ControllerDeps) {
    const store = deps.htpasswd;
    if (store !== undefined) {
      this.signIn = async (req, user, password) => {
        try {
          return await this.checkBasic(req, user, password, []);
        } catch (error) {
          if (error instanceof RegistryError && error.code === 'UNAUTHORIZED') return undefined;
          throw error;
        }
      };
      this.knows = (subject) => store.has(subject);
    }
  }

  async authorize(req: IncomingMessage, required: readonly Access[]): Promise<Principal> {
    const header = this.header(req, required);
    let principal: Principal;
    if (header === undefined) {
      principal = ANONYMOUS;
      if (required.length === 0 || !this.deps.policy.anonymousAllowed(required)) throw this.unauthorized(req, required);
    } else if (header.scheme === 'bearer') {
      const token = await this.verifyBearer(req, header.token, required);
      if (!covers(token, required)) throw this.unauthorized(req, required, 'insufficient_scope');
      principal = { subject: token.subject };
    } else {
      principal = header.scheme === 'basic' ? await this.checkBasic(req, header.user, header.password, required) : this.checkV1Token(req, header.fields, required);
      if (!this.deps.policy.allows(principal, required)) {
        throw new RegistryError('DENIED', { detail: required.map((a) => ({ Type: a.type, Name: a.name, Action: a.actions.join(',') })) });
      }
    }
    this.count(req, principal);
    return principal;
  }

  async identify(req: IncomingMessage): Promise<Principal> {
    const header = this.header(req, []);
    let principal = ANONYMOUS;
    if (header?.scheme === 'bearer') principal = { subject: (await this.verifyBearer(req, header.token, [])).subject };
    else if (header?.scheme === 'basic') principal = await this.checkBasic(req, header.user, header.password, []);
    else if (header?.scheme === 'token') principal = this.checkV1Token(req, header.fields, []);
    this.count(req, principal);
    return principal;
  }

  canPull(principal: Principal, name: string): Promise<boolean> {
    return Promise.resolve(this.deps.policy.canPull(principal, name));
  }

  allows(principal: Principal, required: readonly Access[]): Promise<boolean> {
    return Promise.resolve(this.deps.policy.allows(principal, required));
  }

  v1Token(principal: Principal, repository: string, access: 'read' | 'write' | 'delete'): string | undefined {
    return this.deps.v1Tokens?.issue(principal.subject, repository, access);
  }

  /** The parsed header; a malformed one, or a scheme this mode does not take, is a 401. */
  private header(req: IncomingMessage, required: readonly Access[]): AuthorizationHeader | undefined {
    let header: AuthorizationHeader | undefined;
    try {
      header = parseAuthorization(req.headers.authorization);
    } catch (error) {
      if (error instanceof MalformedAuthorizationError) throw this.unauthorized(req, required, 'invalid_token', 'malformed Authorization header');
      throw error;
    }
    const value = req.headers.authorization;
    if (header === undefined && value !== undefined && !isAnonymousBasic(value)) throw this.unauthorized(req, required, 'invalid_token', 'unsupported authorization scheme');
    if (header?.scheme === 'basic' && this.deps.htpasswd === undefined) throw this.unauthorized(req, required);
    if (header?.scheme === 'bearer' && this.deps.verifier === undefined) throw this.unauthorized(req, required);
    return header;
  }

  private async verifyBearer(req: IncomingMessage, token: string, required: readonly Access[]): Promise<VerifiedToken> {
    try {
      return await (this.deps.verifier as TokenVerifier).verify(token);
    } catch (error) {
      if (error instanceof TokenError) throw this.unauthorized(req, required, 'invalid_token', 'invalid or expired token');
      throw error;
    }
  }

  private async checkBasic(req: IncomingMessage, user: string, password: string, required: readonly Access[]): Promise<Principal> {
    const { limiter } = this.deps;
    // Failed-login keys only when that budget exists: the cached-credential path stays cheap.
    const keys = limiter.limited('failedLogin') ? limiter.failedLoginKeys(user, limiter.clientAddress(req)) : undefined;
    if (keys !== undefined) refuseIfOver(limiter.peek('failedLogin', keys), 'too many failed logins; retry later');
    if (await (this.deps.htpasswd as HtpasswdStore).verify(user, password)) return { subject: user };
    if (keys !== undefined) limiter.take('failedLogin', keys);
    throw this.unauthorized(req, required, 'invalid_token', 'invalid username or password');
  }

  private checkV1Token(req: IncomingMessage, fields: Readonly<Record<string, string>>, required: readonly Access[]): Principal {
    const subject = this.deps.v1Tokens?.verify(fields);
    if (subject === undefined) throw this.unauthorized(req, required, 'invalid_token', 'invalid or expired session token');
    return { subject };
  }

  private count(req: IncomingMessage, principal: Principal): void {
    const { limiter } = this.deps;
    const kind = kindOf(req);
    if (!limiter.limited(kind)) return;
    refuseIfOver(limiter.take(kind, limiter.keyFor(principal.subject === '' ? undefined : principal, limiter.clientAddress(req))), 'rate limit exceeded; retry later');
  }

  private unauthorized(
    req: IncomingMessage,
    required: readonly Access[],
    error?: 'invalid_token' | 'insufficient_scope',
    message?: string,
  ): RegistryError {
    const { challenge } = this.deps;
    const header =
      challenge.scheme === 'basic'
        ? basicChallenge(challenge.realm)
        : bearerChallenge({
            realm: challenge.realm(req),
            service: challenge.service,
            ...(required.length > 0 ? { scope: required } : {}),
            ...(error !== undefined ? { error } : {}),
          });
    return new RegistryError('UNAUTHORIZED', {
      ...(message !== undefined ? { message } : {}),
      detail: required.length === 0 ? null : required.flatMap((a) => a.actions.map((action: Action) => ({ Type: a.type, Class: '', Name: a.name, Action: action }))),
      headers: { 'WWW-Authenticate': header },
    });
  }
}

function refuseIfOver(result: TakeResult, message: string): void {
  if (result.ok) return;
  throw new RegistryError('TOOMANYREQUESTS', { message, headers: { 'Retry-After': String(result.retryAfterSeconds) } });
}
