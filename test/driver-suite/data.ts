/**
 * Deterministic test data for the driver suite, without huge Buffers in memory.
 *
 * Content for a seed is an endless pseudo-random byte sequence made of 64 KiB blocks, each block
 * generated on its own from (seed, block index) with xorshift128. So any byte range can be
 * produced without generating what precedes it, streams of any chunking yield the same bytes, and
 * a 32 MiB round trip is checked by comparing sha256 digests computed block by block.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export const KiB = 1024;
export const MiB = 1024 * KiB;
const BLOCK = 64 * KiB;

/** Block `index` of the sequence for `seed` (a fresh Buffer). */
function block(seed: number, index: number): Buffer {
  const words = new Uint32Array(BLOCK / 4);
  // Seed the four state words from (seed, index); never all zero.
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  let y = (index * 0x85ebca6b + 0x6b43a9b5) >>> 0 || 2;
  let z = (x ^ (y << 7)) >>> 0 || 3;
  let w = (y ^ (x >>> 3) ^ 0xc2b2ae35) >>> 0 || 4;
  for (let warm = 0; warm < 8; warm += 1) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
  }
  for (let i = 0; i < words.length; i += 1) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    words[i] = w;
  }
  return Buffer.from(words.buffer, words.byteOffset, words.byteLength);
}

/** Yields the bytes `[offset, offset + length)` of the sequence as block-sized (or smaller) slices. */
function* blockSlices(seed: number, offset: number, length: number): Generator<Buffer> {
  let position = offset;
  const end = offset + length;
  while (position < end) {
    const index = Math.floor(position / BLOCK);
    const within = position - index * BLOCK;
    const take = Math.min(BLOCK - within, end - position);
    yield block(seed, index).subarray(within, within + take);
    position += take;
  }
}

/** The bytes `[offset, offset + length)` for `seed`, as one Buffer (use for small sizes only). */
export function bytesAt(seed: number, offset: number, length: number): Buffer {
  return Buffer.concat([...blockSlices(seed, offset, length)], length);
}

/** The first `length` bytes for `seed`. */
export function bytes(seed: number, length: number): Buffer {
  return bytesAt(seed, 0, length);
}

/** sha256 (hex) of `[offset, offset + length)` for `seed`, computed without holding it in memory. */
export function digestAt(seed: number, offset: number, length: number): string {
  const hash = createHash('sha256');
  for (const slice of blockSlices(seed, offset, length)) hash.update(slice);
  return hash.digest('hex');
}

export interface ChunkOptions {
  /** Chunk size, or sizes to cycle through (default 64 KiB). */
  readonly chunkSizes?: number | readonly number[];
  /** Start at this offset of the sequence (default 0). */
  readonly offset?: number;
}

/**
 * The bytes `[offset, offset + length)` for `seed` as an async iterable of fresh chunks of the
 * requested sizes (never reused, so a writer may keep them).
 */
export async function* chunks(seed: number, length: number, options: ChunkOptions = {}): AsyncGenerator<Uint8Array> {
  const sizes = typeof options.chunkSizes === 'number' ? [options.chunkSizes] : (options.chunkSizes ?? [64 * KiB]);
  if (sizes.length === 0 || sizes.some((size) => !(size > 0))) throw new RangeError('chunk sizes must be positive');
  const source = blockSlices(seed, options.offset ?? 0, length);
  let current: Buffer = Buffer.alloc(0);
  let position = 0;
  let emitted = 0;
  for (let index = 0; emitted < length; index += 1) {
    const size = Math.min(sizes[index % sizes.length] ?? 1, length - emitted);
    const out = new Uint8Array(size);
    for (let filled = 0; filled < size; ) {
      if (position >= current.byteLength) {
        const step = source.next();
        if (step.done === true) throw new Error('test data ended early');
        current = step.value;
        position = 0;
      }
      const take = Math.min(size - filled, current.byteLength - position);
      out.set(current.subarray(position, position + take), filled);
      filled += take;
      position += take;
    }
    emitted += size;
    yield out;
  }
}

/** {@link chunks} as a byte-mode Readable. */
export function stream(seed: number, length: number, options: ChunkOptions = {}): Readable {
  return Readable.from(chunks(seed, length, options), { objectMode: false, highWaterMark: MiB });
}

/** Reads a stream to the end into one Buffer (small content only). */
export async function readAll(source: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

/** sha256 (hex) and byte count of a stream, without holding it. */
export async function digestOf(source: AsyncIterable<unknown>): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source) {
    const data = chunk as Uint8Array;
    hash.update(data);
    size += data.byteLength;
  }
  return { digest: hash.digest('hex'), size };
}

/** sha256 (hex) of a buffer. */
export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** An async iterable yielding the given buffers (copies) in order. */
export async function* of(...parts: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield new Uint8Array(part);
}
