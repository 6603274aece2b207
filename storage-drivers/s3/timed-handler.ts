/**
 * The s3 driver's HTTP handler: the SDK's node handler (connect timeout, socket idle timeout that
 * every chunk sent or received resets) plus two limits the SDK lacks, so a hung backend fails
 * fast while a slow but moving transfer never does:
 *
 * - a response timeout: until the response headers, for small requests only (no body, or a body
 *   up to {@link TIMED_BODY_LIMIT} that is not a stream, and no server-side copy or multipart
 *   completion, which may legitimately keep the server busy). It fails the attempt with a
 *   `TimeoutError`, which the SDK retries and the driver reports as unavailable;
 * - one budget for all attempts of an operation (the SDK's retries are grouped by their
 *   `amz-sdk-invocation-id` header): once used up, the next attempt fails at once with code
 *   `EBUDGET` (not retried), and a timed attempt never waits past it;
 * - connection slots: at most `maxSockets` exchanges at once (the size of the agents' pools,
 *   keep-alive), a slot held until the response body is read or destroyed. The SDK's connect
 *   timeout starts when a request is created, so a request queued in a full agent pool failed
 *   as "could not connect" after 3 s although the backend was fine (a 5 GiB commit's 100
 *   UploadPartCopy requests on a 50-socket pool, each taking ~7 s on a loaded Swift). Requests
 *   now wait for a slot before any timer runs, and reach the agent only when a socket is free.
 */
import type { IncomingMessage } from 'node:http';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpHandlerOptions, NodeHttpHandlerOptions } from '@smithy/types';

type HttpRequest = Parameters<NodeHttpHandler['handle']>[0];
type Handled = ReturnType<NodeHttpHandler['handle']>;

/** Bodies up to this size are sent in well under the response timeout. */
export const TIMED_BODY_LIMIT = 1024 * 1024;

export interface TimedHandlerOptions extends NodeHttpHandlerOptions {
  /** Limit until the response headers of a small request, in milliseconds (0: none). */
  readonly responseTimeoutMs: number;
  /** Total time of one operation over all attempts, in milliseconds (0: none). */
  readonly budgetMs: number;
  /** Exchanges at once (give the agents the same `maxSockets`). */
  readonly slots: number;
}

/** A counting semaphore whose waiters can be aborted. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(count: number) {
    this.#free = Math.max(1, count);
  }

  async acquire(signal: AbortSignal | undefined): Promise<() => void> {
    if (this.#free > 0) {
      this.#free -= 1;
      return this.#releaser();
    }
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.#waiting.indexOf(grant);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal?.reason instanceof Error ? signal.reason : Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));
      };
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiting.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return this.#releaser();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free += 1;
    };
  }
}

function isStream(body: unknown): body is IncomingMessage {
  return typeof body === 'object' && body !== null && typeof (body as { once?: unknown }).once === 'function';
}

function isTimed(request: HttpRequest): boolean {
  const headers = request.headers;
  if (headers['x-amz-copy-source'] !== undefined) return false;
  if (request.method === 'POST' && request.query?.['uploadId'] !== undefined) return false;
  const body: unknown = request.body;
  if (body === undefined || body === null || typeof body === 'string') return true;
  if (body instanceof Uint8Array) return body.byteLength <= TIMED_BODY_LIMIT;
  return false;
}

function timeoutError(message: string, code?: string): Error {
  const error = new Error(message);
  if (code === undefined) error.name = 'TimeoutError';
  else Object.assign(error, { code });
  return error;
}

export class TimedHttpHandler extends NodeHttpHandler {
  readonly #responseTimeoutMs: number;
  readonly #budgetMs: number;
  /** First-attempt start per invocation id (entries expire after the budget). */
  readonly #started = new Map<string, number>();
  readonly #slots: Slots;

  constructor(options: TimedHandlerOptions) {
    const { responseTimeoutMs, budgetMs, slots, ...handlerOptions } = options;
    super(handlerOptions);
    this.#responseTimeoutMs = responseTimeoutMs;
    this.#budgetMs = budgetMs;
    this.#slots = new Slots(slots);
  }

  override async handle(request: HttpRequest, options: HttpHandlerOptions = {}): Handled {
    const release = await this.#slots.acquire(options.abortSignal as AbortSignal | undefined);
    let handled: Awaited<Handled>;
    try {
      handled = await this.#timed(request, options);
    } catch (error) {
      release();
      throw error;
    }
    // The connection is busy until the body is read to the end or destroyed.
    const body: unknown = handled.response.body;
    if (isStream(body) && !body.destroyed && !body.readableEnded) {
      body.once('close', release);
      body.once('end', release);
      body.once('error', release);
    } else {
      release();
    }
    return handled;
  }

  async #timed(request: HttpRequest, options: HttpHandlerOptions): Handled {
    const left = this.#budgetLeft(request);
    if (left <= 0) throw timeoutError(`retry budget of ${this.#budgetMs} ms used up`, 'EBUDGET');
    if (this.#responseTimeoutMs <= 0 || !isTimed(request)) return super.handle(request, options);
    const limit = Math.min(this.#responseTimeoutMs, left);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), limit);
    timer.unref();
    const outer = options.abortSignal as AbortSignal | undefined;
    const signal = outer === undefined ? controller.signal : AbortSignal.any([outer, controller.signal]);
    try {
      return await super.handle(request, { ...options, abortSignal: signal });
    } catch (error) {
      if (controller.signal.aborted && outer?.aborted !== true) {
        throw Object.assign(timeoutError(`no response headers within ${limit} ms`), { cause: error });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #budgetLeft(request: HttpRequest): number {
    if (this.#budgetMs <= 0) return Infinity;
    const id = request.headers['amz-sdk-invocation-id'];
    if (id === undefined) return this.#budgetMs;
    const now = Date.now();
    const first = this.#started.get(id);
    if (first === undefined) {
      this.#started.set(id, now);
      setTimeout(() => this.#started.delete(id), this.#budgetMs + 1000).unref();
      return this.#budgetMs;
    }
    return this.#budgetMs - (now - first);
  }
}
