/**
 * Pooled reads: a reader stream may offer its bytes as reused buffers instead of fresh ones, so
 * that serving a blob allocates (almost) nothing per chunk. A fresh 1 MiB buffer per read is
 * external memory to V8, and V8 counts external memory allocated since the last Mark-Compact
 * against the old generation's limit: once that limit sits close to the live heap (which it does
 * after any full GC computed in a quiet phase, e.g. during an upload waiting on fdatasync), every
 * few megabytes of fresh read buffers start another Mark-Compact (measured: ~8 per 256 MiB pull,
 * pull CPU 0.4 → 1.0–1.4 s/GiB). With pooled reads a pull allocates no external memory at all.
 *
 * The protocol is structural, keyed by a registered symbol, so that the HTTP plumbing (which may
 * not import drivers) can use it: `stream[POOLED_CHUNKS]()` switches the stream into pooled mode
 * (it must then not be consumed as a Readable) and returns {@link PooledChunks}. A consumer hands
 * every chunk back with `release` once its bytes are no longer referenced (for a socket: in the
 * write callback); a chunk never released is simply garbage-collected.
 */

export const POOLED_CHUNKS: unique symbol = Symbol.for('berth.pooledChunks') as never;

export interface PooledChunks {
  /** The next chunk (valid until released) or null at the end; rejects with a driver error. */
  next(): Promise<Buffer | null>;
  /** Returns a chunk from `next()` to the pool. Call at most once per chunk. */
  release(chunk: Buffer): void;
}

/** A stream that can serve its bytes through {@link PooledChunks}. */
export interface PooledChunkSource {
  [POOLED_CHUNKS](): PooledChunks;
}

/**
 * Fixed-size buffers for reuse, bounded: at most `maxFree` idle buffers are kept (the rest are
 * left to the GC). Only buffers this pool handed out and not yet taken back are accepted, so a
 * double release cannot put one buffer into two streams.
 */
export class BufferPool {
  readonly #free: ArrayBuffer[] = [];
  /** Handed out, not yet given back; weak, so a buffer never released can still be collected. */
  readonly #out = new WeakSet<ArrayBuffer>();

  constructor(
    readonly bufferBytes: number,
    readonly maxFree: number,
  ) {}

  take(): Buffer {
    const memory = this.#free.pop() ?? new ArrayBuffer(this.bufferBytes);
    this.#out.add(memory);
    return Buffer.from(memory);
  }

  /** Takes back a buffer from `take()` (or a view of one). */
  give(chunk: Uint8Array): void {
    const memory = chunk.buffer;
    if (!(memory instanceof ArrayBuffer) || !this.#out.has(memory)) return;
    this.#out.delete(memory);
    if (this.#free.length < this.maxFree) this.#free.push(memory);
  }

  /** Idle buffers kept (for tests and metrics). */
  get idle(): number {
    return this.#free.length;
  }
}
