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
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { PathNotFoundError } from '../../storage-drivers/errors.js';
import { RegistryError } from '../errors/registry-error.js';
import type { ParsedDigest } from './digest.js';
import { paths } from './paths.js';
import { deleteIfExists, exists, sizeOrUndefined } from './storage-helpers.js';

export interface BlobReadOptions {
  readonly offset?: number;
  readonly length?: number;
  readonly signal?: AbortSignal;
}

export class BlobStore {
  constructor(private readonly driver: StorageDriver) {}

  /** Size of the blob in the global store, or undefined. */
  async globalSize(digest: ParsedDigest): Promise<number | undefined> {
    return sizeOrUndefined(this.driver, paths.blobData(digest));
  }

  /** Size of the blob if it is linked into the repository, or undefined. */
  async sizeInRepo(name: string, digest: ParsedDigest): Promise<number | undefined> {
    const [linked, size] = await Promise.all([
      exists(this.driver, paths.layerLink(name, digest)),
      this.globalSize(digest),
    ]);
    return linked ? size : undefined;
  }

  async isLinked(name: string, digest: ParsedDigest): Promise<boolean> {
    return exists(this.driver, paths.layerLink(name, digest));
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
    await this.driver.putContent(paths.layerLink(name, digest), Buffer.from(digest.digest));
  }

  /** Removes the blob from the repository (the data stays until garbage collection). */
  async unlink(name: string, digest: ParsedDigest): Promise<boolean> {
    return deleteIfExists(this.driver, paths.layerDir(name, digest));
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
    await this.driver.move(uploadDataPath, target);
  }

  /** Stores small content (manifests) directly under its digest; atomic via putContent. */
  async putSmall(digest: ParsedDigest, bytes: Uint8Array): Promise<void> {
    await this.touch(digest);
    const target = paths.blobData(digest);
    if (await exists(this.driver, target)) return;
    await this.driver.putContent(target, bytes);
  }

  /**
   * Marks the blob as about to be referenced (see the module comment): call BEFORE checking that it
   * exists. A unique value each time, so a collector can tell that it changed.
   */
  async touch(digest: ParsedDigest): Promise<void> {
    await this.driver.putContent(paths.blobTouch(digest), Buffer.from(`${new Date().toISOString()} ${randomUUID()}`));
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
