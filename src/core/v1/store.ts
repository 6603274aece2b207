/**
 * The v1 registry over the one store: what the v1 protocol front end needs, knowing nothing
 * about HTTP.
 *
 * - Images: a v1 ID is either an image pushed over v1 (images.ts) or the v1 view of an image
 *   pushed over v2 (bridge.ts); both answer the same questions (JSON, ancestry, layer blob).
 * - Tags: a v1 tag is the v2 tag. Listing maps each v2 tag to a v1 top image ID: the ID pushed
 *   over v1 when the tag points at the manifest synthesized from it (`manifests/<digest>`
 *   record), otherwise the bridge's ID. Tagging over v1 synthesizes a schema2 config and manifest
 *   (bridge/v2-from-v1.ts), links every layer blob and the config into the repository, stores the
 *   manifest and points the v2 tag at it — so the image is pullable over v2 at once.
 * - Index role: the repository's image list (`_index_images`), as registry 0.9 kept it.
 * - Search: repository names from the v2 catalog.
 */
import type { StorageDriver } from '../../../storage-drivers/driver.js';
import { RegistryError } from '../../errors/registry-error.js';
import { EMPTY_GZIP_TAR_DIGEST, EMPTY_TAR_DIFF_ID, isV1Id } from '../bridge/v1-chain.js';
import { synthesizeV2, type V1ChainEntry, type V1LayerBlob } from '../bridge/v2-from-v1.js';
import { tryParseDigest, type ParsedDigest } from '../digest.js';
import { MediaTypes } from '../manifests/media-types.js';
import type { Registry } from '../registry.js';
import { deleteIfExists, getOrUndefined, listOrEmpty } from '../storage-helpers.js';
import { V1Bridge, type BridgedImage } from './bridge.js';
import { notFound, PushedImages, type ImageOptions } from './images.js';
import { describeStream } from './layer-hash.js';
import { v1DisplayName, type V1Name } from './names.js';
import { v1Paths } from './paths.js';
import { isRecord, parseStoredJson } from '../json.js';

export interface V1LayerRef {
  readonly digest: ParsedDigest;
  /** Bytes, when known without reading the blob. */
  readonly size?: number;
  /** The layer is the gzipped empty tar (served from memory). */
  readonly empty: boolean;
}

/** A v1 image as every endpoint sees it, whatever protocol it was pushed with. */
export interface V1ImageView {
  readonly id: string;
  readonly parent?: string;
  readonly json: Buffer;
  readonly complete: boolean;
  readonly layer?: V1LayerRef;
  readonly checksums: readonly string[];
  /** Repositories the image is known in (for access checks); empty for an untagged push. */
  readonly repositories: readonly string[];
  readonly source: 'v1' | 'v2';
}

export interface IndexImage {
  readonly id: string;
  readonly checksum?: string;
}

export interface TagMetadata {
  readonly last_update: number;
  readonly docker_version: string | null;
  readonly docker_go_version: string | null;
  readonly arch: string | null;
  readonly kernel: string | null;
  readonly os: string | null;
}

export interface SearchResult {
  readonly name: string;
  readonly description: string;
}

function bridgedView(found: readonly BridgedImage[]): V1ImageView | undefined {
  const first = found[0];
  if (first === undefined) return undefined;
  const { image } = first;
  return {
    id: image.id,
    ...(image.parent !== undefined ? { parent: image.parent } : {}),
    json: image.json,
    complete: true,
    layer: {
      digest: image.blobSum,
      ...(image.size !== undefined ? { size: image.size } : {}),
      empty: image.throwaway && image.blobSum.digest === EMPTY_GZIP_TAR_DIGEST,
    },
    checksums: [],
    repositories: [...new Set(found.map((f) => f.repository))],
    source: 'v2',
  };
}

/** registry 0.9's tag metadata from the pushing client's User-Agent (`name/value` tokens). */
export function tagMetadata(userAgent: string | undefined, now: Date): TagMetadata {
  const tokens = new Map<string, string>();
  for (const m of (userAgent ?? '').matchAll(/([\w-]+)\/([^\s]+)/g)) tokens.set((m[1] ?? '').toLowerCase(), m[2] ?? '');
  return {
    last_update: Math.floor(now.getTime() / 1000),
    docker_version: tokens.get('docker') ?? null,
    docker_go_version: tokens.get('go') ?? null,
    arch: tokens.get('arch') ?? null,
    kernel: tokens.get('kernel') ?? null,
    os: tokens.get('os') ?? null,
  };
}

/** Tags resolved at once when listing (each needs a manifest and a config read). */
const TAG_CONCURRENCY = 16;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface V1StoreOptions extends ImageOptions {
  /** Write bridge records (off when storage is read-only). */
  readonly recordBridge: boolean;
}

export class V1Store {
  readonly images: PushedImages;
  readonly bridge: V1Bridge;
  private readonly driver: StorageDriver;

  constructor(
    private readonly registry: Registry,
    private readonly options: V1StoreOptions,
  ) {
    this.driver = registry.driver;
    this.images = new PushedImages(registry.driver, registry.blobs, options);
    this.bridge = new V1Bridge(registry, registry.driver);
  }

  // ---- images

  /** The image, pushed or bridged; undefined when the ID is unknown. */
  async image(id: string): Promise<V1ImageView | undefined> {
    const pushed = await this.images.get(id);
    if (pushed !== undefined) {
      return {
        id,
        ...(pushed.parent !== undefined ? { parent: pushed.parent } : {}),
        json: pushed.json,
        complete: pushed.complete,
        ...(pushed.layer !== undefined ? { layer: { digest: pushed.layer.digest, size: pushed.layer.size, empty: false } } : {}),
        checksums: pushed.checksums,
        repositories: pushed.repositories,
        source: 'v1',
      };
    }
    return bridgedView(await this.bridge.lookup(id));
  }

  /** [id, parent, …, base], or undefined when the ID is unknown. */
  async ancestry(id: string): Promise<string[] | undefined> {
    if ((await getOrUndefined(this.driver, v1Paths.imageJson(id))) !== undefined) return this.images.ancestry(id);
    const found = (await this.bridge.lookup(id))[0];
    if (found === undefined) return undefined;
    return found.chain.images
      .slice(0, found.position + 1)
      .map((i) => i.id)
      .reverse();
  }

  async putJson(id: string, body: Buffer): Promise<void> {
    await this.images.putJson(
      id,
      body,
      (parent) => this.ancestry(parent),
      (candidate) => this.bridge.known(candidate),
    );
  }

  // ---- tags

  /** The first candidate repository that exists (reads), see names.ts. */
  async repositoryFor(name: V1Name): Promise<string | undefined> {
    for (const candidate of name.candidates) if (await this.registry.repositoryExists(candidate)) return candidate;
    return undefined;
  }

  /** The v1 top image ID a v2 manifest stands for, or undefined when it has no v1 view. */
  async topImageOf(repository: string, digest: ParsedDigest): Promise<string | undefined> {
    const origin = (await getOrUndefined(this.driver, v1Paths.manifestOrigin(digest)))?.toString('utf8').trim();
    if (origin !== undefined && isV1Id(origin)) {
      const pushed = await this.images.get(origin);
      if (pushed?.complete === true) return origin;
    }
    const chain = await this.bridge.chainOf(repository, digest);
    if (chain === undefined) return undefined;
    // Read-only storage: IDs are still listed (they are computed), but only IDs recorded before
    // can be looked up by /v1/images/<id>/….
    if (this.options.recordBridge) await this.bridge.record(repository, chain);
    return chain.images[chain.images.length - 1]?.id;
  }

  /** tag → v1 image ID for every tag of the repository that has a v1 view. */
  async tagsIn(repository: string): Promise<Map<string, string>> {
    const names = await this.registry.tags.list(repository);
    const ids = await mapLimit(names, TAG_CONCURRENCY, async (tag) => {
      const digest = await this.registry.tags.resolve(repository, tag);
      return digest === undefined ? undefined : this.topImageOf(repository, digest);
    });
    const tags = new Map<string, string>();
    names.forEach((tag, i) => {
      const id = ids[i];
      if (id !== undefined) tags.set(tag, id);
    });
    return tags;
  }

  /** The v1 image ID of one tag, undefined when there is no such tag (or it has no v1 view). */
  async tagIn(repository: string, tag: string): Promise<string | undefined> {
    const digest = await this.registry.tags.resolve(repository, tag);
    return digest === undefined ? undefined : this.topImageOf(repository, digest);
  }

  async tagMetadata(repository: string, tag: string): Promise<TagMetadata | undefined> {
    const value = parseStoredJson(await getOrUndefined(this.driver, v1Paths.tag(repository, tag)));
    if (!isRecord(value) || typeof value['last_update'] !== 'number') return undefined;
    const text = (key: string): string | null => (typeof value[key] === 'string' ? (value[key] as string) : null);
    return {
      last_update: value['last_update'],
      docker_version: text('docker_version'),
      docker_go_version: text('docker_go_version'),
      arch: text('arch'),
      kernel: text('kernel'),
      os: text('os'),
    };
  }

  /** The layer blob of a chain entry with everything synthesis needs (diff_id, media type). */
  private async layerBlob(view: V1ImageView): Promise<V1LayerBlob> {
    if (view.layer === undefined) throw new RegistryError('V1_INVALID', { message: `Image ${view.id} has no layer` });
    if (view.layer.empty) return { digest: EMPTY_GZIP_TAR_DIGEST, size: 32, diffId: EMPTY_TAR_DIFF_ID, mediaType: MediaTypes.dockerLayerGzip };
    if (view.source === 'v1') {
      const pushed = await this.images.get(view.id);
      if (pushed?.layer !== undefined) {
        return { digest: pushed.layer.digest.digest, size: pushed.layer.size, diffId: pushed.layer.diffId, mediaType: pushed.layer.mediaType };
      }
    } else {
      const found = (await this.bridge.lookup(view.id))[0];
      const descriptor = found?.chain.descriptors.get(view.layer.digest.digest);
      if (found?.image.diffId !== undefined && descriptor !== undefined) {
        return { digest: descriptor.digest.digest, size: descriptor.size, diffId: found.image.diffId, mediaType: descriptor.mediaType };
      }
    }
    // schema1-bridged layers (or configs without diff_ids): read the blob once.
    const facts = await describeStream(await this.registry.blobs.open(view.layer.digest));
    return { digest: facts.digest, size: facts.size, diffId: facts.diffId, mediaType: facts.mediaType };
  }

  /**
   * Tags a complete image in a repository: synthesizes and stores its v2 manifest (see the module
   * comment) and records the v1 side. Returns the manifest digest.
   */
  async putTag(repository: string, tag: string, id: string, userAgent: string | undefined, now: Date): Promise<ParsedDigest> {
    const top = await this.image(id);
    if (top === undefined) throw notFound(id);
    if (!top.complete) throw new RegistryError('V1_IMAGE_IN_PROGRESS');
    const ancestry = await this.ancestry(id);
    if (ancestry === undefined) throw notFound(id);
    const entries: V1ChainEntry[] = [];
    const pushedIds: string[] = [];
    for (const ancestor of [...ancestry].reverse()) {
      const view = ancestor === id ? top : await this.image(ancestor);
      if (view === undefined) throw new RegistryError('V1_INVALID', { message: `Image ${ancestor} of the ancestry is missing` });
      if (!view.complete) throw new RegistryError('V1_IMAGE_IN_PROGRESS', { message: `Image ${ancestor} is being uploaded, retry later` });
      if (view.source === 'v1') pushedIds.push(ancestor);
      entries.push({ json: view.json, layer: await this.layerBlob(view) });
    }
    const image = synthesizeV2(entries);
    for (const layer of image.layers) {
      const digest = tryParseDigest(layer.digest);
      if (digest === undefined || (await this.registry.blobs.globalSize(digest)) === undefined) {
        throw new RegistryError('BLOB_UNKNOWN', { message: `layer blob ${layer.digest} is missing from the store` });
      }
      await this.registry.blobs.link(repository, digest);
    }
    const configDigest = tryParseDigest(image.configDigest);
    if (configDigest === undefined) throw new Error('internal: config digest');
    await this.registry.blobs.putSmall(configDigest, image.config);
    await this.registry.blobs.link(repository, configDigest);
    const result = await this.registry.manifests.put(repository, image.manifest, image.mediaType, undefined, [tag]);
    await this.driver.putContent(v1Paths.manifestOrigin(result.digest), Buffer.from(id));
    await Promise.all(pushedIds.map((p) => this.images.addOwner(p, repository)));
    await this.driver.putContent(v1Paths.tag(repository, tag), Buffer.from(JSON.stringify(tagMetadata(userAgent, now))));
    return result.digest;
  }

  /** Removes a tag (v2 tag and v1 metadata); false when it did not exist. */
  async deleteTag(repository: string, tag: string): Promise<boolean> {
    const removed = await this.registry.tags.delete(repository, tag);
    await deleteIfExists(this.driver, v1Paths.tag(repository, tag));
    return removed;
  }

  /** Removes every tag of the repository and its v1 records (images stay, as in registry 0.9). */
  async deleteRepository(name: V1Name): Promise<boolean> {
    const repository = await this.repositoryFor(name);
    const v1Repo = (await listOrEmpty(this.driver, v1Paths.repo(name.v2))).length > 0;
    if (repository === undefined && !v1Repo) return false;
    if (repository !== undefined) {
      const tags = await this.registry.tags.list(repository);
      await Promise.all(tags.map((t) => this.registry.tags.delete(repository, t)));
      await deleteIfExists(this.driver, v1Paths.tagsDir(repository));
      await deleteIfExists(this.driver, v1Paths.indexImages(repository));
    }
    await deleteIfExists(this.driver, v1Paths.tagsDir(name.v2));
    await deleteIfExists(this.driver, v1Paths.indexImages(name.v2));
    return true;
  }

  // ---- index role

  async indexImages(repository: string): Promise<IndexImage[] | undefined> {
    const value = parseStoredJson(await getOrUndefined(this.driver, v1Paths.indexImages(repository)));
    if (!Array.isArray(value)) return undefined;
    return value.filter(isRecord).flatMap((e) => {
      const { id, checksum } = e;
      if (typeof id !== 'string') return [];
      return [{ id, ...(typeof checksum === 'string' ? { checksum } : {}) }];
    });
  }

  /** Merges a pushed image list into the repository's (ids kept, checksums updated). */
  async mergeIndexImages(repository: string, images: readonly IndexImage[]): Promise<void> {
    const current = (await this.indexImages(repository)) ?? [];
    const byId = new Map<string, IndexImage>(current.map((i) => [i.id, i]));
    for (const image of images) {
      const old = byId.get(image.id);
      const checksum = image.checksum ?? old?.checksum;
      byId.set(image.id, checksum === undefined ? { id: image.id } : { id: image.id, checksum });
    }
    await this.driver.putContent(v1Paths.indexImages(repository), Buffer.from(JSON.stringify([...byId.values()])));
  }

  // ---- search

  /** Repositories whose v1 name contains `query` (case-insensitive), sorted. */
  async search(query: string, canPull: (repository: string) => Promise<boolean>): Promise<SearchResult[]> {
    const needle = query.toLowerCase();
    const all = await this.registry.catalog.all();
    const hits = all.filter((name) => v1DisplayName(name).toLowerCase().includes(needle));
    const allowed = await Promise.all(hits.map((name) => canPull(name)));
    return hits.filter((_, i) => allowed[i] === true).map((name) => ({ name: v1DisplayName(name), description: '' }));
  }
}
