/**
 * Sweep phase: every blob directory of the content store whose digest is not marked is deleted
 * unless it is young: its data's modification time (driver stat) or its `gc-touch` time is inside
 * the grace period. Deleting is done so a concurrent push can never lose a blob it is about to
 * reference (the writer side is in src/core/blob-store.ts: touch first, then check existence):
 *
 *   1. read `gc-touch` (T1) and check both times are old;
 *   2. hide: move `data` to `gc-hidden` (readers and writers now see the blob as missing);
 *   3. read `gc-touch` again (T2): if it changed, a writer touched the blob and may have seen it
 *      before step 2 — move the data back (unless the writer already stored it again);
 *   4. otherwise delete `gc-hidden` and `gc-touch`.
 *
 * A run killed between 2 and 4 leaves `gc-hidden`: the next run reads manifests from there while
 * marking and restores a hidden blob that is marked or touched, or finishes deleting it. Marked
 * blobs are never touched by the sweep. Empty blob directories are left in place (a writer may
 * be moving data into one at that moment).
 */
import { PathNotFoundError } from '../../../storage-drivers/errors.js';
import type { ParsedDigest } from '../../core/digest.js';
import { paths } from '../../core/paths.js';
import { deleteIfExists, exists, getOrUndefined } from '../../core/storage-helpers.js';
import { blobDirs, forEachLimit, type BlobDir } from '../walk.js';
import { isYoung, type GcContext } from './context.js';

export const DATA = 'data';
export const TOUCH = 'gc-touch';
export const HIDDEN = 'gc-hidden';

/** The time a touch marker carries (its first word), or undefined. */
export function touchTime(raw: Buffer | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const t = Date.parse(raw.toString('utf8').split(' ', 1)[0] ?? '');
  return Number.isNaN(t) ? undefined : t;
}

async function stat(ctx: GcContext, path: string): Promise<{ size: number; time: number } | undefined> {
  try {
    const info = await ctx.driver.stat(path);
    return { size: info.size, time: info.modTime.getTime() };
  } catch (error) {
    if (error instanceof PathNotFoundError) return undefined;
    throw error;
  }
}

/** Moves a file, false when the source is gone (someone else moved or deleted it). */
async function moveIfExists(ctx: GcContext, from: string, to: string): Promise<boolean> {
  try {
    await ctx.driver.move(from, to);
    return true;
  } catch (error) {
    if (error instanceof PathNotFoundError) return false;
    throw error;
  }
}

/** Puts hidden data back (or drops the hidden copy when the data was stored again meanwhile). */
async function restore(ctx: GcContext, d: ParsedDigest): Promise<void> {
  if (await exists(ctx.driver, paths.blobData(d))) await deleteIfExists(ctx.driver, paths.blobHidden(d));
  else await moveIfExists(ctx, paths.blobHidden(d), paths.blobData(d));
  ctx.counters.restored++;
  ctx.event({ kind: 'restored', digest: d.digest });
}

async function sweepDir(ctx: GcContext, dir: BlobDir, delayMs: number): Promise<void> {
  const d = dir.digest;
  ctx.counters.blobsScanned++;
  const hasData = dir.entries.has(DATA);
  const hasHidden = dir.entries.has(HIDDEN);
  if (ctx.marks.has(d.digest)) {
    if (hasHidden && !ctx.dryRun) await restore(ctx, d);
    return;
  }
  const touch = dir.entries.has(TOUCH) ? await getOrUndefined(ctx.driver, paths.blobTouch(d)) : undefined;
  const touched = touchTime(touch);
  if (!hasData && !hasHidden) {
    // A touch marker alone (a mount or manifest that named a blob the store does not have).
    if (touch !== undefined && (touched === undefined || !isYoung(ctx, touched))) {
      ctx.counters.staleMarkers++;
      if (!ctx.dryRun) {
        await ctx.beforeDelete();
        await deleteIfExists(ctx.driver, paths.blobTouch(d));
      }
    }
    return;
  }
  if (touched !== undefined && isYoung(ctx, touched)) {
    ctx.counters.keptYoung++;
    if (hasHidden && !ctx.dryRun) await restore(ctx, d);
    return;
  }
  const data = await stat(ctx, hasData ? paths.blobData(d) : paths.blobHidden(d));
  if (data === undefined) return;
  if (hasData && isYoung(ctx, data.time)) {
    ctx.counters.keptYoung++;
    return;
  }
  if (ctx.dryRun) {
    recordDeleted(ctx, d, data.size);
    return;
  }
  await ctx.beforeDelete();
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  if (hasData && !(await moveIfExists(ctx, paths.blobData(d), paths.blobHidden(d)))) return;
  const after = await getOrUndefined(ctx.driver, paths.blobTouch(d));
  const changed = after !== undefined && (touch === undefined || !after.equals(touch));
  if (changed) {
    ctx.counters.keptTouched++;
    await restore(ctx, d);
    return;
  }
  await ctx.beforeDelete();
  await deleteIfExists(ctx.driver, paths.blobHidden(d));
  await deleteIfExists(ctx.driver, paths.blobTouch(d));
  recordDeleted(ctx, d, data.size);
}

function recordDeleted(ctx: GcContext, d: ParsedDigest, size: number): void {
  ctx.swept.add(d.digest);
  ctx.counters.blobsDeleted++;
  ctx.counters.bytesDeleted += size;
  ctx.event({ kind: 'blob', digest: d.digest, size });
}

export async function sweep(ctx: GcContext, delayMs = 0): Promise<void> {
  let n = 0;
  await forEachLimit(blobDirs(ctx.driver), ctx.concurrency, async (dir) => {
    await sweepDir(ctx, dir, delayMs);
    if (++n % 256 === 0) ctx.progress('sweep');
  });
  ctx.progress('sweep');
}
