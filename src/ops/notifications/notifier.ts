/**
 * The webhook notifier: a {@link RegistryEvents} sink for `notifications.endpoints`. `emit` stamps
 * the event (id, timestamp, source) once and hands it to every endpoint's queue (endpoint.ts);
 * it never waits for the network and never throws. Events live in memory only: those still queued
 * when the process stops are lost (`close` gives them a grace period first).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { NotificationEndpointConfig } from '../../config/ops-schema.js';
import type { RegistryEvent, RegistryEvents } from '../../core/events.js';
import { noNotificationMetrics, type NotificationMetrics } from '../metrics/metrics.js';
import { EndpointSender, type Fetch } from './endpoint.js';
import { toEnvelope, type EventSource } from './envelope.js';

/** Default per-endpoint queue capacity (events; one event is well under 2 KiB). */
export const DEFAULT_QUEUE_SIZE = 10_000;

export interface NotifierOptions {
  readonly logger: Logger;
  readonly metrics?: NotificationMetrics;
  /** `source.addr` is `hostname:port`. */
  readonly port: number;
  readonly queueSize?: number;
  readonly fetch?: Fetch;
  readonly now?: () => Date;
}

export interface Notifier extends RegistryEvents {
  readonly source: EventSource;
  /** Events waiting per endpoint. */
  pending(): Map<string, number>;
  /** Resolves when every endpoint's queue is empty. */
  idle(): Promise<void>;
  /** Waits up to `graceMs` for the queues to drain, then stops every sender. */
  close(graceMs?: number): Promise<void>;
}

export function createNotifier(endpoints: readonly NotificationEndpointConfig[], options: NotifierOptions): Notifier {
  const metrics = options.metrics ?? noNotificationMetrics;
  const senders = endpoints.map(
    (config) =>
      new EndpointSender(config, {
        logger: options.logger,
        metrics,
        queueSize: options.queueSize ?? DEFAULT_QUEUE_SIZE,
        fetch: options.fetch ?? fetch,
      }),
  );
  const source: EventSource = { addr: `${hostname()}:${options.port}`, instanceID: randomUUID() };
  const now = options.now ?? (() => new Date());
  const pending = (): Map<string, number> => new Map(senders.map((s) => [s.name, s.pending]));
  metrics.setPendingSource(pending);
  let closed = false;
  const idle = async (): Promise<void> => {
    await Promise.all(senders.map((s) => s.idle()));
  };
  return {
    active: senders.length > 0,
    source,
    emit(event: RegistryEvent): void {
      if (closed) return;
      try {
        const envelope = toEnvelope(event, source, now());
        for (const sender of senders) sender.enqueue(envelope);
      } catch (error) {
        options.logger.error({ err: error }, 'notification event could not be queued');
      }
    },
    pending,
    idle,
    async close(graceMs = 0): Promise<void> {
      closed = true;
      if (graceMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
        clearTimeout(timer);
      }
      const left = [...pending().values()].reduce((a, b) => a + b, 0);
      if (left > 0) options.logger.warn({ events: left }, 'stopping with undelivered notification events (lost)');
      for (const sender of senders) sender.stop();
    },
  };
}
