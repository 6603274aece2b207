/**
 * HTTP plumbing of the swift driver, on `node:http`/`node:https` with one keep-alive agent per
 * driver and a bounded pool ({@link createAgents}: connections are reused, at most `maxSockets`
 * open to Swift, further requests wait for a free one). One `send()` bounds every exchange with
 * two limits — the response timeout until the headers arrive (connect + first byte;
 * `responsetimeout`) and then the idle timer between body bytes (`timeout`) — and maps transport
 * failures to driver errors. Request bodies are a buffer, or an async iterable of chunks written
 * with backpressure (a full socket waits for `drain`: nothing piles up in memory); response
 * bodies are Node Readables (no web-stream layer, which costs CPU per chunk).
 *
 * The timer ({@link Watchdog}) measures only time spent waiting on Swift: it runs until the
 * response headers arrive and while a body read is pending, and callers that stream pause it
 * while they wait on their own side (the writer's source, a reader's slow consumer). When it
 * fires the request is aborted and the failure is a {@link BackendUnavailableError} ("no answer
 * within N s"); a stopped server fails at once with "connection refused". An abort by the
 * caller's own signal surfaces as an AbortError. Messages name the operation and object, never
 * a token, key or password (those travel in headers, which are not part of any message).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BackendUnavailableError, DriverError } from '../errors.js';
import { abortError } from '../source.js';

/** The connection pools of one driver (one per scheme). */
export interface Agents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
}

/** Default bound of the connections one driver keeps open to Swift. */
export const DEFAULT_MAX_SOCKETS = 64;

/** Keep-alive agents with at most `maxSockets` connections per host (idle ones: at most 16). */
export function createAgents(maxSockets = DEFAULT_MAX_SOCKETS): Agents {
  const options = { keepAlive: true, maxSockets, maxFreeSockets: Math.min(16, maxSockets), scheduling: 'lifo' as const };
  return { http: new HttpAgent(options), https: new HttpsAgent(options) };
}

/** Used when a caller passes no agents (tools): one shared pool per process. */
let sharedAgents: Agents | undefined;
function defaultAgents(): Agents {
  sharedAgents ??= createAgents();
  return sharedAgents;
}

/** Response headers, looked up by case-insensitive name (`get` answers null when absent). */
export class ResponseHeaders {
  constructor(private readonly raw: IncomingMessage['headers']) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

/** What `send` resolves with: status, headers and the body still to be read. */
export interface SwiftResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ResponseHeaders;
  /** The body as a Node stream (empty for HEAD). */
  readonly body: IncomingMessage;
  /** A response that has no body whatever its Content-Length says (to HEAD; 204, 304). */
  readonly bodyless: boolean;
}

/** An idle timer that calls `onFire` once when it has run for `ms` without a `kick()`. */
export class Watchdog {
  #timer: NodeJS.Timeout | undefined;
  #fired = false;
  #ms: number;

  constructor(
    ms: number,
    private readonly onFire: () => void,
  ) {
    this.#ms = ms;
  }

  /** The current limit, in milliseconds. */
  get ms(): number {
    return this.#ms;
  }

  /** Changes the limit and restarts the countdown (the response phase → the body phase). */
  setLimit(ms: number): void {
    if (this.#fired) return;
    this.pause();
    this.#ms = ms;
    this.start();
  }

  get fired(): boolean {
    return this.#fired;
  }

  /** Whether anyone has started or paused it yet. */
  get touched(): boolean {
    return this.#touched;
  }

  #touched = false;

  /** (Re)starts the countdown. */
  start(): void {
    this.#touched = true;
    if (this.#fired) return;
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#fired = true;
        this.#timer = undefined;
        this.onFire();
      }, this.#ms);
      this.#timer.unref();
    } else {
      this.#timer.refresh();
    }
  }

  /** Activity: the countdown starts over (and runs, if it was paused). */
  kick(): void {
    this.start();
  }

  /** Pauses the countdown (while waiting on something that is not Swift). */
  pause(): void {
    this.#touched = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  stop(): void {
    this.pause();
  }
}

export interface SendSpec {
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A buffer (sent with its Content-Length), or chunks streamed with chunked transfer encoding. */
  readonly body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** The caller's signal: aborting it aborts the request with an AbortError. */
  readonly signal?: AbortSignal;
  /** Idle limit while waiting on Swift between bytes (and for streamed uploads), in milliseconds. */
  readonly timeoutMs: number;
  /**
   * Limit from the start of the request until the response headers (connect and first byte), for
   * requests whose body is not a stream; then `timeoutMs` applies to the body. Default: `timeoutMs`.
   */
  readonly responseTimeoutMs?: number;
  /** What this is, for messages: `PUT files/a/b`. */
  readonly what: string;
  /** The driver path involved, for errors. */
  readonly path?: string;
  /** Receives the watchdog before the request starts (a streamed body pauses it meanwhile). */
  readonly attach?: (watchdog: Watchdog) => void;
  /** The connection pools to use (default: one shared per process). */
  readonly agents?: Agents;
}

/** A response whose body is still to be read (or discarded) under the same watchdog. */
export interface Exchange {
  readonly response: SwiftResponse;
  readonly watchdog: Watchdog;
  /** Maps a failure while reading the body the same way `send` maps request failures. */
  readonly fail: (error: unknown) => unknown;
}

function isStreamed(body: SendSpec['body']): body is AsyncIterable<Uint8Array> {
  return body !== undefined && !(body instanceof Uint8Array);
}

/**
 * Sends one request. Resolves once the response headers are in (any status); rejects with an
 * AbortError (caller's signal), or a BackendUnavailableError (timeout, network). A streamed body
 * is written chunk by chunk, waiting for `drain` whenever the socket is full; if Swift answers
 * before the body is complete (an error), the rest is not sent and the connection is closed.
 */
export async function send(driverName: string, spec: SendSpec): Promise<Exchange> {
  const streamed = isStreamed(spec.body);
  let request: ReturnType<typeof httpRequest> | undefined;
  const watchdog = new Watchdog(streamed ? spec.timeoutMs : (spec.responseTimeoutMs ?? spec.timeoutMs), () => {
    request?.destroy(new Error('timeout'));
  });
  const fail = (error: unknown): unknown => {
    watchdog.stop();
    return transportError(driverName, spec, error, watchdog);
  };
  if (spec.signal?.aborted === true) throw abortError(spec.signal);
  const url = new URL(spec.url);
  const secure = url.protocol === 'https:';
  const agents = spec.agents ?? defaultAgents();
  const headers: OutgoingHttpHeaders = { ...spec.headers };
  const body = spec.body;
  if (body instanceof Uint8Array) headers['content-length'] = String(body.byteLength);
  else if (body === undefined && (spec.method === 'PUT' || spec.method === 'POST') && headers['content-length'] === undefined && headers['Content-Length'] === undefined) {
    headers['content-length'] = '0';
  }
  spec.attach?.(watchdog);
  return new Promise<Exchange>((resolve, reject) => {
    let settled = false;
    let responded = false;
    const onAbort = (): void => {
      request?.destroy(abortError(spec.signal as AbortSignal));
    };
    const finish = (error: unknown, exchange?: Exchange): void => {
      if (settled) return;
      settled = true;
      spec.signal?.removeEventListener('abort', onAbort);
      if (exchange !== undefined) resolve(exchange);
      else reject(fail(error));
    };
    const options = { method: spec.method, headers, agent: secure ? agents.https : agents.http };
    const req = (secure ? httpsRequest : httpRequest)(url, options);
    request = req;
    // The limits count from the moment a connection is assigned: waiting for a free one in the
    // bounded pool is limited apart, so a busy pool is not mistaken for a silent Swift.
    let queued: NodeJS.Timeout | undefined = setTimeout(() => {
      queued = undefined;
      req.destroy(new PoolWaitError(`no free connection to Swift within ${formatSeconds(POOL_WAIT_MS)} (all ${options.agent.maxSockets} in use)`));
    }, POOL_WAIT_MS);
    queued.unref();
    req.once('socket', () => {
      if (queued !== undefined) clearTimeout(queued);
      queued = undefined;
      // A streamed body that already runs the watchdog (or paused it, waiting on its source) keeps control.
      if (!streamed || !watchdog.touched) watchdog.start();
    });
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error) => {
      if (queued !== undefined) clearTimeout(queued);
      finish(error);
    });
    req.on('response', (res: IncomingMessage) => {
      responded = true;
      // Headers are in: from now on the idle limit between body bytes.
      watchdog.setLimit(spec.timeoutMs);
      if (spec.signal !== undefined) {
        // The caller's signal keeps working while the body is read.
        const abortBody = (): void => {
          res.destroy(abortError(spec.signal as AbortSignal));
        };
        spec.signal.addEventListener('abort', abortBody, { once: true });
        res.once('close', () => spec.signal?.removeEventListener('abort', abortBody));
      }
      if (streamed && !req.writableEnded) {
        // Swift answered before the body was complete: this connection cannot be reused.
        res.once('close', () => req.destroy());
      }
      const response: SwiftResponse = {
        status: res.statusCode ?? 0,
        statusText: res.statusMessage ?? '',
        headers: new ResponseHeaders(res.headers),
        body: res,
        bodyless: spec.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304,
      };
      finish(undefined, { response, watchdog, fail });
    });
    if (body === undefined) {
      req.end();
    } else if (body instanceof Uint8Array) {
      req.end(body);
    } else {
      void pump(req, body, () => responded).then(
        () => {
          if (!req.destroyed && !responded) req.end();
        },
        (error: unknown) => {
          // A source error: the request cannot be completed; Swift must not store a short object.
          req.destroy(error instanceof Error ? error : new Error(String(error)));
          finish(error);
        },
      );
    }
  });
}

/** Longest wait for a free connection of the pool before a request fails as unavailable. */
export const POOL_WAIT_MS = 30_000;

/** The pool stayed full for {@link POOL_WAIT_MS}. */
class PoolWaitError extends Error {}

/** Bytes a streamed request body may queue on its socket before the writer waits for `drain`. */
export const QUEUE_BYTES = 1024 * 1024;

/**
 * Writes the chunks to the request; once {@link QUEUE_BYTES} are queued on the socket, waits for
 * `drain` (so memory stays bounded however fast the source is, and the socket never runs dry
 * between two chunks).
 */
async function pump(req: ReturnType<typeof httpRequest>, chunks: AsyncIterable<Uint8Array>, responded: () => boolean): Promise<void> {
  for await (const chunk of chunks) {
    if (req.destroyed || responded()) return;
    if (!req.write(chunk) && req.writableLength >= QUEUE_BYTES) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          req.off('drain', done);
          req.off('close', done);
          resolve();
        };
        req.on('drain', done);
        req.on('close', done);
      });
    }
  }
}

/** The error for a failed exchange (before or while reading the response). */
export function transportError(driverName: string, spec: SendSpec, error: unknown, watchdog?: Watchdog): unknown {
  if (spec.signal?.aborted === true) return abortError(spec.signal);
  if (error instanceof DriverError) return error;
  if (error instanceof PoolWaitError) return new BackendUnavailableError(driverName, `${spec.what}: ${error.message}`, spec.path);
  if (watchdog?.fired === true) {
    return new BackendUnavailableError(
      driverName,
      `${spec.what}: no answer from Swift within ${formatSeconds(watchdog.ms)}`,
      spec.path,
      { cause: error },
    );
  }
  return new BackendUnavailableError(driverName, `${spec.what}: ${describeNetworkError(error)}`, spec.path, {
    cause: error,
  });
}

/** `connect ECONNREFUSED 127.0.0.1:8080`-style text from an error and its nested causes. */
export function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    const text = typeof code === 'string' && !current.message.includes(code) ? `${current.message} (${code})` : current.message;
    if (text !== '' && !parts.includes(text)) parts.push(text);
    current = current.cause;
  }
  return parts.length === 0 ? 'network error' : parts.join(': ');
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** Reads the whole body (small responses only), failing past `maxBytes`. */
export async function readBody(exchange: Exchange, maxBytes: number): Promise<Buffer> {
  const body = exchange.response.body;
  const parts: Buffer[] = [];
  let total = 0;
  try {
    exchange.watchdog.kick();
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      exchange.watchdog.kick();
      total += buf.byteLength;
      if (total > maxBytes) {
        body.destroy();
        throw new RangeError(`response body larger than ${maxBytes} bytes`);
      }
      parts.push(buf);
    }
  } catch (error) {
    if (error instanceof RangeError) {
      exchange.watchdog.stop();
      throw error;
    }
    throw exchange.fail(error);
  }
  exchange.watchdog.stop();
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
}

/** Bodies up to this size are read to the end so the connection can be reused. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * Releases the connection without reading the body. Never throws. A response without a body, or
 * with a small one, is drained, which hands its connection back to the pool (node frees a
 * keep-alive socket only once the response has been read to its end, even when the parser already
 * has every byte); a large one is destroyed with its connection.
 */
export async function discard(exchange: Exchange): Promise<void> {
  exchange.watchdog.stop();
  const { body, bodyless, headers } = exchange.response;
  if (body.destroyed) return;
  const declared = Number(headers.get('content-length') ?? Number.NaN);
  if (bodyless || body.complete || (Number.isFinite(declared) && declared <= DRAIN_LIMIT)) {
    body.on('error', () => undefined);
    body.resume();
    return;
  }
  body.destroy();
}

/** A short, single-line excerpt of an error body (Swift answers with a little HTML). */
export async function errorExcerpt(exchange: Exchange): Promise<string> {
  try {
    const text = (await readBody(exchange, 4096)).toString('utf8');
    return text
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 200);
  } catch {
    return '';
  }
}
