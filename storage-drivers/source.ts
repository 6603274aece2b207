/**
 * Reading a writer's source (`FileWriter.write(source, signal)`) chunk by chunk, for drivers.
 *
 * One job: turn `Readable | AsyncIterable<Uint8Array>` plus an optional AbortSignal into a pull
 * interface whose `next()` rejects with an AbortError as soon as the signal fires, even when the
 * source is stalled (stream `pipeline()` waits for a stalled async generator before settling,
 * which would let a dead client hold a writer forever). Errors thrown by the source itself are
 * passed through unchanged, so a driver never mistakes them for backend errors.
 */
import type { Readable } from 'node:stream';

/** What a writer consumes. Same type as `FileWriter.write`'s first parameter. */
export type WriteSource = Readable | AsyncIterable<Uint8Array>;

/** Pull interface over a source. */
export interface SourceChunks {
  /** The next non-empty chunk, or `undefined` at the end. Rejects on abort or a source error. */
  next(): Promise<Uint8Array | undefined>;
  /** Stops reading (destroys a Readable source); safe to call more than once. Never throws. */
  stop(): void;
}

/** An `AbortError` like the ones Node's own APIs throw (`name`, `code`, `cause` = the reason). */
export function abortError(signal: AbortSignal): Error {
  const error = new Error('The operation was aborted', { cause: signal.reason });
  error.name = 'AbortError';
  Object.defineProperty(error, 'code', { value: 'ABORT_ERR', enumerable: true });
  return error;
}

/** True for AbortErrors from this module, from Node streams and from `AbortSignal` reasons. */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

export function sourceChunks(source: WriteSource, signal?: AbortSignal): SourceChunks {
  const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let stopped = false;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    // Not awaited: returning a stalled async generator only settles when it next yields.
    iterator.return?.().catch(() => undefined);
  };

  const next = async (): Promise<Uint8Array | undefined> => {
    for (;;) {
      if (stopped) return undefined;
      const result = await nextOrAbort(iterator, signal);
      if (result.done === true) {
        stopped = true;
        return undefined;
      }
      const chunk: unknown = result.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(`write source yielded ${typeof chunk}, expected Uint8Array chunks`);
      }
      if (chunk.byteLength > 0) return chunk;
    }
  };

  return { next, stop };
}

/**
 * `iterator.next()`, rejected early when the signal fires. The abort listener is added and
 * removed per call (a long-lived `Promise.race` partner would accumulate one reaction per chunk).
 */
function nextOrAbort(
  iterator: AsyncIterator<unknown>,
  signal: AbortSignal | undefined,
): Promise<IteratorResult<unknown>> {
  if (signal === undefined) return iterator.next();
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    iterator.next().then(
      (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
