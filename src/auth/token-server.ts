/**
 * The built-in token server (auth.md §4, §8): one path answering GET (Basic credentials optional,
 * `account` ignored, `offline_token=true` asks for a refresh token) and POST (OAuth2 form,
 * `grant_type=password|refresh_token`, `client_id` required, `access_type=offline` asks for a
 * refresh token). Scopes come repeated and/or space-joined. Missing rights are not an error: the
 * token carries what the injected `grant` returns for the requested scopes (possibly nothing).
 *
 * Replies `{token, access_token, expires_in, issued_at[, refresh_token][, scope]}`; failures are
 * JSON `{"details": "…"}` (docker shows it): 401 with a Basic challenge for bad credentials or a bad
 * refresh token, 400 for a malformed request, 413 for a POST body over the limit. Authentication,
 * policy and login rate limiting are injected; this module holds no users and no rules.
 */
import type { IncomingMessage } from 'node:http';
import { Router, type Request, type Response } from 'express';
import type { Access, Principal } from './access.js';
import { MalformedAuthorizationError, parseAuthorization } from './authorization-header.js';
import { basicChallenge, formatScope, parseScopes } from './scope.js';
import { TokenError } from './token-error.js';
import type { TokenIssuer } from './token-issuer.js';

export const DEFAULT_TOKEN_PATH = '/token';
export const DEFAULT_EXPIRES_IN_SECONDS = 3600;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export interface TokenServerLogger {
  error(object: Record<string, unknown>, message: string): void;
  debug?(object: Record<string, unknown>, message: string): void;
}

export interface TokenServerDeps {
  /** `aud` of issued tokens; a request naming another `service` is refused (400). */
  readonly service: string;
  readonly issuer: Pick<TokenIssuer, 'issue' | 'issueRefreshToken' | 'verifyRefreshToken'>;
  /** The principal for valid credentials, undefined for bad ones. */
  readonly authenticate: (user: string, password: string) => Promise<Principal | undefined>;
  /** What `principal` gets of `requested` (intersection; anonymous has subject ""). */
  readonly grant: (principal: Principal, requested: readonly Access[]) => Promise<readonly Access[]>;
  readonly path?: string;
  /** Access token lifetime (default 3600: imgadm never refreshes and needs ≥ 3600). */
  readonly expiresInSeconds?: number;
  /** Realm of the Basic challenge on 401 (default: the service). */
  readonly realm?: string;
  /** Hand out refresh tokens when asked (default true). */
  readonly issueRefreshTokens?: boolean;
  /** Re-checks the subject of a refresh token (e.g. the user still exists); undefined refuses. */
  readonly resolveSubject?: (subject: string) => Promise<Principal | undefined>;
  /** Before a credential check; throw (e.g. RegistryError TOOMANYREQUESTS with Retry-After) to refuse. */
  readonly checkLogin?: (user: string, req: IncomingMessage) => Promise<void> | void;
  readonly onFailedLogin?: (user: string, req: IncomingMessage) => Promise<void> | void;
  readonly onSuccessfulLogin?: (user: string, req: IncomingMessage) => Promise<void> | void;
  readonly maxBodyBytes?: number;
  readonly logger?: TokenServerLogger;
}

/** A refusal with its status; `headers` e.g. the Basic challenge. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

interface ErrorWithStatus {
  readonly status: number;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

function hasStatus(error: unknown): error is ErrorWithStatus {
  const status = (error as { status?: unknown } | null)?.status;
  return error instanceof Error && typeof status === 'number' && status >= 400 && status < 600;
}

function sendJson(res: Response, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  res.status(status);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.json(body);
}

/** Reads an urlencoded POST body up to `limit` bytes. */
async function readForm(req: Request, limit: number): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new Refusal(400, 'expected an application/x-www-form-urlencoded body');
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new Refusal(413, 'request body too large');
  // Events rather than async iteration: leaving a for-await early would destroy the socket before
  // the 413 is written.
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(new Refusal(413, 'request body too large'));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
  return new URLSearchParams(text);
}

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An express Router serving GET and POST on the token path. */
export function createTokenRouter(deps: TokenServerDeps): Router {
  const path = deps.path ?? DEFAULT_TOKEN_PATH;
  const expiresIn = deps.expiresInSeconds ?? DEFAULT_EXPIRES_IN_SECONDS;
  const maxBody = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const issueRefresh = deps.issueRefreshTokens ?? true;
  const challenge = { 'WWW-Authenticate': basicChallenge(deps.realm ?? deps.service) };
  const anonymous: Principal = { subject: '' };

  const badCredentials = (): Refusal => new Refusal(401, 'invalid username or password', challenge);

  const checkService = (params: URLSearchParams): void => {
    const service = params.get('service');
    if (service !== null && service !== deps.service) throw new Refusal(400, 'unknown service');
  };

  const login = async (user: string, password: string, req: IncomingMessage): Promise<Principal> => {
    await deps.checkLogin?.(user, req);
    const principal = await deps.authenticate(user, password);
    if (principal === undefined) {
      await deps.onFailedLogin?.(user, req);
      throw badCredentials();
    }
    await deps.onSuccessfulLogin?.(user, req);
    return principal;
  };

  const reply = async (res: Response, principal: Principal, params: URLSearchParams, refresh: boolean, withScope: boolean): Promise<void> => {
    const requested = parseScopes(params.getAll('scope'));
    const granted = requested.length === 0 ? [] : await deps.grant(principal, requested);
    const issued = await deps.issuer.issue({ subject: principal.subject, audience: deps.service, access: granted, expiresInSeconds: expiresIn });
    const body: Record<string, unknown> = {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: rfc3339(issued.issuedAt),
    };
    if (refresh && issueRefresh && principal.subject !== '') {
      body['refresh_token'] = await deps.issuer.issueRefreshToken(principal.subject, deps.service);
    }
    if (withScope) body['scope'] = formatScope(granted.filter((a) => a.actions.length > 0));
    sendJson(res, 200, body);
  };

  const fail = (res: Response, error: unknown): void => {
    if (error instanceof Refusal) {
      sendJson(res, error.status, { details: error.message }, error.headers);
      return;
    }
    if (hasStatus(error)) {
      // A hook's refusal (e.g. a RegistryError TOOMANYREQUESTS): keep its status and headers.
      sendJson(res, error.status, { details: error.message }, error.headers ?? {});
      return;
    }
    deps.logger?.error({ err: error }, 'token request failed');
    sendJson(res, 500, { details: 'internal error' });
  };

  const router = Router();

  router.get(path, async (req: Request, res: Response) => {
    try {
      const params = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
      checkService(params);
      let header: ReturnType<typeof parseAuthorization>;
      try {
        header = parseAuthorization(req.headers.authorization);
      } catch (error) {
        if (error instanceof MalformedAuthorizationError) throw badCredentials();
        throw error;
      }
      if (header !== undefined && header.scheme !== 'basic') throw badCredentials();
      const principal = header === undefined ? anonymous : await login(header.user, header.password, req);
      await reply(res, principal, params, params.get('offline_token') === 'true', false);
    } catch (error) {
      fail(res, error);
    }
  });

  router.post(path, async (req: Request, res: Response) => {
    try {
      const form = await readForm(req, maxBody);
      checkService(form);
      const clientId = form.get('client_id');
      if (clientId === null || clientId === '') throw new Refusal(400, 'client_id is required');
      const grantType = form.get('grant_type');
      if (grantType === 'password') {
        const user = form.get('username');
        const password = form.get('password');
        if (user === null || user === '' || password === null) throw new Refusal(400, 'username and password are required');
        const principal = await login(user, password, req);
        await reply(res, principal, form, form.get('access_type') === 'offline', true);
        return;
      }
      if (grantType === 'refresh_token') {
        const refreshToken = form.get('refresh_token');
        if (refreshToken === null || refreshToken === '') throw new Refusal(400, 'refresh_token is required');
        let subject: string;
        try {
          ({ subject } = await deps.issuer.verifyRefreshToken(refreshToken, deps.service));
        } catch (error) {
          if (error instanceof TokenError) {
            deps.logger?.debug?.({ reason: error.message }, 'refresh token refused');
            throw new Refusal(401, 'invalid refresh token', challenge);
          }
          throw error;
        }
        const principal = deps.resolveSubject === undefined ? { subject } : await deps.resolveSubject(subject);
        if (principal === undefined) throw new Refusal(401, 'invalid refresh token', challenge);
        await reply(res, principal, form, false, true);
        return;
      }
      throw new Refusal(400, 'unsupported grant_type');
    } catch (error) {
      if (!req.complete) {
        res.setHeader('Connection', 'close');
        req.resume();
      }
      fail(res, error);
    }
  });

  router.all(path, (_req: Request, res: Response) => {
    sendJson(res, 405, { details: 'method not allowed' }, { Allow: 'GET, POST' });
  });

  return router;
}
