/**
 * Content-addressed blobs: the global store (`blobs/<alg>/…/data`) and their links into
 * repositories (`_layers`). A blob is visible in a repository only when both its data and its link
 * exist, and its data only ever arrives by moving a verified upload into place, so no reader can
 * see a partial blob. Never buffers blob content.
 *
 * Online garbage collection (src/ops/gc): every path that is about to make a repository reference
 * an existing blob (upload commit, small-content store, mount, manifest put) first `touch`es it and
 * only then checks that it exists. The collector hides a candidate's data and then re-reads the
 * touch, so either the writer sees the blob missing (and fails safe or re-stores it) or the
 * collector sees the touch (and puts the data back).
 *
 * "Linked into the repository" and "the data exists, N bytes" are answered through the node's link
 * cache (link-cache.ts; positive answers only, for at most `berth.cache.linkttl`): an unlink on
 * this node is seen here at once, one on another node (or a garbage collection that removed the
 * data) within the bound. Past the bound nothing cached can make a deleted blob servable, and
 * within it a GET of data that is really gone still answers BLOB_UNKNOWN (the read fails before
 * any byte is sent); only a HEAD may still answer 200 during that window.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { PathNotFoundError } from '../../storage-drivers/errors.js';
import { RegistryError } from '../errors/registry-error.js';
import type { ParsedDigest } from './digest.js';
import { LinkCache, linkKeys } from './link-cache.js';
import { paths } from './paths.js';
import { deleteIfExists, exists, sizeOrUndefined } from './storage-helpers.js';

export interface BlobReadOptions {
  readonly offset?: number;
  readonly length?: number;
  readonly signal?: AbortSignal;
}

export class BlobStore {
  constructor(
    private readonly driver: StorageDriver,
    private readonly cache: LinkCache = new LinkCache({ ttlMs: 0 }),
  ) {}

  /** Size of the blob in the global store, or undefined. */
  async globalSize(digest: ParsedDigest): Promise<number | undefined> {
    return this.cache.get(
      linkKeys.blob(digest.digest),
      () => sizeOrUndefined(this.driver, paths.blobData(digest)),
      (size) => size !== undefined,
    );
  }

  /** Size of the blob if it is linked into the repository, or undefined. */
  async sizeInRepo(name: string, digest: ParsedDigest): Promise<number | undefined> {
    const [linked, size] = await Promise.all([this.isLinked(name, digest), this.globalSize(digest)]);
    return linked ? size : undefined;
  }

  async isLinked(name: string, digest: ParsedDigest): Promise<boolean> {
    return this.cache.get(
      linkKeys.layer(name, digest.digest),
      () => exists(this.driver, paths.layerLink(name, digest)),
      (linked) => linked,
    );
  }

  /** Streams blob bytes; BLOB_UNKNOWN when the data is gone. */
  async open(digest: ParsedDigest, options: BlobReadOptions = {}): Promise<Readable> {
    try {
      return await this.driver.reader(paths.blobData(digest), options);
    } catch (error) {
      if (error instanceof PathNotFoundError) throw new RegistryError('BLOB_UNKNOWN', { detail: { digest: digest.digest } });
      throw error;
    }
  }

  /** A direct backend URL for the blob, when the driver offers one. */
  async redirectUrl(digest: ParsedDigest, method: 'GET' | 'HEAD', expiresIn: number): Promise<string | undefined> {
    if (this.driver.redirectUrl === undefined) return undefined;
    return this.driver.redirectUrl(paths.blobData(digest), { method, expiresIn });
  }

  async link(name: string, digest: ParsedDigest): Promise<void> {
    const key = linkKeys.layer(name, digest.digest);
    try {
      await this.driver.putContent(paths.layerLink(name, digest), Buffer.from(digest.digest));
    } catch (error) {
      this.cache.invalidate(key);
      throw error;
    }
    this.cache.set(key, true);
  }

  /** Removes the blob from the repository (the data stays until garbage collection). */
  async unlink(name: string, digest: ParsedDigest): Promise<boolean> {
    try {
      return await deleteIfExists(this.driver, paths.layerDir(name, digest));
    } finally {
      this.cache.invalidate(linkKeys.layer(name, digest.digest));
    }
  }

  /**
   * Forgets what this node knows about the blob's data (call after deleting it, e.g. from a
   * garbage collector running in this process).
   */
  forgetData(digest: ParsedDigest): void {
    this.cache.invalidate(linkKeys.blob(digest.digest));
  }

  /**
   * Moves verified upload data into the content store. If the blob already exists (another push of
   * the same content won), the upload copy is simply discarded: content addressing makes both
   * outcomes identical.
   */
  async adopt(uploadDataPath: string, digest: ParsedDigest): Promise<void> {
    await this.touch(digest);
    const target = paths.blobData(digest);
    if (await exists(this.driver, target)) {
      await deleteIfExists(this.driver, uploadDataPath);
      return;
    }
    try {
      await this.driver.move(uploadDataPath, target);
    } finally {
      this.cache.invalidate(linkKeys.blob(digest.digest));
    }
  }

  /** Stores small content (manifests) directly under its digest; atomic via putContent. */
  async putSmall(digest: ParsedDigest, bytes: Uint8Array): Promise<void> {
    await this.touch(digest);
    const target = paths.blobData(digest);
    if (await exists(this.driver, target)) return;
    try {
      await this.driver.putContent(target, bytes);
    } finally {
      this.cache.invalidate(linkKeys.blob(digest.digest));
    }
  }

  /**
   * Marks the blob as about to be referenced (see the module comment): call BEFORE checking that it
   * exists. A unique value each time, so a collector can tell that it changed. It also drops what
   * this node's link cache knows about the blob's data, so the existence check that follows reads
   * storage: a cached "exists" from before a collection hid the data would defeat the protocol.
   */
  async touch(digest: ParsedDigest): Promise<void> {
    this.cache.invalidate(linkKeys.blob(digest.digest));
    await this.driver.putContent(paths.blobTouch(digest), Buffer.from(`${new Date().toISOString()} ${randomUUID()}`));
    this.cache.invalidate(linkKeys.blob(digest.digest));
  }

  async getSmall(digest: ParsedDigest): Promise<Buffer | undefined> {
    try {
      return await this.driver.getContent(paths.blobData(digest));
    } catch (error) {
      if (error instanceof PathNotFoundError) return undefined;
      throw error;
    }
  }
}
