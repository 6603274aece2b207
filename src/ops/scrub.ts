/**
 * Scrub: an integrity check of a whole store. Re-hashes every blob (streamed, a few at a time,
 * so memory stays bounded whatever the blob sizes) and compares with its digest; then walks every
 * repository for `_layers` links and manifest references to blobs that are missing, manifest
 * revisions whose blob is missing or does not parse, tags pointing at a missing manifest, and
 * upload sessions older than the purge age (or without a readable start time). Each issue names
 * the repositories it affects.
 *
 * `repair` removes only what can never be served correctly: a corrupt blob's data (the blob
 * becomes unknown, so the next push uploads it again; its links stay and work again then) with
 * its SmartOS cache entry, the revision of a manifest that does not parse, and stale upload
 * sessions. Missing blobs and dangling tags are reported only: a re-push heals them.
 */
import { PathNotFoundError } from '../../storage-drivers/errors.js';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { hashToDigest, newHash, tryParseDigest, type ParsedDigest } from '../core/digest.js';
import { parseManifest } from '../core/manifests/parse.js';
import { basename, paths } from '../core/paths.js';
import { deleteIfExists, exists, getOrUndefined, listOrEmpty } from '../core/storage-helpers.js';
import { blobDirs, forEachLimit, layerLinks, repositories, revisions, smartosCacheDir, tags } from './walk.js';

export type ScrubIssueKind = 'corrupt-blob' | 'missing-blob' | 'missing-manifest' | 'unparsable-manifest' | 'dangling-tag' | 'stale-upload';

/** One problem found; `repositories` are the ones it affects. */
export interface ScrubIssue {
  readonly kind: ScrubIssueKind;
  /** The blob or manifest (for a dangling tag: the digest it points at). */
  readonly digest?: string;
  /** corrupt-blob: the digest of the bytes actually stored. */
  readonly computed?: string;
  readonly tag?: string;
  /** stale-upload: the session id. */
  readonly upload?: string;
  readonly repositories: string[];
  repaired: boolean;
}

export interface ScrubOptions {
  readonly repair?: boolean;
  /** Blobs hashed at once (default 4). */
  readonly concurrency?: number;
  /** Upload sessions older than this are stale (default: storage.maintenance.uploadpurging.age, 168h). */
  readonly staleUploadMs?: number;
  readonly now?: () => number;
  readonly onProgress?: (progress: { blobs: number; bytes: number; repositories: number }) => void;
}

export interface ScrubReport {
  readonly blobs: number;
  readonly bytes: number;
  readonly repositories: number;
  readonly issues: readonly ScrubIssue[];
}

async function hashBlob(driver: StorageDriver, d: ParsedDigest): Promise<{ digest: string; size: number } | undefined> {
  let stream;
  try {
    stream = await driver.reader(paths.blobData(d));
  } catch (error) {
    if (error instanceof PathNotFoundError) return undefined;
    throw error;
  }
  const hash = newHash(d.algorithm);
  let size = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    size += buf.length;
    hash.update(buf);
  }
  return { digest: hashToDigest(d.algorithm, hash), size };
}

/** Issues of one kind, one per digest, collecting the repositories affected. */
class Grouped {
  private readonly byDigest = new Map<string, ScrubIssue>();
  constructor(
    private readonly kind: ScrubIssueKind,
    private readonly issues: ScrubIssue[],
  ) {}
  add(digest: string, repository: string): ScrubIssue {
    let issue = this.byDigest.get(digest);
    if (issue === undefined) {
      issue = { kind: this.kind, digest, repositories: [], repaired: false };
      this.byDigest.set(digest, issue);
      this.issues.push(issue);
    }
    if (!issue.repositories.includes(repository)) issue.repositories.push(repository);
    return issue;
  }
}

export async function scrub(driver: StorageDriver, options: ScrubOptions = {}): Promise<ScrubReport> {
  const repair = options.repair === true;
  const now = options.now ?? Date.now;
  const staleMs = options.staleUploadMs ?? 168 * 3_600_000;
  const issues: ScrubIssue[] = [];
  const corrupt = new Map<string, ScrubIssue>();
  const present = new Set<string>();
  let blobs = 0;
  let bytes = 0;
  let repos = 0;
  const progress = (): void => options.onProgress?.({ blobs, bytes, repositories: repos });

  await forEachLimit(blobDirs(driver), options.concurrency ?? 4, async (dir) => {
    if (!dir.entries.has('data')) return;
    const result = await hashBlob(driver, dir.digest);
    if (result === undefined) return;
    blobs++;
    bytes += result.size;
    if (result.digest === dir.digest.digest) present.add(dir.digest.digest);
    else {
      const issue: ScrubIssue = { kind: 'corrupt-blob', digest: dir.digest.digest, computed: result.digest, repositories: [], repaired: false };
      corrupt.set(dir.digest.digest, issue);
      issues.push(issue);
      if (repair) {
        await deleteIfExists(driver, paths.blobData(dir.digest));
        await deleteIfExists(driver, smartosCacheDir(dir.digest));
        issue.repaired = true;
      }
    }
    if (blobs % 64 === 0) progress();
  });

  const missingBlobs = new Grouped('missing-blob', issues);
  const missingManifests = new Grouped('missing-manifest', issues);
  const unparsable = new Grouped('unparsable-manifest', issues);
  const blobState = (d: string, name: string): void => {
    const bad = corrupt.get(d);
    if (bad !== undefined) {
      if (!bad.repositories.includes(name)) bad.repositories.push(name);
    } else if (!present.has(d)) missingBlobs.add(d, name);
  };
  for await (const name of repositories(driver)) {
    repos++;
    for await (const d of layerLinks(driver, name)) blobState(d.digest, name);
    const revisionSet = new Set<string>();
    await forEachLimit(revisions(driver, name), 8, async (d) => {
      revisionSet.add(d.digest);
      if (corrupt.has(d.digest) || !present.has(d.digest)) {
        if (corrupt.has(d.digest)) blobState(d.digest, name);
        else missingManifests.add(d.digest, name);
        return;
      }
      const raw = await getOrUndefined(driver, paths.blobData(d));
      if (raw === undefined) return;
      let parsed;
      try {
        parsed = parseManifest(raw);
      } catch {
        const issue = unparsable.add(d.digest, name);
        if (repair) {
          await deleteIfExists(driver, paths.revisionDir(name, d));
          issue.repaired = true;
        }
        return;
      }
      const refs = [...(parsed.config !== undefined ? [parsed.config] : []), ...parsed.layers.filter((l) => l.urls === undefined || l.urls.length === 0)];
      for (const ref of refs) blobState(ref.digest.digest, name);
      for (const ref of parsed.fsLayers) blobState(ref.digest, name);
    });
    for (const tag of await tags(driver, name)) {
      const link = await getOrUndefined(driver, paths.tagCurrentLink(name, tag));
      const d = link === undefined ? undefined : tryParseDigest(link.toString().trim());
      if (d === undefined) continue;
      const ok = (revisionSet.has(d.digest) || (await exists(driver, paths.revisionLink(name, d)))) && present.has(d.digest);
      if (!ok) issues.push({ kind: 'dangling-tag', tag, digest: d.digest, repositories: [name], repaired: false });
    }
    for (const upload of await listOrEmpty(driver, paths.uploadsRoot(name))) {
      const id = basename(upload);
      const started = await getOrUndefined(driver, paths.uploadStartedAt(name, id));
      const time = started === undefined ? NaN : Date.parse(started.toString());
      if (!Number.isNaN(time) && time >= now() - staleMs) continue;
      const issue: ScrubIssue = { kind: 'stale-upload', upload: id, repositories: [name], repaired: false };
      if (repair) {
        await deleteIfExists(driver, paths.uploadDir(name, id));
        issue.repaired = true;
      }
      issues.push(issue);
    }
    progress();
  }
  return { blobs, bytes, repositories: repos, issues };
}
