/**
 * A Readable over a byte range of an open file, with large reads and translated errors.
 *
 * `fs.createReadStream` would do the reading, but its errors are raw fs errors; this small
 * Readable reads `chunkSize` bytes per call (1 MiB by default: few thread-pool round trips at
 * gigabytes per second) and turns read and close failures into driver errors. It owns the file
 * handle and closes it when it ends or is destroyed (including by its AbortSignal).
 *
 * With a buffer pool it also offers pooled mode (`../pooled-chunks.ts`): the same reads, into
 * reused buffers, one read ahead; the consumer releases each chunk and destroys the stream when
 * done (which closes the file).
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { POOLED_CHUNKS, type BufferPool, type PooledChunks } from '../pooled-chunks.js';
import { translateFsError } from './errors.js';

export interface RangeReaderOptions {
  readonly driverName: string;
  /** Driver path, for errors. */
  readonly path: string;
  readonly start: number;
  /** Exclusive end offset. */
  readonly end: number;
  readonly chunkSize: number;
  readonly signal?: AbortSignal;
  /** Buffers of `chunkSize` bytes for pooled mode; without one, pooled mode is not offered. */
  readonly pool?: BufferPool;
}

export class FileRangeReader extends Readable {
  readonly #file: FileHandle;
  readonly #options: RangeReaderOptions;
  #position: number;

  constructor(file: FileHandle, options: RangeReaderOptions) {
    super({
      highWaterMark: options.chunkSize,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    this.#file = file;
    this.#options = options;
    this.#position = options.start;
    if (options.pool === undefined || options.pool.bufferBytes !== options.chunkSize) {
      // Not offered: consumers see an ordinary Readable.
      Object.defineProperty(this, POOLED_CHUNKS, { value: undefined });
    }
  }

  override _read(): void {
    const want = Math.min(this.#options.chunkSize, this.#options.end - this.#position);
    if (want <= 0) {
      this.push(null);
      return;
    }
    const buffer = Buffer.allocUnsafe(want);
    this.#file.read(buffer, 0, want, this.#position).then(
      ({ bytesRead }) => {
        if (this.destroyed) return;
        if (bytesRead === 0) {
          // The file shrank under us: end where the data ends.
          this.push(null);
          return;
        }
        this.#position += bytesRead;
        this.push(bytesRead === want ? buffer : buffer.subarray(0, bytesRead));
      },
      (error: unknown) => {
        this.destroy(this.translate('read', error));
      },
    );
  }

  /** Pooled mode: reads into the pool's buffers, one read ahead of the consumer. */
  [POOLED_CHUNKS](): PooledChunks {
    const pool = this.#options.pool;
    if (pool === undefined) throw new Error('pooled mode needs a pool');
    let ahead: Promise<Buffer | null> | undefined;
    const readOne = async (): Promise<Buffer | null> => {
      const want = Math.min(this.#options.chunkSize, this.#options.end - this.#position);
      if (want <= 0) return null;
      if (this.destroyed) throw this.errored ?? Object.assign(new Error('the reader was closed before the end'), { name: 'AbortError', code: 'ABORT_ERR' });
      const buffer = pool.take();
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.#file.read(buffer, 0, want, this.#position));
      } catch (error) {
        pool.give(buffer);
        throw this.translate('read', error);
      }
      if (bytesRead === 0) {
        // The file shrank under us: end where the data ends.
        pool.give(buffer);
        this.#position = this.#options.end;
        return null;
      }
      this.#position += bytesRead;
      return bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    };
    return {
      next: async () => {
        const current = ahead ?? readOne();
        ahead = undefined;
        const chunk = await current;
        if (chunk !== null) {
          ahead = readOne();
          // A rejection is reported by the next call; do not let it count as unhandled meanwhile.
          ahead.catch(() => undefined);
        }
        return chunk;
      },
      release: (chunk) => pool.give(chunk),
    };
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#file.close().then(
      () => callback(error),
      (closeError: unknown) => callback(error ?? this.translate('close', closeError)),
    );
  }

  private translate(op: string, error: unknown): Error {
    return translateFsError(this.#options.driverName, `reader ${op}`, this.#options.path, 'io', error);
  }
}
