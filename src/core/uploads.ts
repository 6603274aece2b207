/**
 * Blob upload sessions. All state is in storage (`_uploads/<id>/{startedat,data}`), so any Berth
 * process on the same storage can continue an upload another one started. Data is appended with the
 * driver's resumable writer; the digest is computed while the bytes stream through (live hash kept
 * per process, see hash-cache.ts, with a re-read fallback), verified on completion, and only then
 * is the data moved into the content store. A digest mismatch discards the upload: nothing is
 * stored.
 */
import { randomUUID } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FileWriter, StorageDriver } from '../../storage-drivers/driver.js';
import { RegistryError } from '../errors/registry-error.js';
import type { BlobStore } from './blob-store.js';
import { hashToDigest, newHash, type Algorithm, type ParsedDigest } from './digest.js';
import type { HashCache } from './hash-cache.js';
import type { KeyedLock } from './keyed-lock.js';
import { paths } from './paths.js';
import { deleteIfExists, getOrUndefined } from './storage-helpers.js';

export const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface UploadSession {
  readonly name: string;
  readonly id: string;
  readonly startedAt: string;
}

export interface AppendOptions {
  /** Content-Range start, when the client sent one: must equal the current size. */
  readonly start?: number;
  /** Declared body length (Content-Length or Content-Range), verified against the bytes received. */
  readonly length?: number;
  readonly signal?: AbortSignal;
}

export interface UploadStoreOptions {
  /** Largest blob accepted, in bytes (0: unlimited). */
  readonly maxBlobBytes: number;
  readonly now: () => Date;
  /**
   * Called with the size of every body chunk as it streams in. The process uses it to pace young
   * garbage collections: request bodies arrive as fresh buffers (external memory to V8) that only
   * a scavenge frees (see src/cli/heap-settings.ts).
   */
  readonly onBytes?: (bytes: number) => void;
}

export class UploadStore {
  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly hashes: HashCache,
    private readonly locks: KeyedLock,
    private readonly options: UploadStoreOptions,
  ) {}

  async start(name: string): Promise<UploadSession> {
    const id = randomUUID();
    const startedAt = this.options.now().toISOString();
    await this.driver.putContent(paths.uploadStartedAt(name, id), Buffer.from(startedAt));
    return { name, id, startedAt };
  }

  async get(name: string, id: string): Promise<UploadSession> {
    if (!UPLOAD_ID.test(id)) throw unknownUpload(id);
    const startedAt = await getOrUndefined(this.driver, paths.uploadStartedAt(name, id));
    if (startedAt === undefined) throw unknownUpload(id);
    return { name, id, startedAt: startedAt.toString() };
  }

  /** Bytes received so far. */
  async size(name: string, id: string): Promise<number> {
    return this.locks.run(lockKey(name, id), async () => {
      await this.get(name, id);
      const writer = await this.driver.writer(paths.uploadData(name, id), { append: true });
      const size = writer.size;
      await writer.close();
      return size;
    });
  }

  /** Appends a chunk (PATCH); returns the new size. */
  async append(name: string, id: string, source: Readable, options: AppendOptions = {}): Promise<number> {
    return this.locks.run(lockKey(name, id), async () => {
      const key = lockKey(name, id);
      const chunk = await this.openChunk(name, id, 'sha256', options);
      const written = await this.writeChunk(chunk, source, options);
      await chunk.writer.close();
      const size = chunk.startSize + written;
      if (chunk.hash !== undefined) this.hashes.put(key, { algorithm: 'sha256', hash: chunk.hash, offset: size });
      return size;
    });
  }

  /**
   * Finishes the upload (PUT): appends the optional last chunk, verifies the digest over the whole
   * content, moves it into the content store and links it into the repository.
   */
  async complete(
    name: string,
    id: string,
    digest: ParsedDigest,
    source: Readable | undefined,
    options: AppendOptions = {},
  ): Promise<{ size: number }> {
    return this.locks.run(lockKey(name, id), async () => {
      const dataPath = paths.uploadData(name, id);
      const chunk = await this.openChunk(name, id, digest.algorithm, options);
      const written = source === undefined ? 0 : await this.writeChunk(chunk, source, options);
      await chunk.writer.commit();
      const size = chunk.startSize + written;
      let hash = chunk.hash;
      if (hash === undefined) hash = await this.rehash(dataPath, digest.algorithm, options.signal);
      const computed = hashToDigest(digest.algorithm, hash);
      if (computed !== digest.digest) {
        await deleteIfExists(this.driver, paths.uploadDir(name, id));
        throw new RegistryError('DIGEST_INVALID', {
          message: 'provided digest did not match uploaded content',
          detail: { expected: digest.digest, computed, size },
        });
      }
      await this.blobs.adopt(dataPath, digest);
      await this.blobs.link(name, digest);
      await deleteIfExists(this.driver, paths.uploadDir(name, id));
      return { size };
    });
  }

  async cancel(name: string, id: string): Promise<void> {
    await this.locks.run(lockKey(name, id), async () => {
      await this.get(name, id);
      this.hashes.delete(lockKey(name, id));
      await deleteIfExists(this.driver, paths.uploadDir(name, id));
    });
  }

  /**
   * Opens the upload's writer for one request: checks the session, that a Content-Range starts at
   * the current end, and takes the live hash if this process has one at exactly that offset.
   */
  private async openChunk(name: string, id: string, algorithm: Algorithm, options: AppendOptions): Promise<OpenChunk> {
    await this.get(name, id);
    const writer = await this.driver.writer(paths.uploadData(name, id), { append: true });
    const startSize = writer.size;
    if (options.start !== undefined && options.start !== startSize) {
      await writer.close();
      throw rangeInvalid(startSize);
    }
    const hash = this.hashes.take(lockKey(name, id), startSize, algorithm) ?? (startSize === 0 ? newHash(algorithm) : undefined);
    return { writer, startSize, hash };
  }

  /** Streams one request body into the upload; on failure the writer is closed, keeping what landed. */
  private async writeChunk(chunk: OpenChunk, source: Readable, options: AppendOptions): Promise<number> {
    const counter = { bytes: 0 };
    try {
      await chunk.writer.write(this.tap(source, chunk.hash, counter, chunk.startSize, options.length), options.signal);
    } catch (error) {
      await chunk.writer.close().catch(() => undefined);
      throw error;
    }
    return counter.bytes;
  }

  private async rehash(path: string, algorithm: Algorithm, signal: AbortSignal | undefined): Promise<Hash> {
    const hash = newHash(algorithm);
    const stream = await this.driver.reader(path, signal === undefined ? {} : { signal });
    for await (const chunk of stream) hash.update(chunk as Buffer);
    return hash;
  }

  /** Passes the body through, hashing and counting it, and enforcing the declared and maximum sizes. */
  private async *tap(
    source: Readable,
    hash: Hash | undefined,
    counter: { bytes: number },
    startSize: number,
    declared: number | undefined,
  ): AsyncGenerator<Uint8Array> {
    const max = this.options.maxBlobBytes;
    const onBytes = this.options.onBytes;
    for await (const chunk of source) {
      const buf = chunk as Buffer;
      counter.bytes += buf.length;
      onBytes?.(buf.length);
      if (declared !== undefined && counter.bytes > declared) {
        throw new RegistryError('SIZE_INVALID', { message: 'body longer than declared', detail: { declared } });
      }
      if (max > 0 && startSize + counter.bytes > max) {
        throw new RegistryError('SIZE_INVALID', { status: 413, message: 'blob exceeds the maximum size', detail: { max } });
      }
      hash?.update(buf);
      yield buf;
    }
    if (declared !== undefined && counter.bytes !== declared) {
      throw new RegistryError('SIZE_INVALID', {
        message: 'body shorter than declared',
        detail: { declared, received: counter.bytes },
      });
    }
  }
}

interface OpenChunk {
  readonly writer: FileWriter;
  readonly startSize: number;
  readonly hash: Hash | undefined;
}

function lockKey(name: string, id: string): string {
  return `${name}\u0000${id}`;
}

function unknownUpload(id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', { detail: { uuid: id.slice(0, 100) } });
}

function rangeInvalid(size: number): RegistryError {
  return new RegistryError('RANGE_INVALID', {
    message: 'chunk does not start at the end of the upload',
    detail: { size },
    headers: { Range: `0-${Math.max(size - 1, 0)}` },
  });
}
