/**
 * The filesystem FileWriter: streams straight into the file at its path.
 *
 * The file is opened `O_APPEND` (plus `O_TRUNC` unless appending), so every write lands at the
 * end and `size` always equals the bytes in the file. Incoming chunks are batched (up to
 * {@link BATCH_BYTES}) and written with `writev`, one batch in flight while the next is being
 * collected, which keeps the disk busy without buffering more than two batches. If a write fails
 * or is aborted midway, `size` is re-read from the file, so `writer(path, {append: true})` resumes
 * exactly where the data ends. `commit()` fdatasyncs the file and its directory; `close()` only
 * closes; `cancel()` closes and unlinks.
 */
import { constants } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import type { FileWriter } from '../driver.js';
import { DriverError } from '../errors.js';
import { sourceChunks, type WriteSource } from '../source.js';
import { errorCode, fsCall, translateFsError } from './errors.js';
import { syncDirectory } from './sync.js';

/** Bytes collected before a batch is handed to `writev`. */
export const BATCH_BYTES = 1024 * 1024;
/** Chunks collected before a batch is written regardless of its size (bounds the iovec list). */
const BATCH_CHUNKS = 1024;
/**
 * Bytes written between background `fdatasync` calls. Flushing while the upload streams in keeps
 * the dirty page cache small, so the final `commit()` sync only waits for the last stretch
 * instead of the whole file.
 */
export const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

/** Opens (creating, truncating unless `append`) the file for a writer. The parent must exist. */
export async function openFileWriter(
  driverName: string,
  path: string,
  osPath: string,
  append: boolean,
): Promise<FilesystemWriter> {
  const flags =
    constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (append ? 0 : constants.O_TRUNC);
  const file = await fsCall(driverName, 'writer', path, 'io', () => open(osPath, flags, 0o644));
  try {
    const size = append ? (await file.stat()).size : 0;
    return new FilesystemWriter(driverName, path, osPath, file, size);
  } catch (error) {
    await file.close().catch(() => undefined);
    throw translateFsError(driverName, 'writer', path, 'io', error);
  }
}

export class FilesystemWriter implements FileWriter {
  #file: FileHandle | undefined;
  /** Set once commit, close or cancel succeeded; a failed commit/close still allows cancel. */
  #done = false;
  #size: number;
  /** Size when this writer was opened. */
  readonly #openedSize: number;
  #writing = false;
  /** Bytes written since the last background flush started. */
  #unflushed = 0;
  /** The background fdatasync in flight, if any (never rejects; see #flushError). */
  #flushing: Promise<void> | undefined;
  #flushError: unknown;

  constructor(
    private readonly driverName: string,
    private readonly path: string,
    private readonly osPath: string,
    file: FileHandle,
    size: number,
  ) {
    this.#file = file;
    this.#size = size;
    this.#openedSize = size;
  }

  get size(): number {
    return this.#size;
  }

  async write(source: WriteSource, signal?: AbortSignal): Promise<number> {
    const file = this.openFile('write');
    if (this.#writing) throw this.error('write', 'a write is already in progress');
    this.#writing = true;
    const chunks = sourceChunks(source, signal);
    const start = this.#size;
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    let inFlight: Promise<void> | undefined;
    let failure: unknown;

    const launch = (): void => {
      const buffers = batch;
      const bytes = batchBytes;
      batch = [];
      batchBytes = 0;
      inFlight = writeAll(file, buffers).then(
        () => {
          this.#size += bytes;
          this.#unflushed += bytes;
          if (this.#unflushed >= FLUSH_EVERY_BYTES && this.#flushing === undefined) this.startFlush(file);
        },
        (error: unknown) => {
          failure ??= translateFsError(this.driverName, 'write', this.path, 'io', error);
        },
      );
    };
    const settle = async (): Promise<void> => {
      await inFlight;
      inFlight = undefined;
      if (failure !== undefined) throw failure;
    };

    try {
      for (let chunk = await chunks.next(); chunk !== undefined; chunk = await chunks.next()) {
        batch.push(chunk);
        batchBytes += chunk.byteLength;
        if (batchBytes >= BATCH_BYTES || batch.length >= BATCH_CHUNKS) {
          await settle();
          launch();
        }
      }
      await settle();
      if (batchBytes > 0) {
        launch();
        await settle();
      }
      return this.#size - start;
    } catch (error) {
      chunks.stop();
      await inFlight;
      // After a failure the kernel may have taken part of a batch: ask the file.
      this.#size = await file.stat().then(
        (stats) => stats.size,
        () => this.#size,
      );
      throw error;
    } finally {
      this.#writing = false;
    }
  }

  /** Starts a background fdatasync; a failure is reported by the next commit. */
  private startFlush(file: FileHandle): void {
    this.#unflushed = 0;
    this.#flushing = file.datasync().then(
      () => {
        this.#flushing = undefined;
      },
      (error: unknown) => {
        this.#flushing = undefined;
        this.#flushError ??= error;
      },
    );
  }

  async commit(): Promise<void> {
    const file = this.openFile('commit');
    this.#file = undefined;
    try {
      await this.#flushing;
      if (this.#flushError !== undefined) throw translateFsError(this.driverName, 'commit', this.path, 'io', this.#flushError);
      await fsCall(this.driverName, 'commit', this.path, 'io', () => file.datasync());
    } finally {
      await fsCall(this.driverName, 'commit', this.path, 'io', () => file.close());
    }
    await syncDirectory(this.driverName, this.path, this.osPath);
    this.#done = true;
  }

  async close(): Promise<void> {
    const file = this.openFile('close');
    this.#file = undefined;
    this.#done = true;
    // A chunked upload opens a writer per chunk, so no single session reaches FLUSH_EVERY_BYTES:
    // when this session carried the file across a flush boundary, flush in the background (the
    // data is already visible to the next writer; commit() does the sync durability relies on).
    const crossed = Math.floor(this.#size / FLUSH_EVERY_BYTES) > Math.floor(this.#openedSize / FLUSH_EVERY_BYTES);
    if (!crossed && this.#flushing === undefined) {
      await fsCall(this.driverName, 'close', this.path, 'io', () => file.close());
      return;
    }
    const flushing = this.#flushing;
    void (async () => {
      await flushing;
      if (crossed) await file.datasync().catch(() => undefined);
      await file.close().catch(() => undefined);
    })();
  }

  async cancel(): Promise<void> {
    if (this.#done) throw this.error('cancel', 'the writer is finished');
    const file = this.#file;
    this.#file = undefined;
    await this.#flushing;
    await file?.close().catch(() => undefined);
    try {
      await unlink(this.osPath);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') {
        throw translateFsError(this.driverName, 'cancel', this.path, 'io', error);
      }
    }
    this.#size = 0;
    this.#done = true;
  }

  private openFile(op: string): FileHandle {
    if (this.#file === undefined) throw this.error(op, 'the writer is finished');
    return this.#file;
  }

  private error(op: string, why: string): DriverError {
    return new DriverError(this.driverName, `writer.${op}: ${why}`, this.path);
  }
}

/** `writev` until every byte of `buffers` is written (the kernel may take fewer). */
async function writeAll(file: FileHandle, buffers: Uint8Array[]): Promise<void> {
  let pending = buffers;
  while (pending.length > 0) {
    const { bytesWritten } = await file.writev(pending);
    if (bytesWritten <= 0) throw new Error('writev wrote no bytes');
    pending = dropBytes(pending, bytesWritten);
  }
}

function dropBytes(buffers: Uint8Array[], count: number): Uint8Array[] {
  let left = count;
  let index = 0;
  while (index < buffers.length) {
    const buffer = buffers[index];
    if (buffer === undefined || left < buffer.byteLength) break;
    left -= buffer.byteLength;
    index += 1;
  }
  const rest = buffers.slice(index);
  const first = rest[0];
  if (first !== undefined && left > 0) rest[0] = first.subarray(left);
  return rest;
}
