/**
 * Mark phase: walks every repository and marks what its manifest revisions reach (the manifest,
 * its config, layers, schema1 fsLayers and child manifests, recursively), then every v1 image's
 * layer blob. Roots are revision links (distribution's rule), so untagged manifests, referrers
 * (which have revisions of their own) and v1-synthesized images are kept; with `deleteUntagged`
 * a repository's untagged revisions are first removed (untagged.ts). A revision whose manifest
 * blob is gone is a dangling link and is removed once older than the grace period. v1 bridge
 * records whose manifest left its repository are removed (lookups skip them anyway). Streams:
 * one directory listing at a time; only the mark set grows with the store.
 */
import { ContentTooLargeError } from '../../../storage-drivers/errors.js';
import { tryParseDigest, type ParsedDigest } from '../../core/digest.js';
import { parseManifest } from '../../core/manifests/parse.js';
import { paths } from '../../core/paths.js';
import { deleteIfExists, exists, getOrUndefined, listOrEmpty } from '../../core/storage-helpers.js';
import { isRecord, parseStoredJson } from '../../core/json.js';
import { v1Paths } from '../../core/v1/paths.js';
import { forEachLimit, repositories, revisions, v1ImageIds } from '../walk.js';
import { isYoung, modTime, readBlobSmall, type GcContext } from './context.js';
import { removeUntagged } from './untagged.js';

/** Marks a manifest and everything it references (once per digest per run). */
export async function expandManifest(ctx: GcContext, digest: ParsedDigest): Promise<'ok' | 'missing' | 'unreadable'> {
  if (!ctx.marks.startExpanding(digest.digest)) return 'ok';
  let bytes: Buffer | undefined;
  try {
    bytes = await readBlobSmall(ctx.driver, digest);
  } catch (error) {
    if (!(error instanceof ContentTooLargeError)) throw error;
    ctx.marks.mark(digest.digest, undefined);
    ctx.counters.unreadableManifests++;
    return 'unreadable';
  }
  if (bytes === undefined) return 'missing';
  ctx.marks.mark(digest.digest, bytes.length);
  let parsed;
  try {
    parsed = parseManifest(bytes);
  } catch {
    ctx.counters.unreadableManifests++;
    return 'unreadable';
  }
  if (parsed.config !== undefined) ctx.marks.mark(parsed.config.digest.digest, parsed.config.size);
  for (const layer of parsed.layers) ctx.marks.mark(layer.digest.digest, layer.size);
  for (const d of parsed.fsLayers) ctx.marks.mark(d.digest, undefined);
  for (const child of parsed.manifests) await expandManifest(ctx, child.digest);
  return 'ok';
}

async function markRepository(ctx: GcContext, name: string): Promise<void> {
  ctx.counters.repositories++;
  const removed = ctx.deleteUntagged ? await removeUntagged(ctx, name) : new Set<string>();
  await forEachLimit(revisions(ctx.driver, name), ctx.concurrency, async (digest) => {
    if (removed.has(digest.digest)) return;
    ctx.counters.manifests++;
    const result = await expandManifest(ctx, digest);
    if (result === 'missing') await removeDanglingRevision(ctx, name, digest);
  });
  ctx.progress('mark');
}

/** A revision link whose manifest blob is gone (and not hidden by an interrupted run). */
async function removeDanglingRevision(ctx: GcContext, name: string, digest: ParsedDigest): Promise<void> {
  const linkTime = await modTime(ctx.driver, paths.revisionLink(name, digest));
  if (linkTime === undefined || isYoung(ctx, linkTime)) return;
  ctx.counters.revisionLinksDeleted++;
  ctx.event({ kind: 'revision-link', repository: name, digest: digest.digest });
  if (ctx.dryRun) return;
  await ctx.beforeDelete();
  await deleteIfExists(ctx.driver, paths.revisionDir(name, digest));
}

async function markV1Image(ctx: GcContext, id: string): Promise<void> {
  const layer = parseStoredJson(await getOrUndefined(ctx.driver, v1Paths.layer(id)));
  if (isRecord(layer) && typeof layer['digest'] === 'string') {
    const size = typeof layer['size'] === 'number' ? layer['size'] : undefined;
    ctx.marks.mark(layer['digest'], size);
  }
  for (const path of await listOrEmpty(ctx.driver, v1Paths.bridgeDir(id))) {
    const record = parseStoredJson(await getOrUndefined(ctx.driver, path));
    const repository = isRecord(record) && typeof record['repository'] === 'string' ? record['repository'] : undefined;
    const manifest = isRecord(record) && typeof record['manifest'] === 'string' ? tryParseDigest(record['manifest']) : undefined;
    let live = false;
    try {
      live = repository !== undefined && manifest !== undefined && (await exists(ctx.driver, paths.revisionLink(repository, manifest)));
    } catch {
      live = true; // a name the layout cannot hold: leave the record alone
    }
    if (live) continue;
    const written = await modTime(ctx.driver, path);
    if (written === undefined || isYoung(ctx, written)) continue;
    ctx.counters.bridgeRecordsDeleted++;
    if (ctx.dryRun) continue;
    await ctx.beforeDelete();
    await deleteIfExists(ctx.driver, path);
  }
}

export async function mark(ctx: GcContext): Promise<void> {
  for await (const name of repositories(ctx.driver)) await markRepository(ctx, name);
  await forEachLimit(v1ImageIds(ctx.driver), ctx.concurrency, (id) => markV1Image(ctx, id));
  ctx.progress('mark');
}
