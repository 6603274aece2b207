/**
 * What the last garbage collection did and whether one runs now, as every node sees it: a
 * finished, non-dry run writes a small record next to the lease (`_gc/last-run`), and the status
 * combines it with the lease (held and unexpired = running). Read by the UI's GC line; written by
 * run.ts. A record that cannot be written or read never fails a collection or a page.
 */
import type { StorageDriver } from '../../../storage-drivers/driver.js';
import { isRecord, parseStoredJson } from '../../core/json.js';
import { ROOT } from '../../core/paths.js';
import { getOrUndefined } from '../../core/storage-helpers.js';
import { GcLease } from './lease.js';

export const LAST_RUN_PATH = `${ROOT}/_gc/last-run`;

export interface GcLastRun {
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly blobsDeleted: number;
  readonly bytesFreed: number;
}

export interface GcStatusView {
  /** e.g. "idle", "running on host-a". */
  readonly summary: string;
  /** e.g. "2026-12-04 21:00 UTC: 12 blobs, 3.4 MiB freed in 2.1 s". */
  readonly lastRun?: string;
}

export async function recordLastRun(driver: StorageDriver, run: GcLastRun): Promise<void> {
  await driver.putContent(LAST_RUN_PATH, Buffer.from(JSON.stringify(run))).catch(() => undefined);
}

function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit] ?? 'B'}`;
}

export async function gcStatus(driver: StorageDriver, options: { readonly online: boolean; readonly now?: () => number }): Promise<GcStatusView> {
  const now = options.now ?? Date.now;
  const [lease, stored] = await Promise.all([
    new GcLease(driver).read().catch(() => undefined),
    getOrUndefined(driver, LAST_RUN_PATH).catch(() => undefined),
  ]);
  const running = lease !== undefined && lease.expiresAt > now();
  const summary = running ? `running on ${lease.host}` : options.online ? 'idle (online collection enabled)' : 'idle (run berth garbage-collect)';
  const last = stored === undefined ? undefined : parseStoredJson(stored);
  if (!isRecord(last) || typeof last['finishedAt'] !== 'string' || typeof last['bytesFreed'] !== 'number') return { summary };
  const when = last['finishedAt'].replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
  const blobs = typeof last['blobsDeleted'] === 'number' ? last['blobsDeleted'] : 0;
  const seconds = typeof last['durationMs'] === 'number' ? (last['durationMs'] / 1000).toFixed(1) : '?';
  return { summary, lastRun: `${when}: ${blobs} blobs, ${size(last['bytesFreed'])} freed in ${seconds} s` };
}
