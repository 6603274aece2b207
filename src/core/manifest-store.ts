/**
 * Manifests of a repository: put (validated, references checked, stored byte-exact under the
 * digest of those bytes), get by digest, resolve tags, delete (with the tags and referrer entries
 * that point at it). Knows nothing about HTTP.
 *
 * Content by digest never changes, so parsed manifests are kept in the byte-bounded ManifestCache;
 * whether a manifest is in a repository (its revision link) goes through the node's link cache
 * (positive answers, at most `berth.cache.linkttl` old; a put or delete on this node updates it at
 * once). So a manifest GET by tag on a warm node touches storage at most once per bound per link.
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { RegistryError } from '../errors/registry-error.js';
import type { BlobStore } from './blob-store.js';
import { canonicalSchema1, Schema1Error } from './bridge/schema1.js';
import { digestOf, type ParsedDigest } from './digest.js';
import { tryParseDigest } from './digest.js';
import { LinkCache, linkKeys } from './link-cache.js';
import type { CachedManifest, ManifestCache } from './manifest-cache.js';
import { isNonDistributable } from './manifests/media-types.js';
import { parseManifest, referrerArtifactType, type Descriptor, type ParsedManifest } from './manifests/parse.js';
import { paths } from './paths.js';
import type { ReferrersStore } from './referrers.js';
import { deleteIfExists, exists } from './storage-helpers.js';
import type { TagStore } from './tag-store.js';

export interface PutResult {
  readonly digest: ParsedDigest;
  readonly parsed: ParsedManifest;
  readonly tags: readonly string[];
}

export class ManifestStore {
  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly tags: TagStore,
    private readonly referrers: ReferrersStore,
    private readonly cache: ManifestCache,
    private readonly links: LinkCache = new LinkCache({ ttlMs: 0 }),
  ) {}

  /**
   * Stores a manifest. `digestRef` is the digest the client pushed by (verified), `tags` the tags
   * to point at it (from the path and `?tag=` parameters). `options.mirrored`: a manifest copied
   * from a pull-through cache's upstream, whose blobs arrive later, on demand: its references are
   * neither touched nor checked.
   */
  async put(
    name: string,
    bytes: Buffer,
    contentType: string | undefined,
    digestRef: ParsedDigest | undefined,
    tags: readonly string[],
    options: { readonly mirrored?: boolean } = {},
  ): Promise<PutResult> {
    let parsed = parseManifest(bytes, contentType);
    if (parsed.kind === 'schema1') {
      // Signed schema1: verified, stored as its canonical payload, digest over that (bridge/schema1.ts).
      checkSchema1Names(name, tags, parsed);
      const canonical = schema1Payload(bytes, parsed);
      if (canonical !== bytes) {
        bytes = canonical;
        parsed = parseManifest(bytes);
      }
    }
    const digest = digestRef === undefined ? parsedDigest(digestOf(bytes)) : digestRef;
    if (digestRef !== undefined && digestOf(bytes, digestRef.algorithm) !== digestRef.digest) {
      throw new RegistryError('DIGEST_INVALID', {
        message: 'manifest digest does not match the reference',
        detail: { reference: digestRef.digest },
      });
    }
    if (options.mirrored !== true) {
      await this.touchReferences(parsed);
      await this.checkReferences(name, parsed);
    }
    await this.blobs.putSmall(digest, bytes);
    const revision = linkKeys.revision(name, digest.digest);
    try {
      await this.driver.putContent(paths.revisionLink(name, digest), Buffer.from(digest.digest));
    } catch (error) {
      this.links.invalidate(revision);
      throw error;
    }
    this.links.set(revision, true);
    if (parsed.subject !== undefined) {
      const artifactType = referrerArtifactType(parsed);
      await this.referrers.add(name, parsed.subject.digest, {
        mediaType: parsed.mediaType,
        digest: digest.digest,
        size: bytes.length,
        ...(artifactType !== undefined ? { artifactType } : {}),
        ...(parsed.annotations !== undefined ? { annotations: parsed.annotations } : {}),
      });
    }
    for (const tag of tags) await this.tags.set(name, tag, digest);
    this.cache.set(digest.digest, { bytes, parsed });
    return { digest, parsed, tags };
  }

  /** The manifest if it is in the repository. */
  async get(name: string, digest: ParsedDigest): Promise<CachedManifest | undefined> {
    const cached = this.cache.get(digest.digest);
    const linked = await this.has(name, digest);
    if (!linked) return undefined;
    if (cached !== undefined) return cached;
    const bytes = await this.blobs.getSmall(digest);
    if (bytes === undefined) return undefined;
    const entry = { bytes, parsed: parseManifest(bytes) };
    this.cache.set(digest.digest, entry);
    return entry;
  }

  async has(name: string, digest: ParsedDigest): Promise<boolean> {
    return this.links.get(
      linkKeys.revision(name, digest.digest),
      () => exists(this.driver, paths.revisionLink(name, digest)),
      (linked) => linked,
    );
  }

  /** Deletes the manifest from the repository, with every tag pointing at it. False if absent. */
  async delete(name: string, digest: ParsedDigest): Promise<boolean> {
    // Decided on storage, not on the cache: another node may have deleted it within the bound.
    this.links.invalidate(linkKeys.revision(name, digest.digest));
    const entry = await this.get(name, digest);
    if (entry === undefined) return false;
    const tags = await this.tags.tagsOf(name, digest);
    await Promise.all(tags.map((t) => this.tags.delete(name, t)));
    if (entry.parsed.subject !== undefined) await this.referrers.remove(name, entry.parsed.subject.digest, digest);
    try {
      return await deleteIfExists(this.driver, paths.revisionDir(name, digest));
    } finally {
      this.links.invalidate(linkKeys.revision(name, digest.digest));
    }
  }

  /** Touches every blob the manifest references (before they are checked: see blob-store.ts). */
  private async touchReferences(m: ParsedManifest): Promise<void> {
    const layers = m.layers.filter((l) => l.urls === undefined || l.urls.length === 0).map((l) => l.digest);
    const config = m.config !== undefined ? [m.config.digest] : [];
    const digests = [...config, ...layers, ...m.fsLayers, ...m.manifests.map((c) => c.digest)];
    const unique = new Map(digests.map((d) => [d.digest, d]));
    await Promise.all([...unique.values()].map((d) => this.blobs.touch(d)));
  }

  private async checkReferences(name: string, m: ParsedManifest): Promise<void> {
    const blobs: Descriptor[] = [];
    if (m.config !== undefined) blobs.push(m.config);
    for (const layer of m.layers) {
      if ((layer.urls !== undefined && layer.urls.length > 0) || isNonDistributable(layer.mediaType)) continue;
      blobs.push(layer);
    }
    const blobDigests = [...blobs.map((b) => b.digest), ...m.fsLayers];
    const missingBlobs = await Promise.all(
      blobDigests.map(async (d) => ((await this.blobs.sizeInRepo(name, d)) === undefined ? d : undefined)),
    );
    const missingManifests = await Promise.all(
      m.manifests.map(async (c) => ((await this.has(name, c.digest)) ? undefined : c.digest)),
    );
    const missing = [...missingBlobs, ...missingManifests].find((d) => d !== undefined);
    if (missing !== undefined) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', {
        message: 'manifest references a manifest or blob unknown to the repository',
        detail: { digest: missing.digest },
      });
    }
  }
}

function schema1Payload(bytes: Buffer, parsed: ParsedManifest): Buffer {
  try {
    return canonicalSchema1(bytes, parsed.json);
  } catch (error) {
    if (error instanceof Schema1Error) {
      throw new RegistryError('MANIFEST_UNVERIFIED', { message: `schema1 signature: ${error.message}` });
    }
    throw error;
  }
}

/** distribution's schema1 checks: the manifest names this repository and (pushed by tag) this tag. */
function checkSchema1Names(name: string, tags: readonly string[], parsed: ParsedManifest): void {
  const manifestName = parsed.json['name'];
  if (typeof manifestName === 'string' && manifestName !== name) {
    throw new RegistryError('NAME_INVALID', { message: 'repository name does not match manifest name', detail: { name: manifestName.slice(0, 300) } });
  }
  const manifestTag = parsed.json['tag'];
  if (typeof manifestTag === 'string' && manifestTag !== '' && tags.length > 0 && !tags.includes(manifestTag)) {
    throw new RegistryError('TAG_INVALID', { message: 'manifest tag does not match the tag in the URL', detail: { tag: manifestTag.slice(0, 200) } });
  }
}

function parsedDigest(value: string): ParsedDigest {
  const d = tryParseDigest(value);
  if (d === undefined) throw new Error(`internal: bad digest ${value}`);
  return d;
}
