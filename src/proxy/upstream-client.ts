/**
 * HTTP client for one upstream registry, with its authentication: anonymous, Basic (when the
 * upstream challenges with Basic and credentials are configured) and the Bearer token dance
 * (auth.md §4: `GET <realm>?service=…&scope=repository:<name>:pull`, with Basic credentials when
 * configured, else anonymous). Tokens are cached per realm, service and scope until shortly before
 * they expire, fetched once however many requests need them at the same time, and sent up front
 * once the upstream's challenge is known (no 401 round trip per request). Redirects (Docker Hub's
 * blobs live on a CDN) are followed by hand so credentials never go to another origin.
 * Nothing here logs: passwords and tokens never leave this module except in request headers.
 */
import type { UpstreamConfig } from '../config/proxy-schema.js';
import { parseChallenge, type Challenge } from './challenge.js';
import { SingleFlight } from './single-flight.js';

/** The upstream could not be asked (network, timeout) or answered 429/5xx: cached content may be served. */
export class UpstreamUnavailableError extends Error {
  override readonly name = 'UpstreamUnavailableError';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ClientOptions {
  readonly now?: () => number;
  /** Time allowed until the response headers arrive. */
  readonly headersTimeoutMs?: number;
  readonly fetch?: typeof fetch;
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

const MAX_REDIRECTS = 5;
const MAX_TOKEN_RESPONSE = 1024 * 1024;
export const USER_AGENT = 'berth-proxy';

export function isUnavailableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

export class UpstreamClient {
  private readonly now: () => number;
  private readonly headersTimeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly tokenFlights = new SingleFlight<string>();
  /** The upstream's last challenge, so later requests authenticate up front. */
  private challenge: Challenge | undefined;
  private readonly origin: string;

  constructor(
    readonly upstream: UpstreamConfig,
    options: ClientOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.headersTimeoutMs = options.headersTimeoutMs ?? 30_000;
    this.fetchImpl = options.fetch ?? fetch;
    this.origin = new URL(upstream.remoteUrl).origin;
  }

  /**
   * `GET`/`HEAD <remoteurl>/v2/<repo>/<path>` with authentication. Resolves with the final
   * response (any status but 429/5xx); rejects with {@link UpstreamUnavailableError} when the
   * upstream (or its token server) cannot be reached or answers 429/5xx.
   */
  async request(method: 'GET' | 'HEAD', repo: string, path: string, headers: Readonly<Record<string, string>> = {}): Promise<Response> {
    const url = `${this.upstream.remoteUrl}/v2/${repo}/${path}`;
    const scope = `repository:${repo}:pull`;
    let auth = await this.authorizationFor(scope, false);
    let response = await this.send(method, url, { ...headers, ...auth });
    if (response.status === 401) {
      const challenge = parseChallenge(response.headers.get('www-authenticate'));
      await response.body?.cancel().catch(() => undefined);
      if (challenge !== undefined) this.challenge = challenge;
      auth = await this.authorizationFor(scope, true);
      if (auth.authorization === undefined) return response;
      response = await this.send(method, url, { ...headers, ...auth });
    }
    if (isUnavailableStatus(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      throw new UpstreamUnavailableError(`upstream answered ${response.status}`, response.status);
    }
    return response;
  }

  /** The Authorization header for the scope under the known challenge; `renew` drops a cached token. */
  private async authorizationFor(scope: string, renew: boolean): Promise<{ authorization?: string }> {
    const challenge = this.challenge;
    if (challenge === undefined) return {};
    if (challenge.scheme === 'basic') return this.basic() === undefined ? {} : { authorization: `Basic ${this.basic() ?? ''}` };
    const realm = challenge.params['realm'];
    if (realm === undefined) return {};
    const service = challenge.params['service'] ?? '';
    const key = `${realm}\n${service}\n${scope}`;
    if (renew) this.tokens.delete(key);
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expiresAt > this.now()) return { authorization: `Bearer ${cached.token}` };
    const token = await this.tokenFlights.run(key, () => this.fetchToken(key, realm, service, scope));
    return { authorization: `Bearer ${token}` };
  }

  private basic(): string | undefined {
    const { username, password } = this.upstream;
    if (username === undefined || password === undefined) return undefined;
    return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
  }

  private async fetchToken(key: string, realm: string, service: string, scope: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(realm);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw new UpstreamAuthError('the upstream named an unusable token realm');
    }
    if (service !== '') url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    const basic = this.basic();
    if (basic !== undefined && this.upstream.username !== undefined) url.searchParams.set('account', this.upstream.username);
    const sentAt = this.now();
    const response = await this.send('GET', url.toString(), basic === undefined ? {} : { authorization: `Basic ${basic}` });
    if (isUnavailableStatus(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      throw new UpstreamUnavailableError(`upstream token server answered ${response.status}`, response.status);
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new UpstreamAuthError(`upstream token server answered ${response.status}`, response.status);
    }
    const text = await readCapped(response, MAX_TOKEN_RESPONSE);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new UpstreamAuthError('upstream token server sent no JSON');
    }
    const token = typeof body['token'] === 'string' && body['token'] !== '' ? body['token'] : body['access_token'];
    if (typeof token !== 'string' || token === '') throw new UpstreamAuthError('upstream token server sent no token');
    const expiresIn = typeof body['expires_in'] === 'number' && body['expires_in'] > 0 ? Math.max(body['expires_in'], 60) : 60;
    // Measured from when the request was sent, minus a margin: never trust a remote clock.
    const lifetimeMs = expiresIn * 1000;
    this.tokens.set(key, { token, expiresAt: sentAt + lifetimeMs - Math.min(10_000, lifetimeMs / 10) });
    return token;
  }

  /** One exchange, following redirects by hand (Authorization only to the upstream's own origin). */
  private async send(method: 'GET' | 'HEAD', url: string, headers: Readonly<Record<string, string | undefined>>): Promise<Response> {
    let target = url;
    for (let hop = 0; ; hop++) {
      const sameOrigin = new URL(target).origin === this.origin || target === url;
      const sent: Record<string, string> = { 'user-agent': USER_AGENT };
      for (const [k, v] of Object.entries(headers)) if (v !== undefined && (sameOrigin || k.toLowerCase() !== 'authorization')) sent[k] = v;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new Error('no answer in time')), this.headersTimeoutMs);
      let response: Response;
      try {
        response = await this.fetchImpl(target, { method, headers: sent, redirect: 'manual', signal: controller.signal });
      } catch (error) {
        throw new UpstreamUnavailableError(`upstream unreachable: ${describe(error)}`, undefined, { cause: error });
      } finally {
        clearTimeout(timer);
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null && hop < MAX_REDIRECTS) {
        await response.body?.cancel().catch(() => undefined);
        target = new URL(location, target).toString();
        continue;
      }
      return response;
    }
  }
}

/** The upstream refused our credentials or its token server misbehaved (not a reason to serve stale content). */
export class UpstreamAuthError extends Error {
  override readonly name = 'UpstreamAuthError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Reads a small response body, failing past `max` bytes. */
export async function readCapped(response: Response, max: number): Promise<string> {
  return (await readBytesCapped(response, max)).toString('utf8');
}

export async function readBytesCapped(response: Response, max: number): Promise<Buffer> {
  const body = response.body;
  if (body === null) return Buffer.alloc(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new RangeError(`upstream response larger than ${max} bytes`);
    }
    parts.push(value);
  }
  return Buffer.concat(parts);
}

function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${current.message} (${code})` : current.message);
    current = current.cause;
  }
  return parts.join(': ') || 'network error';
}
