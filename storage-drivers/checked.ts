/**
 * `checked(driver, options)`: the one wrapper every driver runs behind (distribution's base +
 * regulator). It owns everything cross-cutting so that a driver only implements I/O:
 *
 * - path grammar: {@link PATH_PATTERN}, no `.`/`..` segments, at most {@link MAX_PATH_LENGTH}
 *   characters; `/` is accepted only where a directory makes sense (stat, list, delete);
 * - read offsets and lengths: non-negative safe integers ({@link InvalidOffsetError});
 * - the small-object cap on `getContent`/`putContent` ({@link ContentTooLargeError});
 * - error normalisation: anything that is not a {@link DriverError} becomes one, with the driver
 *   name, the path and the original as `cause`. Two kinds pass through unchanged because they are
 *   the caller's own: AbortErrors, and errors raised by the source handed to `FileWriter.write`;
 * - writer state: one `write()` at a time, nothing but `cancel()` after a failed commit/close,
 *   nothing at all after a successful commit/cancel/close;
 * - an optional concurrency limit (`maxConcurrency`, the filesystem's `maxthreads`). A slot is
 *   held for the duration of a call; a stream returned by `reader()` and the data phase of
 *   `FileWriter.write()` do not hold one, so slow clients cannot starve metadata operations;
 * - an optional `observe(op, ms, error?)` hook after every operation, for metrics and logging.
 */
import { Readable } from 'node:stream';
import {
  PATH_PATTERN,
  type FileInfo,
  type FileWriter,
  type GetContentOptions,
  type ReadOptions,
  type RedirectOptions,
  type StorageDriver,
  type WriterOptions,
} from './driver.js';
import {
  ContentTooLargeError,
  DriverError,
  InvalidOffsetError,
  InvalidPathError,
} from './errors.js';
import { abortError, isAbortError, type WriteSource } from './source.js';

/** Longest accepted driver path, in characters. */
export const MAX_PATH_LENGTH = 1024;
/** Default cap of `getContent`/`putContent`. */
export const DEFAULT_MAX_CONTENT_BYTES = 16 * 1024 * 1024;

export interface CheckedOptions {
  /** Cap of getContent/putContent in bytes (default {@link DEFAULT_MAX_CONTENT_BYTES}). */
  readonly maxContentBytes?: number;
  /** At most this many driver calls in flight; further calls wait in FIFO order. */
  readonly maxConcurrency?: number;
  /**
   * Called after every operation (`stat`, `getContent`, …, `writer.write`, `writer.commit`, …)
   * with its duration in milliseconds and the error it failed with, if any. Exceptions thrown by
   * the hook are swallowed: observing must never break storage.
   */
  readonly observe?: (op: string, ms: number, error?: unknown) => void;
}

/** True when `path` is a legal driver path (grammar, no dot segments, length). */
export function isValidPath(path: string): boolean {
  if (typeof path !== 'string' || path.length > MAX_PATH_LENGTH || !PATH_PATTERN.test(path)) {
    return false;
  }
  return path.split('/').every((segment) => segment !== '.' && segment !== '..');
}

/** Wraps `driver` with validation, normalisation, limits and observation (see module comment). */
export function checked(driver: StorageDriver, options: CheckedOptions = {}): StorageDriver {
  const name = driver.name;
  const cap = options.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  if (!Number.isSafeInteger(cap) || cap < 0) {
    throw new RangeError(`maxContentBytes must be a non-negative integer, got ${cap}`);
  }
  const slots = options.maxConcurrency === undefined ? undefined : new Slots(options.maxConcurrency);
  const observe = options.observe;

  const notify = (op: string, started: number, error?: unknown): void => {
    if (observe === undefined) return;
    try {
      const ms = performance.now() - started;
      if (error === undefined) observe(op, ms);
      else observe(op, ms, error);
    } catch {
      // see CheckedOptions.observe
    }
  };

  /** Validates, waits for a slot (unless told not to), calls, normalises and observes. */
  const run = async <T>(
    op: string,
    path: string | undefined,
    validate: () => void,
    call: () => Promise<T>,
    control: { signal?: AbortSignal; slot?: boolean; passThrough?: (error: unknown) => boolean } = {},
  ): Promise<T> => {
    const started = performance.now();
    let release: (() => void) | undefined;
    try {
      validate();
      if (control.signal?.aborted === true) throw abortError(control.signal);
      if (slots !== undefined && control.slot !== false) release = await slots.acquire(control.signal);
      const value = await call();
      notify(op, started);
      return value;
    } catch (error) {
      const normalized = control.passThrough?.(error) === true ? error : normalize(name, op, path, error);
      notify(op, started, normalized);
      throw normalized;
    } finally {
      release?.();
    }
  };

  const anyPath = (path: string) => () => {
    if (!isValidPath(path)) throw new InvalidPathError(name, String(path));
  };
  const filePath = (path: string) => () => {
    if (!isValidPath(path) || path === '/') throw new InvalidPathError(name, String(path));
  };

  const wrapped: StorageDriver = {
    name,
    stat: (path: string): Promise<FileInfo> =>
      run('stat', path, anyPath(path), () => driver.stat(path)),

    getContent: (path: string, getOptions?: GetContentOptions): Promise<Buffer> => {
      const requested = getOptions?.maxBytes;
      const limit = Math.min(cap, requested ?? cap);
      const validate = (): void => {
        filePath(path)();
        if (requested !== undefined && (!Number.isSafeInteger(requested) || requested < 0)) {
          throw new DriverError(name, `getContent: invalid maxBytes ${requested}`, path);
        }
      };
      return run('getContent', path, validate, async () => {
        const content = await driver.getContent(path, { maxBytes: limit });
        if (content.byteLength > limit) throw tooLarge(name, 'getContent', path, content.byteLength, limit);
        return content;
      });
    },

    putContent: (path: string, content: Uint8Array): Promise<void> =>
      run(
        'putContent',
        path,
        () => {
          filePath(path)();
          if (!(content instanceof Uint8Array)) {
            throw new DriverError(name, 'putContent: content must be a Uint8Array', path);
          }
          if (content.byteLength > cap) throw tooLarge(name, 'putContent', path, content.byteLength, cap);
        },
        () => driver.putContent(path, content),
      ),

    reader: (path: string, readOptions: ReadOptions = {}): Promise<Readable> =>
      run(
        'reader',
        path,
        () => {
          filePath(path)();
          checkOffset(name, path, readOptions.offset);
          checkOffset(name, path, readOptions.length);
        },
        () => driver.reader(path, readOptions),
        readOptions.signal === undefined ? {} : { signal: readOptions.signal },
      ),

    writer: (path: string, writerOptions: WriterOptions = {}): Promise<FileWriter> =>
      run('writer', path, filePath(path), async () =>
        new CheckedWriter(path, await driver.writer(path, writerOptions), name, run),
      ),

    list: (path: string): Promise<string[]> =>
      run('list', path, anyPath(path), () => driver.list(path)),

    move: (from: string, to: string): Promise<void> =>
      run(
        'move',
        from,
        () => {
          filePath(from)();
          filePath(to)();
        },
        () => driver.move(from, to),
      ),

    delete: (path: string): Promise<void> =>
      run('delete', path, anyPath(path), () => driver.delete(path)),

    redirectUrl: (path: string, redirect: RedirectOptions): Promise<string | undefined> =>
      run(
        'redirectUrl',
        path,
        () => {
          filePath(path)();
          if (!Number.isFinite(redirect.expiresIn) || redirect.expiresIn <= 0) {
            throw new DriverError(name, `redirectUrl: invalid expiresIn ${redirect.expiresIn}`, path);
          }
        },
        async () => (driver.redirectUrl === undefined ? undefined : driver.redirectUrl(path, redirect)),
      ),
  };
  return wrapped;
}

type Run = <T>(
  op: string,
  path: string | undefined,
  validate: () => void,
  call: () => Promise<T>,
  control?: { signal?: AbortSignal; slot?: boolean; passThrough?: (error: unknown) => boolean },
) => Promise<T>;

type WriterState = 'open' | 'writing' | 'failed' | 'finished';

/** Enforces the writer's state machine and routes every call through `run`. */
class CheckedWriter implements FileWriter {
  #state: WriterState = 'open';

  constructor(
    private readonly path: string,
    private readonly inner: FileWriter,
    private readonly driverName: string,
    private readonly run: Run,
  ) {}

  get size(): number {
    return this.inner.size;
  }

  write(source: WriteSource, signal?: AbortSignal): Promise<number> {
    let watched: WatchedSource | undefined;
    return this.run(
      'writer.write',
      this.path,
      () => this.expect('write', ['open']),
      async () => {
        this.#state = 'writing';
        watched = watchSource(source);
        try {
          return await this.inner.write(watched.source, signal);
        } finally {
          this.#state = 'open';
          watched.dispose();
        }
      },
      {
        slot: false,
        passThrough: (error) => watched?.raisedBy(error) === true,
        ...(signal === undefined ? {} : { signal }),
      },
    );
  }

  commit(): Promise<void> {
    return this.finish('commit', ['open'], () => this.inner.commit());
  }

  close(): Promise<void> {
    return this.finish('close', ['open'], () => this.inner.close());
  }

  cancel(): Promise<void> {
    return this.finish('cancel', ['open', 'failed'], () => this.inner.cancel());
  }

  private finish(
    op: 'commit' | 'close' | 'cancel',
    allowed: readonly WriterState[],
    call: () => Promise<void>,
  ): Promise<void> {
    return this.run(
      `writer.${op}`,
      this.path,
      () => this.expect(op, allowed),
      async () => {
        try {
          await call();
          this.#state = 'finished';
        } catch (error) {
          this.#state = 'failed';
          throw error;
        }
      },
    );
  }

  private expect(op: string, allowed: readonly WriterState[]): void {
    if (allowed.includes(this.#state)) return;
    const why =
      this.#state === 'writing'
        ? 'a write is already in progress'
        : this.#state === 'failed'
          ? 'the writer failed; only cancel() is possible'
          : 'the writer is finished';
    throw new DriverError(this.driverName, `writer.${op}: ${why}`, this.path);
  }
}

/**
 * Remembers errors that come from the caller's source, so they can be handed back unchanged.
 * Readables are passed on as they are (drivers such as S3 stream them directly) and watched
 * through an extra 'error' listener; other iterables get a thin iterator that notes rejections.
 */
interface WatchedSource {
  readonly source: WriteSource;
  readonly raisedBy: (error: unknown) => boolean;
  readonly dispose: () => void;
}

function watchSource(source: WriteSource): WatchedSource {
  const seen = new Set<unknown>();
  if (source instanceof Readable) {
    const onError = (error: unknown): void => {
      seen.add(error);
    };
    source.on('error', onError);
    return {
      source,
      // A source destroyed without an error (a client that went away) surfaces as a
      // premature-close error created by whoever consumed it: that is the caller's too.
      raisedBy: (error) =>
        seen.has(error) ||
        isAbortError(error) ||
        (source.destroyed && !source.readableEnded && isPrematureClose(error)),
      dispose: () => {
        source.off('error', onError);
      },
    };
  }
  const iterable: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => {
      const iterator = source[Symbol.asyncIterator]();
      const remember = (error: unknown): never => {
        seen.add(error);
        throw error;
      };
      const watched: AsyncIterator<Uint8Array> = {
        next: () => iterator.next().catch(remember),
      };
      if (iterator.return !== undefined) watched.return = iterator.return.bind(iterator);
      return watched;
    },
  };
  return {
    source: iterable,
    raisedBy: (error) => seen.has(error) || isAbortError(error),
    dispose: () => undefined,
  };
}

function isPrematureClose(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE';
}

function normalize(driverName: string, op: string, path: string | undefined, error: unknown): unknown {
  if (error instanceof DriverError || isAbortError(error)) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new DriverError(driverName, `${op} failed: ${detail}`, path, { cause: error });
}

function checkOffset(driverName: string, path: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidOffsetError(driverName, path, value);
}

function tooLarge(driverName: string, op: string, path: string, size: number, cap: number): DriverError {
  return new ContentTooLargeError(
    driverName,
    `${op}: ${size} bytes exceed the ${cap}-byte cap for small objects (use reader/writer)`,
    path,
  );
}

/** A FIFO counting semaphore. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`maxConcurrency must be a positive integer, got ${max}`);
    }
    this.#free = max;
  }

  /** Resolves with a release function once a slot is free; rejects if the signal fires first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.#free > 0) {
      this.#free -= 1;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.releaser());
      };
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(grant);
        if (index >= 0) this.#waiting.splice(index, 1);
        if (signal !== undefined) reject(abortError(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(grant);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next === undefined) this.#free += 1;
      else next();
    };
  }
}
