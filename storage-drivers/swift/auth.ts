/**
 * Authentication for the swift driver: a storage URL and a token, obtained once, cached, and
 * renewed when Swift rejects the token (401) or shortly before it expires.
 *
 * - v1 (tempauth, swauth, most "auth/v1.0" endpoints): `GET authurl` with `X-Auth-User` and
 *   `X-Auth-Key`; the answer carries `X-Storage-Url` and `X-Auth-Token` (and optionally
 *   `X-Auth-Token-Expires`, seconds).
 * - v3 (Keystone): `POST <authurl>/auth/tokens` with password authentication (user by name in a
 *   domain, or user id), scoped to a project (by id, or by name in the user's domain) or to a trust;
 *   the token is the `X-Subject-Token` header, and the storage URL is the catalog's `object-store`
 *   endpoint with the configured interface (`endpointtype`, default public) and `region`.
 *
 * Concurrent callers share one login (single flight). Sessions may be shared between driver
 * instances through a {@link TokenCache} (the test suite creates a driver per case; a process
 * with several drivers on one account can do the same). Error messages name the auth URL and the
 * user, never the password or a token.
 */
import { createHash } from 'node:crypto';
import { BackendUnavailableError, DriverError } from '../errors.js';
import { discard, errorExcerpt, readBody, send, type Agents, type Exchange } from './http.js';

/** What requests need: where the account is and the token to show. */
export interface SwiftSession {
  readonly storageUrl: string;
  readonly token: string;
  /** Epoch milliseconds after which the token should not be used, when known. */
  readonly expiresAt?: number;
}

export interface AuthConfig {
  readonly authurl: string;
  readonly username: string;
  readonly password: string;
  readonly version: 1 | 3;
  readonly region?: string | undefined;
  readonly tenant?: string | undefined;
  readonly tenantid?: string | undefined;
  readonly domain?: string | undefined;
  readonly domainid?: string | undefined;
  readonly trustid?: string | undefined;
  readonly endpointtype: 'public' | 'internal' | 'admin';
  /** Idle limit of each auth request, in milliseconds. */
  readonly timeoutMs: number;
  /** Limit until the response headers of each auth request (default: timeoutMs). */
  readonly responseTimeoutMs?: number;
  /** Connection pools shared with the object requests (not part of the cache key). */
  readonly agents?: Agents;
}

/** Where sessions are kept; a plain `Map` will do. Keys are digests of the auth config. */
export interface TokenCache {
  get(key: string): SwiftSession | undefined;
  set(key: string, session: SwiftSession): unknown;
  delete(key: string): unknown;
}

/** Renew a token this long before its announced expiry. */
const EXPIRY_MARGIN_MS = 60_000;
/** Largest auth response body read (a Keystone catalog). */
const MAX_AUTH_BODY = 4 * 1024 * 1024;

export class SwiftAuth {
  readonly #key: string;
  #pending: Promise<SwiftSession> | undefined;
  #logins = 0;

  constructor(
    private readonly driverName: string,
    private readonly config: AuthConfig,
    private readonly cache: TokenCache = new Map<string, SwiftSession>(),
  ) {
    this.#key = createHash('sha256').update(JSON.stringify({ ...config, timeoutMs: 0, responseTimeoutMs: 0, agents: undefined })).digest('hex');
  }

  /** How many logins this instance made (for tests and metrics). */
  get logins(): number {
    return this.#logins;
  }

  /** A usable session: the cached one, or a fresh login (shared by concurrent callers). */
  async session(): Promise<SwiftSession> {
    const cached = this.cache.get(this.#key);
    if (cached !== undefined && (cached.expiresAt === undefined || cached.expiresAt - EXPIRY_MARGIN_MS > Date.now())) {
      return cached;
    }
    if (this.#pending === undefined) {
      this.#pending = this.login().then(
        (session) => {
          this.#pending = undefined;
          this.cache.set(this.#key, session);
          return session;
        },
        (error: unknown) => {
          this.#pending = undefined;
          throw error;
        },
      );
    }
    return this.#pending;
  }

  /** Forgets `token` (Swift answered 401 to it), unless a newer one has replaced it already. */
  invalidate(token: string): void {
    if (this.cache.get(this.#key)?.token === token) this.cache.delete(this.#key);
  }

  private async login(): Promise<SwiftSession> {
    this.#logins += 1;
    return this.config.version === 3 ? this.loginV3() : this.loginV1();
  }

  private async loginV1(): Promise<SwiftSession> {
    const { authurl, username, password } = this.config;
    const exchange = await this.request('GET', authurl, { 'X-Auth-User': username, 'X-Auth-Key': password });
    const { response } = exchange;
    if (response.status < 200 || response.status > 299) throw await this.failure(exchange);
    await discard(exchange);
    const storageUrl = response.headers.get('x-storage-url');
    const token = response.headers.get('x-auth-token') ?? response.headers.get('x-storage-token');
    if (storageUrl === null || token === null || storageUrl === '' || token === '') {
      throw new DriverError(this.driverName, `swift auth (v1 at ${authurl}): the answer has no X-Storage-Url or X-Auth-Token`);
    }
    const expiresIn = Number(response.headers.get('x-auth-token-expires') ?? Number.NaN);
    return {
      storageUrl: storageUrl.replace(/\/+$/, ''),
      token,
      ...(Number.isFinite(expiresIn) && expiresIn > 0 ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
    };
  }

  private async loginV3(): Promise<SwiftSession> {
    const { authurl, endpointtype, region } = this.config;
    const url = `${authurl.replace(/\/+$/, '')}/auth/tokens`;
    const body = Buffer.from(JSON.stringify(this.v3Request()));
    const exchange = await this.request('POST', url, { 'Content-Type': 'application/json', Accept: 'application/json' }, body);
    const { response } = exchange;
    if (response.status < 200 || response.status > 299) throw await this.failure(exchange);
    const token = response.headers.get('x-subject-token');
    let parsed: unknown;
    try {
      parsed = JSON.parse((await readBody(exchange, MAX_AUTH_BODY)).toString('utf8'));
    } catch (error) {
      if (error instanceof DriverError) throw error;
      throw new DriverError(this.driverName, `swift auth (v3 at ${authurl}): the answer is not the expected JSON`, undefined, {
        cause: error,
      });
    }
    if (token === null || token === '') {
      throw new DriverError(this.driverName, `swift auth (v3 at ${authurl}): the answer has no X-Subject-Token`);
    }
    const tokenBody = (parsed as { token?: V3Token } | null)?.token;
    const storageUrl = findObjectStore(tokenBody?.catalog, endpointtype, region);
    if (storageUrl === undefined) {
      const where = region === undefined ? '' : ` in region ${region}`;
      throw new DriverError(
        this.driverName,
        `swift auth (v3 at ${authurl}): the token's catalog has no object-store ${endpointtype} endpoint${where}` +
          (this.config.tenant === undefined && this.config.tenantid === undefined && this.config.trustid === undefined
            ? ' (set tenant or tenantid to scope the token to a project)'
            : ''),
      );
    }
    const expiresAt = tokenBody?.expires_at === undefined ? Number.NaN : Date.parse(tokenBody.expires_at);
    return { storageUrl: storageUrl.replace(/\/+$/, ''), token, ...(Number.isFinite(expiresAt) ? { expiresAt } : {}) };
  }

  /** The body of `POST /v3/auth/tokens` (password method, project or trust scope). */
  private v3Request(): unknown {
    const { username, password, domain, domainid, tenant, tenantid, trustid } = this.config;
    const userDomain = domainid !== undefined ? { id: domainid } : domain !== undefined ? { name: domain } : { id: 'default' };
    const user = { name: username, password, domain: userDomain };
    let scope: unknown;
    if (trustid !== undefined) scope = { 'OS-TRUST:trust': { id: trustid } };
    else if (tenantid !== undefined) scope = { project: { id: tenantid } };
    else if (tenant !== undefined) scope = { project: { name: tenant, domain: userDomain } };
    return {
      auth: {
        identity: { methods: ['password'], password: { user } },
        ...(scope === undefined ? {} : { scope }),
      },
    };
  }

  private request(method: string, url: string, headers: Record<string, string>, body?: Uint8Array): Promise<Exchange> {
    return send(this.driverName, {
      method,
      url,
      headers,
      ...(body === undefined ? {} : { body }),
      timeoutMs: this.config.timeoutMs,
      ...(this.config.responseTimeoutMs === undefined ? {} : { responseTimeoutMs: this.config.responseTimeoutMs }),
      ...(this.config.agents === undefined ? {} : { agents: this.config.agents }),
      what: `swift auth (v${this.config.version} at ${this.config.authurl})`,
    });
  }

  private async failure(exchange: Exchange): Promise<DriverError> {
    const { status, statusText } = exchange.response;
    const excerpt = await errorExcerpt(exchange);
    const where = `swift auth (v${this.config.version} at ${this.config.authurl})`;
    const detail = `${status} ${statusText}${excerpt === '' ? '' : `: ${excerpt}`}`;
    if (status >= 500) return new BackendUnavailableError(this.driverName, `${where}: ${detail}`);
    if (status === 401 || status === 403) {
      return new DriverError(
        this.driverName,
        `${where}: the credentials of user ${JSON.stringify(this.config.username)} were rejected (${detail})`,
      );
    }
    return new DriverError(this.driverName, `${where}: unexpected answer ${detail}`);
  }
}

interface V3Endpoint {
  readonly interface?: string;
  readonly region?: string;
  readonly region_id?: string;
  readonly url?: string;
}

interface V3Token {
  readonly expires_at?: string;
  readonly catalog?: ReadonlyArray<{ readonly type?: string; readonly endpoints?: readonly V3Endpoint[] }>;
}

/** The URL of the first object-store endpoint with that interface (and region, when given). */
function findObjectStore(
  catalog: V3Token['catalog'],
  endpointType: string,
  region: string | undefined,
): string | undefined {
  for (const service of catalog ?? []) {
    if (service.type !== 'object-store') continue;
    for (const endpoint of service.endpoints ?? []) {
      if (endpoint.interface !== endpointType || typeof endpoint.url !== 'string') continue;
      if (region !== undefined && endpoint.region !== region && endpoint.region_id !== region) continue;
      return endpoint.url;
    }
  }
  return undefined;
}
