/**
 * A Readable over a byte range of an open file, with large reads and translated errors.
 *
 * `fs.createReadStream` would do the reading, but its errors are raw fs errors; this small
 * Readable reads `chunkSize` bytes per call (1 MiB by default: few thread-pool round trips at
 * gigabytes per second) and turns read and close failures into driver errors. It owns the file
 * handle and closes it when it ends or is destroyed (including by its AbortSignal).
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
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
