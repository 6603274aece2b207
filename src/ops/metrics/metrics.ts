/**
 * Berth's Prometheus instruments, registered on an injected prom-client `Registry` (never the
 * global default one). Labels are fixed small sets — route templates, methods, statuses, driver
 * operations, configured endpoint names — never a repository name or a credential. The
 * per-request parts (`http.ts`, `storage-driver.ts`) look up pre-built label children so the hot
 * path does not build label objects.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { CacheHooks } from '../../core/manifest-cache.js';

export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
export const STORAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const GC_BUCKETS = [1, 5, 15, 60, 300, 900, 3600, 10_800];

/** What the GC calls after each run (offline or online). */
export interface GcRun {
  readonly durationMs: number;
  readonly bytesFreed: number;
  readonly blobsDeleted: number;
}

export interface GcMetrics {
  observeRun(run: GcRun): void;
}

export const noGcMetrics: GcMetrics = { observeRun: () => undefined };

/** What webhook delivery reports; results are counted per configured endpoint name. */
export type NotificationResult = 'queued' | 'delivered' | 'dropped' | 'ignored';

export interface NotificationMetrics {
  event(endpoint: string, result: NotificationResult): void;
  /** A failed delivery attempt (the event stays queued and is retried). */
  failure(endpoint: string): void;
  /** Where the pending gauge reads its values at scrape time. */
  setPendingSource(source: () => Iterable<readonly [string, number]>): void;
}

export const noNotificationMetrics: NotificationMetrics = {
  event: () => undefined,
  failure: () => undefined,
  setPendingSource: () => undefined,
};

export interface BerthMetrics {
  readonly register: Registry;
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly requestDuration: Histogram<'route' | 'method'>;
  readonly receivedBytes: Counter<'route'>;
  readonly sentBytes: Counter<'route'>;
  readonly uploadsInProgress: Gauge;
  readonly storageDuration: Histogram<'driver' | 'operation'>;
  readonly storageErrors: Counter<'driver' | 'operation' | 'error'>;
  readonly manifestCache: CacheHooks;
  readonly gc: GcMetrics;
  readonly notifications: NotificationMetrics;
}

/** Registers Node's process metrics (`process_*`, `nodejs_*`) on `register`; call once per registry. */
export function collectProcessMetrics(register: Registry): void {
  collectDefaultMetrics({ register });
}

export function createMetrics(register: Registry): BerthMetrics {
  const registers = [register];
  const requests = new Counter({
    name: 'berth_http_requests_total',
    help: 'HTTP requests by route template, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: 'berth_http_request_duration_seconds',
    help: 'Time from request start until the response is finished, by route template and method',
    labelNames: ['route', 'method'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const receivedBytes = new Counter({
    name: 'berth_http_received_bytes_total',
    help: 'Bytes received on the wire (request line, headers and body), by route template',
    labelNames: ['route'] as const,
    registers,
  });
  const sentBytes = new Counter({
    name: 'berth_http_sent_bytes_total',
    help: 'Bytes sent on the wire (status line, headers and body), by route template',
    labelNames: ['route'] as const,
    registers,
  });
  const uploadsInProgress = new Gauge({
    name: 'berth_uploads_in_progress',
    help: 'Blob upload requests (monolithic POST, PATCH, PUT) currently receiving data in this process',
    registers,
  });
  const storageDuration = new Histogram({
    name: 'berth_storage_operation_duration_seconds',
    help: 'Storage driver operations (count and latency) by driver and operation',
    labelNames: ['driver', 'operation'] as const,
    buckets: STORAGE_BUCKETS,
    registers,
  });
  const storageErrors = new Counter({
    name: 'berth_storage_errors_total',
    help: 'Failed storage driver operations by driver, operation and error class',
    labelNames: ['driver', 'operation', 'error'] as const,
    registers,
  });
  const cacheLookups = new Counter({
    name: 'berth_manifest_cache_lookups_total',
    help: 'Lookups in the per-process parsed-manifest cache, by result (hit, miss)',
    labelNames: ['result'] as const,
    registers,
  });
  const hit = cacheLookups.labels('hit');
  const miss = cacheLookups.labels('miss');
  return {
    register,
    requests,
    requestDuration,
    receivedBytes,
    sentBytes,
    uploadsInProgress,
    storageDuration,
    storageErrors,
    manifestCache: { onHit: () => hit.inc(), onMiss: () => miss.inc() },
    gc: createGcMetrics(registers),
    notifications: createNotificationMetrics(registers),
  };
}

function createGcMetrics(registers: Registry[]): GcMetrics {
  const runs = new Counter({ name: 'berth_gc_runs_total', help: 'Garbage-collection runs finished', registers });
  const duration = new Histogram({
    name: 'berth_gc_duration_seconds',
    help: 'Duration of garbage-collection runs',
    buckets: GC_BUCKETS,
    registers,
  });
  const freed = new Counter({ name: 'berth_gc_freed_bytes_total', help: 'Bytes freed by garbage collection', registers });
  const deleted = new Counter({ name: 'berth_gc_deleted_blobs_total', help: 'Blobs deleted by garbage collection', registers });
  const last = new Gauge({ name: 'berth_gc_last_run_timestamp_seconds', help: 'When the last garbage-collection run finished', registers });
  return {
    observeRun: (run) => {
      runs.inc();
      duration.observe(Math.max(0, run.durationMs) / 1000);
      if (run.bytesFreed > 0) freed.inc(run.bytesFreed);
      if (run.blobsDeleted > 0) deleted.inc(run.blobsDeleted);
      last.setToCurrentTime();
    },
  };
}

function createNotificationMetrics(registers: Registry[]): NotificationMetrics {
  const events = new Counter({
    name: 'berth_notifications_events_total',
    help: 'Notification events by endpoint and result (queued, delivered, dropped when the queue was full, ignored by filter)',
    labelNames: ['endpoint', 'result'] as const,
    registers,
  });
  const failures = new Counter({
    name: 'berth_notifications_failures_total',
    help: 'Failed delivery attempts by endpoint (the event stays queued and is retried)',
    labelNames: ['endpoint'] as const,
    registers,
  });
  let source: () => Iterable<readonly [string, number]> = () => [];
  new Gauge({
    name: 'berth_notifications_pending',
    help: 'Events waiting for delivery, by endpoint',
    labelNames: ['endpoint'] as const,
    registers,
    collect() {
      for (const [endpoint, n] of source()) this.set({ endpoint }, n);
    },
  });
  return {
    event: (endpoint, result) => events.inc({ endpoint, result }),
    failure: (endpoint) => failures.inc({ endpoint }),
    setPendingSource: (s) => {
      source = s;
    },
  };
}
