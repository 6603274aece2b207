/**
 * The receive side of a pooled GET: socket reads packed back to back into pooled buffers, and
 * handed out as views of them.
 *
 * The socket reads straight into the buffer {@link SegmentQueue.arm} returns (node's `onread`
 * option asks for one before every read): the free tail of the current pool buffer, or a fresh
 * pool buffer once fewer than `minRead` bytes are left. So reads of any size fill each buffer
 * (a segment) completely, nothing is copied, and a consumer that falls behind gets the bytes of
 * several reads as one chunk ({@link SegmentQueue.take}: everything contiguous not yet taken).
 *
 * A segment goes back to the pool when the socket no longer writes into it, all its bytes were
 * taken and every lent chunk of it was released — counted per segment, since one pool buffer
 * backs several chunks. Chunks given away (a plain Readable consumer may keep them for ever)
 * pin their segment: it is dropped, never reused, and left to the GC.
 */
import type { BufferPool } from '../pooled-chunks.js';

interface Segment {
  readonly memory: Buffer;
  /** Bytes the socket wrote. */
  filled: number;
  /** Bytes handed out (or skipped). */
  taken: number;
  /** Lent chunks not yet released. */
  lent: number;
  /** Some chunk was given away: never back to the pool. */
  pinned: boolean;
  /** The socket writes no more into it. */
  retired: boolean;
}

export class SegmentQueue {
  /** Oldest first; the last one is where the socket writes unless it is retired. */
  readonly #segments: Segment[] = [];
  readonly #byMemory = new Map<ArrayBufferLike, Segment>();
  #unconsumed = 0;
  #writing = true;
  /** Handed to a socket that reads after the end (it never does: node asks for one more buffer). */
  #scratch: Buffer | undefined;

  constructor(
    private readonly pool: BufferPool,
    private readonly minRead: number,
  ) {
    if (minRead <= 0 || minRead > pool.bufferBytes) throw new RangeError('minRead must be between 1 and the pool buffer size');
  }

  /** Bytes received and not yet taken. */
  get unconsumed(): number {
    return this.#unconsumed;
  }

  /** Segments still tracked (for tests). */
  get segments(): number {
    return this.#segments.length;
  }

  /** The buffer the next socket read goes into. */
  arm(): Buffer {
    if (!this.#writing) {
      this.#scratch ??= Buffer.alloc(64);
      return this.#scratch;
    }
    let target = this.#segments.at(-1);
    if (target === undefined || target.retired || target.memory.length - target.filled < this.minRead) {
      if (target !== undefined) this.#retire(target);
      target = { memory: this.pool.take(), filled: 0, taken: 0, lent: 0, pinned: false, retired: false };
      this.#segments.push(target);
      this.#byMemory.set(target.memory.buffer, target);
    }
    return target.memory.subarray(target.filled);
  }

  /** Records `bytes` read into `into` (the buffer `arm()` returned last). */
  filled(into: Buffer, bytes: number): void {
    const target = this.#segments.at(-1);
    if (target === undefined || target.retired || into.buffer !== target.memory.buffer || into.byteOffset !== target.memory.byteOffset + target.filled) {
      throw new Error('pooled GET: a socket read landed outside the armed buffer');
    }
    target.filled += bytes;
    this.#unconsumed += bytes;
  }

  /** The bytes received so far while nothing was taken (the response head is read from them). */
  received(): Buffer {
    const first = this.#segments[0];
    return first === undefined ? Buffer.alloc(0) : first.memory.subarray(first.taken, first.filled);
  }

  /** Drops the first `bytes` not yet taken (the response head); they must lie in one segment. */
  skip(bytes: number): void {
    const first = this.#segments[0];
    if (first === undefined || first.filled - first.taken < bytes) throw new RangeError('pooled GET: skipping bytes not received');
    first.taken += bytes;
    this.#unconsumed -= bytes;
    this.#settle(first);
  }

  /**
   * The oldest contiguous bytes not yet taken, or undefined. `lend`: the caller releases the chunk
   * later; otherwise it is given away.
   */
  take(lend: boolean): Buffer | undefined {
    for (const segment of this.#segments) {
      if (segment.taken === segment.filled) continue;
      const chunk = segment.memory.subarray(segment.taken, segment.filled);
      segment.taken = segment.filled;
      this.#unconsumed -= chunk.length;
      if (lend) segment.lent += 1;
      else segment.pinned = true;
      this.#settle(segment);
      return chunk;
    }
    return undefined;
  }

  /** Gives back a chunk lent by `take(true)`; foreign chunks are ignored. */
  release(chunk: Uint8Array): void {
    const segment = this.#byMemory.get(chunk.buffer);
    if (segment === undefined || segment.lent === 0) return;
    segment.lent -= 1;
    this.#settle(segment);
  }

  /** The socket writes no more (the body is complete): later reads go to a scratch buffer. */
  endWriting(): void {
    this.#writing = false;
    const last = this.#segments.at(-1);
    if (last !== undefined) this.#retire(last);
  }

  /** Discards every byte not yet taken and returns what it can to the pool (the rest on release). */
  close(): void {
    this.endWriting();
    for (const segment of [...this.#segments]) {
      this.#unconsumed -= segment.filled - segment.taken;
      segment.taken = segment.filled;
      this.#settle(segment);
    }
  }

  #retire(segment: Segment): void {
    segment.retired = true;
    this.#settle(segment);
  }

  /** Forgets a segment that is done, returning it to the pool unless a chunk of it was given away. */
  #settle(segment: Segment): void {
    if (!segment.retired || segment.taken !== segment.filled || segment.lent > 0) return;
    const index = this.#segments.indexOf(segment);
    if (index < 0) return;
    this.#segments.splice(index, 1);
    this.#byMemory.delete(segment.memory.buffer);
    if (!segment.pinned) this.pool.give(segment.memory);
  }
}
