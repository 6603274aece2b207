/**
 * Delivery to one webhook endpoint: a bounded in-memory queue and one serial sender. Each event
 * is POSTed alone in the distribution envelope; a 2xx/3xx answer delivers it, anything else
 * (status, timeout, connection error) is a failure and the same event is retried — forever, so an
 * endpoint that is down loses nothing while the process runs. After `threshold` consecutive
 * failures the sender waits `backoff`, doubling per further failure up to {@link MAX_BACKOFF_MS}.
 * When the queue is full the oldest waiting event is dropped (counted, and logged at most every
 * {@link DROP_LOG_INTERVAL_MS}). Enqueueing never waits for the network.
 */
import type { Logger } from 'pino';
import type { NotificationEndpointConfig } from '../../config/ops-schema.js';
import type { NotificationMetrics } from '../metrics/metrics.js';
import { BoundedQueue } from './bounded-queue.js';
import { envelopeBody, EVENTS_MEDIA_TYPE, type Envelope } from './envelope.js';

export const MAX_BACKOFF_MS = 5 * 60_000;
export const DROP_LOG_INTERVAL_MS = 10_000;

export type Fetch = typeof fetch;

export interface EndpointOptions {
  readonly logger: Logger;
  readonly metrics: NotificationMetrics;
  readonly queueSize: number;
  readonly fetch: Fetch;
}

export class EndpointSender {
  readonly name: string;
  readonly #config: NotificationEndpointConfig;
  readonly #options: EndpointOptions;
  readonly #queue: BoundedQueue<Envelope>;
  readonly #ignoredTypes: ReadonlySet<string>;
  readonly #ignoredActions: ReadonlySet<string>;
  readonly #stop = new AbortController();
  #current: Envelope | undefined;
  #running: Promise<void> | undefined;
  #failures = 0;
  #dropped = 0;
  #lastDropLog = 0;
  #idle: Array<() => void> = [];

  constructor(config: NotificationEndpointConfig, options: EndpointOptions) {
    this.name = config.name;
    this.#config = config;
    this.#options = options;
    this.#queue = new BoundedQueue(options.queueSize);
    this.#ignoredTypes = new Set(config.ignoredMediaTypes);
    this.#ignoredActions = new Set(config.ignoredActions);
  }

  /** Events waiting, including the one being delivered. */
  get pending(): number {
    return this.#queue.length + (this.#current === undefined ? 0 : 1);
  }

  /** Queues `event` unless the endpoint's filters ignore it; returns at once. */
  enqueue(event: Envelope): void {
    if (this.#stop.signal.aborted) return;
    const mediaType = event.target['mediaType'];
    if (this.#ignoredActions.has(event.action) || (typeof mediaType === 'string' && this.#ignoredTypes.has(mediaType))) {
      this.#options.metrics.event(this.name, 'ignored');
      return;
    }
    const dropped = this.#queue.push(event);
    this.#options.metrics.event(this.name, 'queued');
    if (dropped !== undefined) this.#noteDrop();
    this.#kick();
  }

  /** Starts the sender unless it runs; restarts it if events arrived while it was finishing. */
  #kick(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      if (this.pending > 0 && !this.#stop.signal.aborted) this.#kick();
      else for (const resolve of this.#idle.splice(0)) resolve();
    });
  }

  /** Resolves when nothing is pending (or at once if nothing is). */
  idle(): Promise<void> {
    if (this.#running === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops delivering: aborts the attempt in flight; queued events are discarded. */
  stop(): void {
    this.#stop.abort();
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  #noteDrop(): void {
    this.#dropped += 1;
    this.#options.metrics.event(this.name, 'dropped');
    const now = Date.now();
    if (now - this.#lastDropLog >= DROP_LOG_INTERVAL_MS) {
      this.#options.logger.warn(
        { endpoint: this.name, dropped: this.#dropped, queueSize: this.#queue.capacity },
        'notification queue full: dropped the oldest events',
      );
      this.#lastDropLog = now;
      this.#dropped = 0;
    }
  }

  async #drain(): Promise<void> {
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      this.#current ??= this.#queue.shift();
      const event = this.#current;
      if (event === undefined) return;
      const failure = await this.#send(event);
      if (stop.aborted) return;
      if (failure === undefined) {
        this.#current = undefined;
        if (this.#failures >= this.#config.threshold) this.#options.logger.info({ endpoint: this.name }, 'notification endpoint recovered');
        this.#failures = 0;
        this.#options.metrics.event(this.name, 'delivered');
        continue;
      }
      this.#failures += 1;
      this.#options.metrics.failure(this.name);
      const over = this.#failures - this.#config.threshold;
      if (over === 0) {
        this.#options.logger.warn({ endpoint: this.name, failures: this.#failures, reason: failure }, 'notification endpoint failing; backing off');
      }
      if (over >= 0) await sleep(Math.min(this.#config.backoffMs * 2 ** Math.min(over, 30), Math.max(MAX_BACKOFF_MS, this.#config.backoffMs)), stop);
    }
  }

  /** One attempt; undefined when delivered, else a short reason (status or error class). */
  async #send(event: Envelope): Promise<string | undefined> {
    const headers = new Headers();
    for (const [k, values] of Object.entries(this.#config.headers)) for (const v of values) headers.append(k, v);
    headers.set('Content-Type', EVENTS_MEDIA_TYPE);
    try {
      const response = await this.#options.fetch(this.#config.url, {
        method: 'POST',
        headers,
        body: envelopeBody([event]),
        signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#config.timeoutMs)]),
      });
      await response.body?.cancel().catch(() => undefined);
      return response.status >= 200 && response.status < 400 ? undefined : `status ${response.status}`;
    } catch (error) {
      return error instanceof Error ? error.name : 'Error';
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
