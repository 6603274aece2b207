/**
 * One garbage collection over a store: takes the lease (lease.ts; not in a dry run), marks
 * (mark.ts, with untagged.ts for `deleteUntagged`), sweeps blobs (sweep.ts), then removes links
 * and cache entries of what is gone (links.ts), and returns the counts. The caller decides how to
 * show events and progress (the CLI prints them, the online loop logs a summary).
 */
import type { StorageDriver } from '../../../storage-drivers/driver.js';
import type { GcContext } from './context.js';
import { newCounters, type GcCounters, type GcEvent, type GcProgress } from './events.js';
import { recordLastRun } from './status.js';
import { GcLease, type LeaseOptions } from './lease.js';
import { cleanLinks } from './links.js';
import { mark } from './mark.js';
import { MarkSet } from './marks.js';
import { sweep } from './sweep.js';

export type { GcEvent, GcProgress } from './events.js';

export interface GcOptions {
  /** Report what would be deleted; change nothing (no lease either). */
  readonly dryRun?: boolean;
  /** Also remove manifests no tag needs (see untagged.ts). */
  readonly deleteUntagged?: boolean;
  /** Blobs, touches and links younger than this are never deleted (berth.gc.graceperiod). */
  readonly gracePeriodMs: number;
  /** The lease to hold (default: a new one with `leaseOptions`). */
  readonly lease?: GcLease;
  readonly leaseOptions?: LeaseOptions;
  readonly now?: () => number;
  readonly concurrency?: number;
  readonly onEvent?: (event: GcEvent) => void;
  readonly onProgress?: (progress: GcProgress) => void;
  /** Test hook: wait this long before each blob deletion (makes a run slow enough to kill). */
  readonly sweepDelayMs?: number;
}

export interface GcReport extends GcCounters {
  readonly dryRun: boolean;
  readonly deleteUntagged: boolean;
  readonly markedBlobs: number;
  readonly markedBytes: number;
  readonly durationMs: number;
}

export async function garbageCollect(driver: StorageDriver, options: GcOptions): Promise<GcReport> {
  const started = Date.now();
  const dryRun = options.dryRun === true;
  const lease = dryRun ? undefined : (options.lease ?? new GcLease(driver, options.leaseOptions));
  const counters = newCounters();
  const marks = new MarkSet();
  const ctx: GcContext = {
    driver,
    dryRun,
    deleteUntagged: options.deleteUntagged === true,
    gracePeriodMs: options.gracePeriodMs,
    now: options.now ?? Date.now,
    markStartedAt: Number.POSITIVE_INFINITY,
    marks,
    counters,
    swept: new Set<string>(),
    concurrency: options.concurrency ?? 8,
    beforeDelete: () => {
      lease?.assertHeld();
      return Promise.resolve();
    },
    event: options.onEvent ?? (() => undefined),
    progress: (phase) =>
      options.onProgress?.({
        phase,
        repositories: counters.repositories,
        manifests: counters.manifests,
        blobsScanned: counters.blobsScanned,
        bytesFreed: counters.bytesDeleted,
      }),
  };
  await lease?.acquire();
  try {
    ctx.markStartedAt = ctx.now();
    await mark(ctx);
    await sweep(ctx, options.sweepDelayMs ?? 0);
    await cleanLinks(ctx);
    ctx.progress('done');
  } finally {
    await lease?.release();
  }
  const durationMs = Date.now() - started;
  if (!dryRun) {
    await recordLastRun(driver, { finishedAt: new Date().toISOString(), durationMs, blobsDeleted: counters.blobsDeleted, bytesFreed: counters.bytesDeleted });
  }
  return { ...counters, dryRun, deleteUntagged: ctx.deleteUntagged, markedBlobs: marks.count, markedBytes: marks.bytes, durationMs };
}
