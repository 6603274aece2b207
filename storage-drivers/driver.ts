/**
 * The storage driver contract.
 *
 * A driver is a path-addressed object store with a filesystem-shaped API and nothing else: it knows
 * no digests, manifests, tags or repositories. Paths are absolute, slash-separated, and match
 * {@link PATH_PATTERN} (the `checked()` wrapper enforces this before any backend call).
 *
 * The contract is shaped so object stores fit it without a rename primitive:
 * - `writer(path, {append})` returns a {@link FileWriter}. Content is complete and durable at `path`
 *   after `commit()` (S3: completing the multipart upload; Swift: writing the SLO manifest;
 *   filesystem: fsync). Before that, whether a reader sees it is backend-specific, so the registry
 *   never reads a writer's path before commit: blobs are written in the upload area, verified, and
 *   only then moved into the content store. `append: true` resumes a writer that was `close()`d
 *   earlier (a multipart upload in progress, a segment list, a growing file); its `size` tells how
 *   many bytes are already there. This is what chunked and resumable blob uploads are built on.
 * - `move(from, to)` may be a server-side copy followed by a delete on object stores.
 * - `putContent` is atomic: readers see the old content or the new, never a part.
 */
import type { Readable } from 'node:stream';

/** Legal driver paths: `/` or `/seg(/seg)*`, each segment of safe characters, no `.`/`..`. */
export const PATH_PATTERN = /^(\/[A-Za-z0-9._:+-]+)+$|^\/$/;

/** Metadata about one path. Directories are implicit on object stores (a prefix with children). */
export interface FileInfo {
  readonly path: string;
  readonly size: number;
  readonly modTime: Date;
  readonly isDir: boolean;
}

export interface ReadOptions {
  /** Byte offset to start at; past the end yields an empty stream (not an error). */
  readonly offset?: number;
  /** Read at most this many bytes (undefined: to the end). */
  readonly length?: number;
  readonly signal?: AbortSignal;
}

export interface GetContentOptions {
  /**
   * Refuse content larger than this many bytes with a ContentTooLargeError, before reading it
   * whole where the backend can tell the size first (the checked wrapper passes its cap here and
   * checks the result again, so a driver that ignores this only costs memory, never correctness).
   */
  readonly maxBytes?: number;
}

export interface WriterOptions {
  /** Resume the content a closed writer left at `path`; with nothing there, start empty (size 0). */
  readonly append?: boolean;
}

/**
 * A streaming writer. Promise-shaped: `await write(source)` as many times as needed, then either
 * `commit()` (content visible at the path) or `cancel()` (all of it removed). `close()` keeps what
 * was written so far resumable by a later `writer(path, {append: true})` without making it visible
 * as a finished object where the backend distinguishes the two.
 *
 * One `write()` at a time. If `commit()` or `close()` fails, only `cancel()` may follow (to remove
 * what is left); after any of the three succeeds the writer is finished. Every writer must be
 * finished: it may hold a file descriptor or an upload session until then.
 */
export interface FileWriter {
  /** Bytes in the file so far, including bytes from earlier sessions when appending. */
  readonly size: number;
  /**
   * Streams `source` to the end of the file; resolves with the number of bytes written. A chunk
   * belongs to the driver once yielded (it may be held until written: never modify it afterwards).
   * Errors raised by the source reject unchanged, an abort rejects with an AbortError; after
   * either, or a backend failure, `size` is what is really stored, so the caller can `close()` and
   * later resume from exactly there.
   */
  write(source: Readable | AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<number>;
  /** Makes the content visible at the path. The writer is finished afterwards. */
  commit(): Promise<void>;
  /** Discards everything written (this session and earlier ones). The writer is finished afterwards. */
  cancel(): Promise<void>;
  /** Persists what was written so it can be appended to later; the writer is finished afterwards. */
  close(): Promise<void>;
}

export interface RedirectOptions {
  readonly method: 'GET' | 'HEAD';
  /** Lifetime of the URL in seconds. */
  readonly expiresIn: number;
}

/** The contract every backend implements. About nine methods; everything else lives above it. */
export interface StorageDriver {
  readonly name: string;
  /** Throws PathNotFoundError when nothing exists at the path (as a file or a directory). */
  stat(path: string): Promise<FileInfo>;
  /** Small objects only (metadata, manifests); the checked wrapper caps the size. */
  getContent(path: string, options?: GetContentOptions): Promise<Buffer>;
  /** Atomically replaces the content at path (small objects only). */
  putContent(path: string, content: Uint8Array): Promise<void>;
  /**
   * Streams the file from an offset (`length` past the end: to the end). Throws PathNotFoundError
   * (also for a directory) and InvalidOffsetError (negative). The signal destroys the stream with
   * an AbortError.
   */
  reader(path: string, options?: ReadOptions): Promise<Readable>;
  writer(path: string, options?: WriterOptions): Promise<FileWriter>;
  /**
   * Names (full paths) of the direct children of a directory, files and directories alike,
   * unsorted. PathNotFoundError for a missing path or a file. Directories are implicit on object
   * stores (gone with their last file); on a filesystem an emptied directory may still list as `[]`.
   * `list('/')` of an empty driver returns `[]` or throws PathNotFoundError.
   */
  list(path: string): Promise<string[]>;
  /**
   * Moves a file (not a directory), creating the destination's parents and replacing any file at
   * the destination. PathNotFoundError if the source is missing.
   */
  move(from: string, to: string): Promise<void>;
  /**
   * Deletes a file or a whole directory tree (`/a/b` never touches `/a/bc`). PathNotFoundError if
   * nothing is there. `delete('/')` empties the driver.
   */
  delete(path: string): Promise<void>;
  /** A URL a client can fetch the content from directly, or undefined when not supported/configured. */
  redirectUrl?(path: string, options: RedirectOptions): Promise<string | undefined>;
}
