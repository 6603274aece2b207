/**
 * A blob read from an object store served from pooled buffers: one HTTP/1.1 GET on its own
 * `node:net` connection whose socket reads land directly in the driver's {@link BufferPool}
 * (`onread`, packed by `segments.ts`), offered to the consumer as pooled chunks
 * (`../pooled-chunks.ts`) or as a plain Readable. node's HTTP client would hand over each body
 * chunk as a fresh 64 KiB buffer (external memory that costs young GCs) through its parser and
 * stream layers; here a pull allocates (almost) nothing per chunk.
 *
 * Only the happy path is handled (`head.ts`): when the response is not exactly the bytes asked
 * for with a known length, {@link pooledGet} resolves undefined and the driver reads through its
 * regular client, which maps every status to the right driver error. So do network failures
 * before the response head (the regular client has its retries). Failures that would only repeat
 * are final: no response head within the response timeout (or no connection within the connect
 * timeout) → BackendUnavailableError "no answer within N s"; a head larger than
 * {@link MAX_HEAD_BYTES} → DriverError; the caller's signal → AbortError.
 *
 * Body: exactly Content-Length bytes. A connection that ends early, breaks, or stays silent for
 * the idle timeout while Berth waits on it (the socket reading; not while the consumer is slow
 * and the socket is paused) → BackendUnavailableError; bytes past the length → DriverError. The
 * socket is paused when {@link PooledGetOptions.highWaterBytes} received bytes wait for the
 * consumer and resumed when it takes them. Destroying the stream (or an error, or the signal)
 * closes the connection and returns every buffer not lent out to the pool; lent ones return when
 * released.
 */
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { BackendUnavailableError, DriverError } from '../errors.js';
import { BufferPool, POOLED_CHUNKS, type PooledChunks } from '../pooled-chunks.js';
import { abortError } from '../source.js';
import { happyBodyLength, headEnd, parseResponseHead, rangeHeader, requestHead } from './head.js';
import { SegmentQueue } from './segments.js';

/** Reads shorter than this are not worth a connection of their own: drivers use their keep-alive client. */
export const POOLED_GET_MIN_BYTES = 256 * 1024;
/** Buffer size of a driver's read pool: one socket read fills at most this. */
export const READ_POOL_BUFFER_BYTES = 1024 * 1024;
/** Idle buffers a driver's read pool keeps (8 MiB): one pull in flight, or a few, without allocating. */
export const READ_POOL_IDLE_BUFFERS = 8;

/** The buffer pool a driver keeps for its pooled GETs. */
export function createReadPool(): BufferPool {
  return new BufferPool(READ_POOL_BUFFER_BYTES, READ_POOL_IDLE_BUFFERS);
}

/** Connections a driver's pooled GETs hold at once, by default; further reads use the regular client. */
export const POOLED_GET_MAX_CONNECTIONS = 32;

/**
 * The bound on a driver's pooled-GET connections (each read has its own): a read that finds them
 * all in use goes through the driver's regular client, whose keep-alive pool is bounded and queues.
 */
export class ConnectionLimit {
  #active = 0;

  constructor(readonly max: number = POOLED_GET_MAX_CONNECTIONS) {}

  get active(): number {
    return this.#active;
  }

  /** Takes a connection if one is free; the returned function gives it back (once). */
  tryTake(): (() => void) | undefined {
    if (this.#active >= this.max) return undefined;
    this.#active += 1;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#active -= 1;
    };
  }
}

/** Whether a read of `length` bytes (undefined: to the end) should be a pooled GET. */
export function wantsPooledGet(length: number | undefined): boolean {
  return length === undefined || length >= POOLED_GET_MIN_BYTES;
}

/** Largest response head read; a longer one is an error. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Default bytes waiting for the consumer at which the socket is paused. */
export const DEFAULT_HIGH_WATER_BYTES = 2 * 1024 * 1024;
/** A new pool buffer is started when fewer bytes than this are left in the current one. */
export const MIN_READ_BYTES = 64 * 1024;

export interface PooledGetOptions {
  readonly driverName: string;
  /** How messages name the backend: `Swift`, `the S3 backend`. */
  readonly backend: string;
  /** Buffers of more than {@link MAX_HEAD_BYTES} + {@link MIN_READ_BYTES} bytes. */
  readonly pool: BufferPool;
  /** Until the connection is established, in milliseconds (default: the response timeout). */
  readonly connectTimeoutMs?: number;
  /** From the start until the response head is in (connect and first byte), in milliseconds. */
  readonly responseTimeoutMs: number;
  /** Longest wait for body bytes while the socket reads, in milliseconds. */
  readonly idleTimeoutMs: number;
  /** Received bytes waiting for the consumer at which reading pauses (default 2 MiB). */
  readonly highWaterBytes?: number;
  /** The driver's bound on pooled-GET connections (none: unbounded). */
  readonly connections?: ConnectionLimit;
}

export interface PooledGetRequest {
  /** A plain `http:` URL (path and query are sent as they are). */
  readonly url: URL;
  /** Extra request headers (authentication); no CR/LF. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly offset: number;
  /** Bytes to read from the offset (undefined: to the end). */
  readonly length?: number;
  readonly signal?: AbortSignal;
  /** What this is, for messages: `GET files/a/b`. */
  readonly what: string;
  /** The driver path, for errors. */
  readonly path: string;
}

/**
 * Reads `request` from pooled buffers: resolves with the body stream once the response head says
 * it is the happy path, or undefined when the caller should read through its regular client.
 */
export async function pooledGet(options: PooledGetOptions, request: PooledGetRequest): Promise<Readable | undefined> {
  if (request.url.protocol !== 'http:') return undefined;
  if (request.signal?.aborted === true) throw abortError(request.signal);
  const connection = options.connections === undefined ? () => undefined : options.connections.tryTake();
  if (connection === undefined) return undefined;
  let body: PooledGetBody;
  try {
    body = new PooledGetBody(options, request, connection);
  } catch (error) {
    connection();
    throw error;
  }
  return (await body.opened) ? body : undefined;
}

type Mode = 'pooled' | 'plain' | undefined;

/** A restartable countdown (unref'd: it never keeps the process alive). */
class Countdown {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly ms: number,
    private readonly onFire: () => void,
  ) {}

  run(): void {
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.onFire();
      }, this.ms);
      this.#timer.unref();
    } else {
      this.#timer.refresh();
    }
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}

class PooledGetBody extends Readable {
  /** Resolves true for the happy path, false to fall back; rejects with a final error. */
  readonly opened: Promise<boolean>;
  readonly #options: PooledGetOptions;
  readonly #request: PooledGetRequest;
  readonly #queue: SegmentQueue;
  readonly #socket: Socket;
  readonly #highWater: number;
  readonly #connectTimer: Countdown | undefined;
  readonly #responseTimer: Countdown;
  readonly #idleTimer: Countdown;
  readonly #onAbort: (() => void) | undefined;
  #settleOpen: ((happy: boolean | Error) => void) | undefined;
  /** Body bytes still to come (defined once the head is in). */
  #bodyLeft: number | undefined;
  #headScanned = 0;
  #reading = true;
  #complete = false;
  #error: Error | undefined;
  #mode: Mode;
  /** Plain mode: the Readable wants more. */
  #wanted = false;
  /** Pooled mode: a `next()` waiting for bytes. */
  #waiter: (() => void) | undefined;

  constructor(options: PooledGetOptions, request: PooledGetRequest, connectionClosed: () => void) {
    super({ highWaterMark: 1024 * 1024 });
    this.#options = options;
    this.#request = request;
    this.#highWater = options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
    if (options.pool.bufferBytes < MAX_HEAD_BYTES + MIN_READ_BYTES) throw new RangeError('pooled GET: pool buffers too small for a response head');
    this.#queue = new SegmentQueue(options.pool, MIN_READ_BYTES);
    this.opened = new Promise<boolean>((resolve, reject) => {
      this.#settleOpen = (happy) => {
        this.#settleOpen = undefined;
        if (happy instanceof Error) reject(happy);
        else resolve(happy);
      };
    });
    const unavailable = (phase: string, ms: number) => (): void => {
      this.#fail(new BackendUnavailableError(options.driverName, `${request.what}: no answer from ${options.backend} within ${seconds(ms)}${phase}`, request.path));
    };
    this.#responseTimer = new Countdown(options.responseTimeoutMs, unavailable('', options.responseTimeoutMs));
    this.#idleTimer = new Countdown(options.idleTimeoutMs, unavailable(' (in the middle of the body)', options.idleTimeoutMs));
    this.#connectTimer =
      options.connectTimeoutMs === undefined || options.connectTimeoutMs >= options.responseTimeoutMs
        ? undefined
        : new Countdown(options.connectTimeoutMs, () => {
            this.#fail(new BackendUnavailableError(options.driverName, `${request.what}: no connection to ${options.backend} within ${seconds(options.connectTimeoutMs ?? 0)}`, request.path));
          });
    const head = requestHead(request.url, request.headers ?? {}, rangeHeader(request.offset, request.length));
    const url = request.url;
    this.#socket = connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? 80 : Number(url.port),
      onread: {
        buffer: () => this.#queue.arm(),
        callback: (bytes, into) => this.#onRead(bytes, into as Buffer),
      },
    });
    this.#socket.setNoDelay(true);
    this.#socket.once('connect', () => {
      this.#connectTimer?.stop();
      this.#socket.write(head, 'latin1');
    });
    this.#socket.on('error', (error) => {
      this.#broken(error);
    });
    this.#socket.once('end', () => {
      this.#broken(undefined);
    });
    this.#socket.once('close', () => {
      connectionClosed();
      this.#broken(undefined);
    });
    this.#connectTimer?.run();
    this.#responseTimer.run();
    const signal = request.signal;
    if (signal !== undefined) {
      this.#onAbort = () => {
        this.#fail(abortError(signal));
      };
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /** One socket read; false pauses the socket. */
  #onRead(bytes: number, into: Buffer): boolean {
    if (this.#error !== undefined || this.#complete) return false;
    if (this.#bodyLeft === undefined) {
      this.#queue.filled(into, bytes);
      this.#readHead();
    } else {
      if (bytes > this.#bodyLeft) {
        this.#fail(new DriverError(this.#options.driverName, `${this.#request.what}: the response body is longer than its Content-Length`, this.#request.path));
        return false;
      }
      this.#queue.filled(into, bytes);
      this.#bodyLeft -= bytes;
      if (this.#bodyLeft === 0) this.#finish();
      else this.#idleTimer.run();
    }
    this.#deliver();
    if (this.#error !== undefined || this.#complete) return false;
    if (this.#queue.unconsumed >= this.#highWater && this.#bodyLeft !== undefined) {
      this.#reading = false;
      this.#idleTimer.stop();
      return false;
    }
    return true;
  }

  /** Head phase: parses the head once complete, then continues as body or falls back. */
  #readHead(): void {
    const received = this.#queue.received();
    const end = headEnd(received, this.#headScanned);
    if (end < 0) {
      this.#headScanned = received.length;
      if (received.length > MAX_HEAD_BYTES) {
        this.#fail(new DriverError(this.#options.driverName, `${this.#request.what}: the response head is larger than ${MAX_HEAD_BYTES} bytes`, this.#request.path));
      }
      return;
    }
    if (end > MAX_HEAD_BYTES) {
      this.#fail(new DriverError(this.#options.driverName, `${this.#request.what}: the response head is larger than ${MAX_HEAD_BYTES} bytes`, this.#request.path));
      return;
    }
    const head = parseResponseHead(received.toString('latin1', 0, end - 4));
    const length = head === undefined ? undefined : happyBodyLength(head, this.#request.offset, this.#request.length);
    if (length === undefined) {
      this.#fallBack();
      return;
    }
    this.#responseTimer.stop();
    this.#queue.skip(end);
    const early = received.length - end;
    if (early > length) {
      this.#fail(new DriverError(this.#options.driverName, `${this.#request.what}: the response body is longer than its Content-Length`, this.#request.path));
      return;
    }
    this.#bodyLeft = length - early;
    if (this.#bodyLeft === 0) this.#finish();
    else this.#idleTimer.run();
    this.#settleOpen?.(true);
  }

  /** All body bytes are in: the connection is no longer needed. */
  #finish(): void {
    this.#complete = true;
    this.#idleTimer.stop();
    this.#queue.endWriting();
    this.#closeSocket();
  }

  /** Not the happy path: closes everything; the caller reads through its regular client. */
  #fallBack(): void {
    this.#error = new Error('pooled GET not used');
    this.#teardown();
    this.#settleOpen?.(false);
    this.destroy();
  }

  /** The connection broke or ended (an `error`, `end` or `close` event). */
  #broken(error: Error | undefined): void {
    if (this.#error !== undefined || this.#complete) return;
    if (this.#bodyLeft === undefined) {
      // Before the head: the regular client tries again (and reports what it finds).
      this.#fallBack();
      return;
    }
    const reason = error === undefined ? 'the connection closed before the body was complete' : describe(error);
    this.#fail(new BackendUnavailableError(this.#options.driverName, `${this.#request.what}: ${reason}`, this.#request.path, { cause: error }));
  }

  /**
   * A final failure: everything is closed; the consumer sees `error` (now or when it reads). After
   * the body is complete only the caller's signal gets here (the timers are stopped by then).
   */
  #fail(error: Error): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    this.#teardown();
    if (this.#settleOpen !== undefined) {
      this.#settleOpen(error);
      this.destroy();
      return;
    }
    this.#deliver();
  }

  #teardown(): void {
    this.#connectTimer?.stop();
    this.#responseTimer.stop();
    this.#idleTimer.stop();
    this.#closeSocket();
    this.#queue.close();
  }

  #closeSocket(): void {
    if (!this.#socket.destroyed) this.#socket.destroy();
  }

  /** Hands what is there to the consumer of the current mode. */
  #deliver(): void {
    if (this.#mode === 'pooled') {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter?.();
      return;
    }
    if (this.#mode !== 'plain' || this.destroyed) return;
    if (this.#error !== undefined) {
      this.destroy(this.#error);
      return;
    }
    while (this.#wanted) {
      const chunk = this.#queue.take(false);
      if (chunk === undefined) break;
      this.#wanted = this.push(chunk);
    }
    if (this.#complete && this.#queue.unconsumed === 0) {
      this.push(null);
      return;
    }
    this.#resumeIfDrained();
  }

  /** Reading resumes once the consumer took the waiting bytes. */
  #resumeIfDrained(): void {
    if (this.#reading || this.#complete || this.#error !== undefined) return;
    if (this.#queue.unconsumed >= this.#highWater / 2) return;
    this.#reading = true;
    this.#idleTimer.run();
    this.#socket.resume();
  }

  override _read(): void {
    this.#mode ??= 'plain';
    this.#wanted = true;
    this.#deliver();
  }

  [POOLED_CHUNKS](): PooledChunks {
    if (this.#mode !== undefined) throw new Error('pooled GET: the stream is already being read');
    this.#mode = 'pooled';
    const next = async (): Promise<Buffer | null> => {
      for (;;) {
        const chunk = this.#error === undefined ? this.#queue.take(true) : undefined;
        if (chunk !== undefined) {
          this.#resumeIfDrained();
          return chunk;
        }
        if (this.#error !== undefined) throw this.#error;
        if (this.#complete) return null;
        if (this.destroyed) throw Object.assign(new Error('the reader was closed before the end'), { name: 'AbortError', code: 'ABORT_ERR' });
        await new Promise<void>((resolve) => {
          this.#waiter = resolve;
        });
      }
    };
    return { next, release: (chunk) => this.#queue.release(chunk) };
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#onAbort !== undefined) this.#request.signal?.removeEventListener('abort', this.#onAbort);
    this.#connectTimer?.stop();
    this.#responseTimer.stop();
    this.#idleTimer.stop();
    if (!this.#socket.destroyed) this.#socket.destroy();
    this.#queue.close();
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
    callback(error);
  }
}
