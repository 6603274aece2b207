/**
 * `--delete-untagged`: removes a repository's manifest revisions that no tag needs. Kept: every
 * manifest a tag points to and the closure of those under three relations — an index's children,
 * a manifest's referrers (manifests whose `subject` it is), and a referrer's subject — so a
 * tagged index keeps its untagged children (distribution#3004), a kept image keeps its signatures
 * and SBOMs, and a tagged signature keeps the image it signs. Revisions younger than the grace
 * period are kept too (a push in progress uploads children and referrers before tagging). A
 * removed revision loses its directory, its entries in every tag's history and its referrers
 * entry; its blob falls to the sweep.
 */
import { ContentTooLargeError } from '../../../storage-drivers/errors.js';
import { tryParseDigest, type ParsedDigest } from '../../core/digest.js';
import { parseManifest } from '../../core/manifests/parse.js';
import { paths } from '../../core/paths.js';
import { deleteIfExists, getOrUndefined } from '../../core/storage-helpers.js';
import { revisions, tags } from '../walk.js';
import { isYoung, modTime, readBlobSmall, type GcContext } from './context.js';

interface Node {
  readonly digest: ParsedDigest;
  readonly children: readonly string[];
  readonly subject?: ParsedDigest;
}

async function readNode(ctx: GcContext, digest: ParsedDigest): Promise<Node> {
  const bytes = await readBlobSmall(ctx.driver, digest).catch((error: unknown) => {
    if (error instanceof ContentTooLargeError) return undefined;
    throw error;
  });
  if (bytes === undefined) return { digest, children: [] };
  try {
    const parsed = parseManifest(bytes);
    return {
      digest,
      children: parsed.manifests.map((c) => c.digest.digest),
      ...(parsed.subject !== undefined ? { subject: parsed.subject.digest } : {}),
    };
  } catch {
    return { digest, children: [] };
  }
}

/** Removes (or, in a dry run, selects) the untagged revisions; returns their digests. */
export async function removeUntagged(ctx: GcContext, name: string): Promise<Set<string>> {
  const nodes = new Map<string, Node>();
  for await (const d of revisions(ctx.driver, name)) nodes.set(d.digest, await readNode(ctx, d));
  const referrers = new Map<string, string[]>();
  for (const node of nodes.values()) {
    if (node.subject === undefined) continue;
    const list = referrers.get(node.subject.digest) ?? [];
    list.push(node.digest.digest);
    referrers.set(node.subject.digest, list);
  }
  const tagNames = await tags(ctx.driver, name);
  const keep = new Set<string>();
  const queue: string[] = [];
  for (const tag of tagNames) {
    const link = await getOrUndefined(ctx.driver, paths.tagCurrentLink(name, tag));
    const d = link === undefined ? undefined : tryParseDigest(link.toString().trim());
    if (d !== undefined) queue.push(d.digest);
  }
  while (queue.length > 0) {
    const digest = queue.pop() as string;
    if (keep.has(digest)) continue;
    keep.add(digest);
    const node = nodes.get(digest);
    queue.push(...(node?.children ?? []), ...(referrers.get(digest) ?? []));
    if (node?.subject !== undefined) queue.push(node.subject.digest);
  }
  const removed = new Set<string>();
  for (const node of nodes.values()) {
    if (keep.has(node.digest.digest)) continue;
    const linkTime = await modTime(ctx.driver, paths.revisionLink(name, node.digest));
    if (linkTime === undefined || isYoung(ctx, linkTime)) continue;
    removed.add(node.digest.digest);
    ctx.counters.manifestsDeleted++;
    ctx.event({ kind: 'manifest', repository: name, digest: node.digest.digest });
    if (ctx.dryRun) continue;
    await ctx.beforeDelete();
    await Promise.all(tagNames.map((t) => deleteIfExists(ctx.driver, paths.tagIndexLink(name, t, node.digest).slice(0, -'/link'.length))));
    if (node.subject !== undefined) await deleteIfExists(ctx.driver, paths.referrerEntry(name, node.subject, node.digest));
    await deleteIfExists(ctx.driver, paths.revisionDir(name, node.digest));
  }
  return removed;
}
