/**
 * What every phase of one garbage collection shares: the driver, the options, the mark set, the
 * counters, the lease check before each destructive step and the event/progress callbacks.
 */
import type { StorageDriver } from '../../../storage-drivers/driver.js';
import { PathNotFoundError } from '../../../storage-drivers/errors.js';
import type { ParsedDigest } from '../../core/digest.js';
import { paths } from '../../core/paths.js';
import type { GcCounters, GcEvent, GcProgress } from './events.js';
import type { MarkSet } from './marks.js';

export interface GcContext {
  readonly driver: StorageDriver;
  readonly dryRun: boolean;
  readonly deleteUntagged: boolean;
  readonly gracePeriodMs: number;
  readonly now: () => number;
  /**
   * When the mark phase began (set just before it). Whatever was written or touched after that
   * may be referenced by something the mark did not see, so the grace period counts from here,
   * not from the moment a phase looks at it: a run longer than the grace period (object stores:
   * every step is a request) must not turn a touch made during the run into an old one.
   */
  markStartedAt: number;
  readonly marks: MarkSet;
  readonly counters: GcCounters;
  /** Digests deleted (or eligible, in a dry run) by this collection. */
  readonly swept: Set<string>;
  readonly concurrency: number;
  /** Throws when the run must stop deleting (lease lost). */
  readonly beforeDelete: () => Promise<void>;
  readonly event: (e: GcEvent) => void;
  readonly progress: (phase: GcProgress['phase']) => void;
}

/** True when `time` is inside the grace period (too young to sweep). */
export function isYoung(ctx: GcContext, time: number): boolean {
  return time > Math.min(ctx.now(), ctx.markStartedAt) - ctx.gracePeriodMs;
}

/** Bytes of a manifest blob: its data, or the data a collection hid (interrupted run). */
export async function readBlobSmall(driver: StorageDriver, d: ParsedDigest): Promise<Buffer | undefined> {
  for (const path of [paths.blobData(d), paths.blobHidden(d)]) {
    try {
      return await driver.getContent(path);
    } catch (error) {
      if (!(error instanceof PathNotFoundError)) throw error;
    }
  }
  return undefined;
}

/** Modification time of a path in ms, or undefined when it is missing. */
export async function modTime(driver: StorageDriver, path: string): Promise<number | undefined> {
  try {
    return (await driver.stat(path)).modTime.getTime();
  } catch (error) {
    if (error instanceof PathNotFoundError) return undefined;
    throw error;
  }
}
