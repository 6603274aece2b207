/**
 * The `filesystem` driver: driver paths are files under a root directory.
 *
 * `createFilesystemDriver({ rootDirectory })` returns the driver; it does not touch the disk until
 * called (the factory in `storage-drivers/index.ts` creates the root). Operations map onto
 * `fs/promises`: `putContent` writes a temp file next to the target, fdatasyncs it and renames it
 * over the target (atomic); writers stream into the file itself (`writer.ts`); readers stream a
 * byte range (`reader.ts`; pooled reads from a per-driver buffer pool, see `../pooled-chunks.ts`);
 * `move` renames, copying across devices; `delete` is recursive. Errors are translated by
 * `errors.ts`. Durability and known gaps are described in README.md.
 */
import { copyFile, lstat, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type {
  FileInfo,
  FileWriter,
  GetContentOptions,
  ReadOptions,
  StorageDriver,
  WriterOptions,
} from '../driver.js';
import { ContentTooLargeError, DriverError, PathNotFoundError } from '../errors.js';
import { BufferPool } from '../pooled-chunks.js';
import { errorCode, fsCall, translateFsError } from './errors.js';
import { createPathMapper, isListed, tempPathFor } from './paths.js';
import { FileRangeReader } from './reader.js';
import { syncDirectory } from './sync.js';
import { openFileWriter } from './writer.js';

const NAME = 'filesystem';

export interface FilesystemDriverOptions {
  /** Directory holding all content; created on first write if missing. */
  readonly rootDirectory: string;
  /** Bytes per read of a reader stream (default 1 MiB). */
  readonly readChunkBytes?: number;
  /** Idle read buffers kept for reuse by pooled reads (default {@link DEFAULT_POOLED_BUFFERS}). */
  readonly pooledBuffers?: number;
}

/**
 * Idle read buffers the driver keeps: one pull keeps at most its socket queue (4 MiB) plus two
 * chunks outstanding, so eight 1 MiB buffers serve a pull, or a few concurrent ones, without any
 * allocation; more concurrent pulls allocate the rest and leave it to the GC.
 */
export const DEFAULT_POOLED_BUFFERS = 8;

/** Default read size of reader streams. */
export const DEFAULT_READ_CHUNK_BYTES = 1024 * 1024;

export function createFilesystemDriver(options: FilesystemDriverOptions): StorageDriver {
  const paths = createPathMapper(NAME, options.rootDirectory);
  const readChunk = options.readChunkBytes ?? DEFAULT_READ_CHUNK_BYTES;
  const pool = new BufferPool(readChunk, options.pooledBuffers ?? DEFAULT_POOLED_BUFFERS);

  /** OS path of a driver path that must name a file (not the root). */
  const filePath = (op: string, path: string): string => {
    const osPath = paths.toOs(path);
    if (osPath === paths.root) throw new DriverError(NAME, `${op}: the root is not a file`, path);
    return osPath;
  };

  const makeParent = (op: string, path: string, osPath: string): Promise<unknown> =>
    fsCall(NAME, op, path, 'io', () => mkdir(dirname(osPath), { recursive: true }));

  return {
    name: NAME,

    async stat(path: string): Promise<FileInfo> {
      const info = await fsCall(NAME, 'stat', path, 'lookup', () => stat(paths.toOs(path)));
      const isDir = info.isDirectory();
      return { path, size: isDir ? 0 : info.size, modTime: info.mtime, isDir };
    },

    async getContent(path: string, getOptions: GetContentOptions = {}): Promise<Buffer> {
      const osPath = filePath('getContent', path);
      const file = await fsCall(NAME, 'getContent', path, 'lookup', () => open(osPath, 'r'));
      try {
        const info = await file.stat();
        if (info.isDirectory()) throw new PathNotFoundError(NAME, path);
        const limit = getOptions.maxBytes;
        if (limit !== undefined && info.size > limit) {
          throw new ContentTooLargeError(
            NAME,
            `getContent: ${info.size} bytes exceed the ${limit}-byte limit`,
            path,
          );
        }
        return await file.readFile();
      } catch (error) {
        throw translateFsError(NAME, 'getContent', path, 'lookup', error);
      } finally {
        await file.close().catch(() => undefined);
      }
    },

    async putContent(path: string, content: Uint8Array): Promise<void> {
      const osPath = filePath('putContent', path);
      await makeParent('putContent', path, osPath);
      const temp = tempPathFor(osPath);
      try {
        const file = await open(temp, 'wx', 0o644);
        try {
          await file.writeFile(content);
          await file.datasync();
        } finally {
          await file.close();
        }
        await rename(temp, osPath);
      } catch (error) {
        await unlink(temp).catch(() => undefined);
        throw translateFsError(NAME, 'putContent', path, 'io', error);
      }
      await syncDirectory(NAME, path, osPath);
    },

    async reader(path: string, readOptions: ReadOptions = {}): Promise<Readable> {
      const osPath = filePath('reader', path);
      const file = await fsCall(NAME, 'reader', path, 'lookup', () => open(osPath, 'r'));
      let size: number;
      try {
        const info = await file.stat();
        if (info.isDirectory()) throw new PathNotFoundError(NAME, path);
        size = info.size;
      } catch (error) {
        await file.close().catch(() => undefined);
        throw translateFsError(NAME, 'reader', path, 'lookup', error);
      }
      const start = Math.min(readOptions.offset ?? 0, size);
      const end = readOptions.length === undefined ? size : Math.min(size, start + readOptions.length);
      return new FileRangeReader(file, {
        driverName: NAME,
        path,
        start,
        end,
        chunkSize: readChunk,
        pool,
        ...(readOptions.signal === undefined ? {} : { signal: readOptions.signal }),
      });
    },

    async writer(path: string, writerOptions: WriterOptions = {}): Promise<FileWriter> {
      const osPath = filePath('writer', path);
      await makeParent('writer', path, osPath);
      return openFileWriter(NAME, path, osPath, writerOptions.append === true);
    },

    async list(path: string): Promise<string[]> {
      const names = await fsCall(NAME, 'list', path, 'lookup', () => readdir(paths.toOs(path)));
      return names.filter(isListed).map((name) => paths.child(path, name));
    },

    async move(from: string, to: string): Promise<void> {
      const source = filePath('move', from);
      const target = filePath('move', to);
      const info = await fsCall(NAME, 'move', from, 'lookup', () => lstat(source));
      if (info.isDirectory()) throw new DriverError(NAME, 'move: the source is a directory', from);
      if (source === target) return;
      await makeParent('move', to, target);
      try {
        await rename(source, target);
      } catch (error) {
        const code = errorCode(error);
        if (code === 'EXDEV') await copyAcrossDevices(from, to, source, target);
        else if (code === 'ENOENT') throw new PathNotFoundError(NAME, from);
        else throw translateFsError(NAME, 'move', to, 'io', error);
      }
      await syncDirectory(NAME, to, target);
    },

    async delete(path: string): Promise<void> {
      const osPath = paths.toOs(path);
      if (osPath !== paths.root) {
        await fsCall(NAME, 'delete', path, 'lookup', () => rm(osPath, { recursive: true }));
        return;
      }
      // The root itself stays; everything in it goes (temp files included).
      const names = await fsCall(NAME, 'delete', path, 'lookup', () => readdir(osPath)).catch(
        (error: unknown) => {
          if (error instanceof PathNotFoundError) return [];
          throw error;
        },
      );
      for (const name of names) {
        await fsCall(NAME, 'delete', path, 'io', () =>
          rm(join(osPath, name), { recursive: true, force: true }),
        );
      }
    },
  };
}

/** `move` across devices (a root spanning mounts): copy to a temp file, rename, unlink the source. */
async function copyAcrossDevices(from: string, to: string, source: string, target: string): Promise<void> {
  const temp = tempPathFor(target);
  try {
    await copyFile(source, temp, 0);
    const file = await open(temp, 'r+');
    try {
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    if (errorCode(error) === 'ENOENT') throw new PathNotFoundError(NAME, from);
    throw translateFsError(NAME, 'move', to, 'io', error);
  }
  await fsCall(NAME, 'move', from, 'io', () => unlink(source));
}
