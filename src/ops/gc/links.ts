/**
 * After the sweep: removes what pointed at blobs that are gone — each repository's `_layers`
 * links to an unmarked blob whose data no longer exists (once the link is older than the grace
 * period; if the data reappears right after, the link is written back), the SmartOS file-info
 * cache entries of such blobs, and v1 records of synthesized manifests that are gone. A link to a
 * blob that still exists (a young or touched one) stays.
 */
import type { ParsedDigest } from '../../core/digest.js';
import { paths } from '../../core/paths.js';
import { deleteIfExists, exists } from '../../core/storage-helpers.js';
import { v1Paths } from '../../core/v1/paths.js';
import { forEachLimit, layerLinks, repositories, smartosCacheDir, smartosCached, v1ManifestOrigins } from '../walk.js';
import { isYoung, modTime, type GcContext } from './context.js';

/** True when the blob is gone (or, in a dry run, would be). */
async function blobGone(ctx: GcContext, d: ParsedDigest): Promise<boolean> {
  if (ctx.marks.has(d.digest)) return false;
  if (ctx.swept.has(d.digest)) return true;
  return !(await exists(ctx.driver, paths.blobData(d))) && !(await exists(ctx.driver, paths.blobHidden(d)));
}

async function cleanLayerLink(ctx: GcContext, name: string, d: ParsedDigest): Promise<void> {
  if (!(await blobGone(ctx, d))) return;
  const linkTime = await modTime(ctx.driver, paths.layerLink(name, d));
  if (linkTime !== undefined && isYoung(ctx, linkTime)) return;
  ctx.counters.layerLinksDeleted++;
  ctx.event({ kind: 'layer-link', repository: name, digest: d.digest });
  if (ctx.dryRun) return;
  await ctx.beforeDelete();
  await deleteIfExists(ctx.driver, paths.layerDir(name, d));
  // A push may have stored the blob again and linked it between the check and the delete.
  if (await exists(ctx.driver, paths.blobData(d))) await ctx.driver.putContent(paths.layerLink(name, d), Buffer.from(d.digest));
}

export async function cleanLinks(ctx: GcContext): Promise<void> {
  for await (const name of repositories(ctx.driver)) {
    await forEachLimit(layerLinks(ctx.driver, name), ctx.concurrency, (d) => cleanLayerLink(ctx, name, d));
    ctx.progress('links');
  }
  await forEachLimit(smartosCached(ctx.driver), ctx.concurrency, async (d) => {
    if (!(await blobGone(ctx, d))) return;
    ctx.counters.cacheEntriesDeleted++;
    if (ctx.dryRun) return;
    await ctx.beforeDelete();
    await deleteIfExists(ctx.driver, smartosCacheDir(d));
  });
  await forEachLimit(v1ManifestOrigins(ctx.driver), ctx.concurrency, async (d) => {
    if (!(await blobGone(ctx, d))) return;
    ctx.counters.cacheEntriesDeleted++;
    if (ctx.dryRun) return;
    await ctx.beforeDelete();
    await deleteIfExists(ctx.driver, v1Paths.manifestOrigin(d));
  });
}
