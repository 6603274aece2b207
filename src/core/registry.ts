/**
 * Assembles the core stores over one storage driver. Everything a protocol front end (v2, v1,
 * SmartOS, UI) needs from the registry is reached through this object; none of them touch the
 * driver directly.
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { BlobStore } from './blob-store.js';
import { Catalog } from './catalog.js';
import { HashCache } from './hash-cache.js';
import { KeyedLock } from './keyed-lock.js';
import { LinkCache } from './link-cache.js';
import { ManifestCache, type CacheHooks } from './manifest-cache.js';
import { ManifestStore } from './manifest-store.js';
import { paths } from './paths.js';
import { ReferrersStore } from './referrers.js';
import { exists } from './storage-helpers.js';
import { TagStore } from './tag-store.js';
import { UploadStore } from './uploads.js';
import { repositoryUsage, type RepositoryUsage } from './usage.js';

export interface RegistryOptions {
  readonly maxBlobBytes: number;
  readonly manifestCacheBytes: number;
  /**
   * How long this node may answer tag and link lookups from memory (`berth.cache.linkttl`, ms;
   * 0: always ask storage). Default 1000.
   */
  readonly linkTtlMs?: number;
  readonly now: () => Date;
  /** Counts manifest-cache hits and misses (metrics); none by default. */
  readonly manifestCacheHooks?: CacheHooks;
  /**
   * Called with the size of every fresh body buffer: upload chunks as they stream in (see
   * UploadStoreOptions) and, through {@link Registry.onBufferBytes}, blob bytes the HTTP layer sends
   * from readers that do not offer pooled chunks.
   */
  readonly onBufferBytes?: (bytes: number) => void;
}

export interface Registry {
  readonly driver: StorageDriver;
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  readonly manifests: ManifestStore;
  readonly tags: TagStore;
  readonly referrers: ReferrersStore;
  readonly catalog: Catalog;
  /** The node's cache of tag and link lookups (see link-cache.ts). */
  readonly links: LinkCache;
  repositoryExists(name: string): Promise<boolean>;
  /** Bytes the repository references in storage (usage.ts). */
  usage(name: string): Promise<RepositoryUsage>;
  /** RegistryOptions.onBufferBytes, for the senders of blob bodies. */
  readonly onBufferBytes?: (bytes: number) => void;
}

/** Default of `berth.cache.linkttl`. */
export const DEFAULT_LINK_TTL_MS = 1000;

export function createRegistry(driver: StorageDriver, options: RegistryOptions): Registry {
  const links = new LinkCache({ ttlMs: options.linkTtlMs ?? DEFAULT_LINK_TTL_MS });
  const blobs = new BlobStore(driver, links);
  const tags = new TagStore(driver, links);
  const referrers = new ReferrersStore(driver);
  const manifests = new ManifestStore(driver, blobs, tags, referrers, new ManifestCache(options.manifestCacheBytes, options.manifestCacheHooks), links);
  const uploads = new UploadStore(driver, blobs, new HashCache(), new KeyedLock(), {
    maxBlobBytes: options.maxBlobBytes,
    now: options.now,
    ...(options.onBufferBytes === undefined ? {} : { onBytes: options.onBufferBytes }),
  });
  return {
    driver,
    blobs,
    uploads,
    manifests,
    tags,
    referrers,
    catalog: new Catalog(driver),
    links,
    repositoryExists: (name) => exists(driver, paths.repo(name)),
    usage: (name) => repositoryUsage(driver, name),
    ...(options.onBufferBytes === undefined ? {} : { onBufferBytes: options.onBufferBytes }),
  };
}
