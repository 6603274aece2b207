/**
 * The `inmemory` driver: a Map from file path to immutable chunks, the default test double.
 *
 * Directories are implicit, as on object stores: a directory exists while some file lies below
 * it, and `list` derives direct children (files and directories) from the file paths. Semantics
 * otherwise follow the filesystem driver: a file cannot be written where a directory is, or below
 * a file; `move` moves files only; `delete` is recursive and never matches sibling prefixes
 * (`/a/b` leaves `/a/bc` alone). Writer data becomes visible at its path on `commit()` or
 * `close()` (both keep it resumable by `writer(path, {append: true})`); `cancel()` removes it.
 * Stored chunks are copies and never mutated, so readers see a stable snapshot.
 */
import { Readable } from 'node:stream';
import type {
  FileInfo,
  FileWriter,
  GetContentOptions,
  ReadOptions,
  StorageDriver,
  WriterOptions,
} from '../driver.js';
import { ContentTooLargeError, DriverError, PathNotFoundError } from '../errors.js';
import { sourceChunks, type WriteSource } from '../source.js';

const NAME = 'inmemory';
/** Largest chunk a reader pushes at once. */
const READ_CHUNK = 1024 * 1024;

interface StoredFile {
  readonly chunks: readonly Buffer[];
  readonly size: number;
  readonly modTime: Date;
}

/** Creates an empty in-memory driver. Each call has its own, independent store. */
export function createInMemoryDriver(): StorageDriver {
  const files = new Map<string, StoredFile>();

  const childPrefix = (path: string): string => (path === '/' ? '/' : `${path}/`);

  const descendants = (path: string): Array<[string, StoredFile]> => {
    const prefix = childPrefix(path);
    return [...files].filter(([key]) => key.startsWith(prefix));
  };

  const fileAt = (path: string): StoredFile => {
    const file = files.get(path);
    if (file === undefined) throw new PathNotFoundError(NAME, path);
    return file;
  };

  /** Throws unless a file may be stored at `path` (not the root, not a directory, no file above). */
  const assertWritable = (path: string): void => {
    if (path === '/' || !path.startsWith('/')) throw new DriverError(NAME, 'not a file path', path);
    if (descendants(path).length > 0) throw new DriverError(NAME, 'a directory exists at the path', path);
    for (let end = path.indexOf('/', 1); end > 0; end = path.indexOf('/', end + 1)) {
      if (files.has(path.slice(0, end))) {
        throw new DriverError(NAME, `${path.slice(0, end)} is a file, not a directory`, path);
      }
    }
  };

  const store = (path: string, chunks: readonly Buffer[], size: number): void => {
    assertWritable(path);
    files.set(path, { chunks, size, modTime: new Date() });
  };

  return {
    name: NAME,

    async stat(path: string): Promise<FileInfo> {
      const file = files.get(path);
      if (file !== undefined) {
        return { path, size: file.size, modTime: new Date(file.modTime), isDir: false };
      }
      const below = descendants(path);
      if (below.length === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
      const newest = below.reduce((latest, [, f]) => Math.max(latest, f.modTime.getTime()), 0);
      return { path, size: 0, modTime: new Date(newest), isDir: true };
    },

    async getContent(path: string, options: GetContentOptions = {}): Promise<Buffer> {
      const file = fileAt(path);
      if (options.maxBytes !== undefined && file.size > options.maxBytes) {
        throw new ContentTooLargeError(
          NAME,
          `getContent: ${file.size} bytes exceed the ${options.maxBytes}-byte limit`,
          path,
        );
      }
      return Buffer.concat(file.chunks, file.size);
    },

    async putContent(path: string, content: Uint8Array): Promise<void> {
      store(path, [Buffer.from(content)], content.byteLength);
    },

    async reader(path: string, options: ReadOptions = {}): Promise<Readable> {
      const file = fileAt(path);
      const start = Math.min(options.offset ?? 0, file.size);
      const end = options.length === undefined ? file.size : Math.min(file.size, start + options.length);
      return Readable.from(slices(file.chunks, start, end), {
        objectMode: false,
        highWaterMark: READ_CHUNK,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    },

    async writer(path: string, options: WriterOptions = {}): Promise<FileWriter> {
      assertWritable(path);
      const existing = options.append === true ? files.get(path) : undefined;
      return new InMemoryWriter(path, existing, store, () => {
        files.delete(path);
      });
    },

    async list(path: string): Promise<string[]> {
      const prefix = childPrefix(path);
      const children = new Set<string>();
      for (const key of files.keys()) {
        if (!key.startsWith(prefix)) continue;
        const end = key.indexOf('/', prefix.length);
        children.add(end < 0 ? key : key.slice(0, end));
      }
      if (children.size === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
      return [...children];
    },

    async move(from: string, to: string): Promise<void> {
      const file = files.get(from);
      if (file === undefined) {
        if (descendants(from).length > 0) throw new DriverError(NAME, 'move: source is a directory', from);
        throw new PathNotFoundError(NAME, from);
      }
      if (from === to) return;
      // Checked with the source still in place, as a rename would see the tree.
      assertWritable(to);
      files.delete(from);
      store(to, file.chunks, file.size);
    },

    async delete(path: string): Promise<void> {
      const below = descendants(path);
      const found = files.delete(path);
      for (const [key] of below) files.delete(key);
      if (!found && below.length === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
    },
  };
}

/** Yields the bytes `[start, end)` of a chunk list, at most READ_CHUNK bytes at a time. */
function* slices(chunks: readonly Buffer[], start: number, end: number): Generator<Buffer> {
  let position = 0;
  for (const chunk of chunks) {
    const chunkEnd = position + chunk.byteLength;
    if (chunkEnd > start && position < end) {
      let from = Math.max(start, position) - position;
      const to = Math.min(end, chunkEnd) - position;
      while (from < to) {
        const step = Math.min(to, from + READ_CHUNK);
        yield chunk.subarray(from, step);
        from = step;
      }
    }
    position = chunkEnd;
    if (position >= end) return;
  }
}

/** Collects chunks privately; publishes them at the path on commit/close. */
class InMemoryWriter implements FileWriter {
  readonly #chunks: Buffer[];
  #size: number;
  #finished = false;

  constructor(
    private readonly path: string,
    existing: StoredFile | undefined,
    private readonly publish: (path: string, chunks: readonly Buffer[], size: number) => void,
    private readonly remove: () => void,
  ) {
    this.#chunks = existing === undefined ? [] : [...existing.chunks];
    this.#size = existing?.size ?? 0;
  }

  get size(): number {
    return this.#size;
  }

  async write(source: WriteSource, signal?: AbortSignal): Promise<number> {
    this.assertOpen('write');
    const chunks = sourceChunks(source, signal);
    let written = 0;
    try {
      for (let chunk = await chunks.next(); chunk !== undefined; chunk = await chunks.next()) {
        // Copy: the caller may reuse its buffer once the chunk has been consumed.
        this.#chunks.push(Buffer.from(chunk));
        this.#size += chunk.byteLength;
        written += chunk.byteLength;
      }
      return written;
    } finally {
      chunks.stop();
    }
  }

  async commit(): Promise<void> {
    this.assertOpen('commit');
    this.publish(this.path, [...this.#chunks], this.#size);
    this.#finished = true;
  }

  async close(): Promise<void> {
    this.assertOpen('close');
    this.publish(this.path, [...this.#chunks], this.#size);
    this.#finished = true;
  }

  async cancel(): Promise<void> {
    this.#finished = true;
    this.#chunks.length = 0;
    this.#size = 0;
    this.remove();
  }

  private assertOpen(op: string): void {
    if (this.#finished) throw new DriverError(NAME, `writer.${op}: the writer is finished`, this.path);
  }
}
