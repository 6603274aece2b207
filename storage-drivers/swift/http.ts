/**
 * HTTP plumbing of the swift driver, on Node's `fetch` (undici): one `send()` that bounds every
 * exchange with two limits — the response timeout until the headers arrive (connect + first
 * byte; `responsetimeout`) and then the idle timer between body bytes (`timeout`) — and the
 * mapping of transport failures to driver errors.
 *
 * The timer ({@link Watchdog}) measures only time spent waiting on Swift: it runs until the
 * response headers arrive and while a body read is pending, and callers that stream pause it
 * while they wait on their own side (the writer's source, a reader's slow consumer). When it
 * fires the request is aborted and the failure is a {@link BackendUnavailableError} ("no answer
 * within N s"); a stopped server fails at once with "connection refused". An abort by the
 * caller's own signal surfaces as an AbortError. Messages name the operation and object, never
 * a token, key or password (those travel in headers, which are not part of any message).
 */
import { BackendUnavailableError, DriverError } from '../errors.js';
import { abortError } from '../source.js';

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

  /** (Re)starts the countdown. */
  start(): void {
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
  readonly body?: Uint8Array | ReadableStream<Uint8Array>;
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
}

/** A response whose body is still to be read (or discarded) under the same watchdog. */
export interface Exchange {
  readonly response: Response;
  readonly watchdog: Watchdog;
  /** Maps a failure while reading the body the same way `send` maps request failures. */
  readonly fail: (error: unknown) => unknown;
}

/**
 * Sends one request. Resolves once the response headers are in (any status); rejects with an
 * AbortError (caller's signal), or a BackendUnavailableError (timeout, network).
 */
export async function send(driverName: string, spec: SendSpec): Promise<Exchange> {
  const controller = new AbortController();
  const streamed = spec.body instanceof ReadableStream;
  const watchdog = new Watchdog(streamed ? spec.timeoutMs : (spec.responseTimeoutMs ?? spec.timeoutMs), () => controller.abort());
  const signal = spec.signal === undefined ? controller.signal : AbortSignal.any([spec.signal, controller.signal]);
  const fail = (error: unknown): unknown => {
    watchdog.stop();
    return transportError(driverName, spec, error, watchdog);
  };
  if (spec.signal?.aborted === true) throw abortError(spec.signal);
  spec.attach?.(watchdog);
  watchdog.start();
  const init: RequestInit & { duplex?: 'half' } = {
    method: spec.method,
    headers: { ...spec.headers },
    signal,
    redirect: 'manual',
  };
  if (spec.body !== undefined) {
    init.body = spec.body;
    if (spec.body instanceof ReadableStream) init.duplex = 'half';
  }
  try {
    const response = await fetch(spec.url, init);
    // Headers are in: from now on the idle limit between body bytes.
    watchdog.setLimit(spec.timeoutMs);
    return { response, watchdog, fail };
  } catch (error) {
    throw fail(error);
  }
}

/** The error for a failed exchange (before or while reading the response). */
export function transportError(driverName: string, spec: SendSpec, error: unknown, watchdog?: Watchdog): unknown {
  if (spec.signal?.aborted === true) return abortError(spec.signal);
  if (error instanceof DriverError) return error;
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

/** `connect ECONNREFUSED 127.0.0.1:8080`-style text from fetch's nested causes. */
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
  if (body === null) {
    exchange.watchdog.stop();
    return Buffer.alloc(0);
  }
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      exchange.watchdog.kick();
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new RangeError(`response body larger than ${maxBytes} bytes`);
      }
      parts.push(value);
    }
  } catch (error) {
    if (error instanceof RangeError) {
      exchange.watchdog.stop();
      throw error;
    }
    throw exchange.fail(error);
  } finally {
    reader.releaseLock();
  }
  exchange.watchdog.stop();
  return Buffer.concat(parts, total);
}

/** Releases the connection without reading the body. Never throws. */
export async function discard(exchange: Exchange): Promise<void> {
  exchange.watchdog.stop();
  await exchange.response.body?.cancel().catch(() => undefined);
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
