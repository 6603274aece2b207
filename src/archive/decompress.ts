/**
 * Recognises a compressed archive by its first bytes (gzip `1f 8b`, zstd `28 b5 2f fd`) and
 * returns the decompressed stream; anything else passes through as it is. zstd is decoded with
 * fzstd (node 20's zlib has no zstd), streamed chunk by chunk. A truncated or corrupt compressed
 * stream ends in an error, never in a silently short archive.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { ArchiveError } from './archive-error.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

class ZstdDecompress extends Transform {
  private readonly decoder = new Decompress((chunk) => {
    // fzstd may hand out views of its window, which it overwrites later: copy.
    this.push(Buffer.from(chunk));
  });

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      callback();
    } catch (error) {
      callback(new ArchiveError(`zstd: ${(error as Error).message}`));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      callback();
    } catch (error) {
      callback(new ArchiveError(`zstd: the compressed stream is truncated or corrupt (${(error as Error).message})`));
    }
  }
}

/** Reads enough of `source` to recognise its compression and returns the plain stream. */
export async function decompressed(source: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let headBytes = 0;
  let done = false;
  while (headBytes < 4) {
    const next = await iterator.next();
    if (next.done === true) {
      done = true;
      break;
    }
    head.push(next.value);
    headBytes += next.value.length;
  }
  const first = Buffer.concat(head);
  const compression = detectCompression(first);
  async function* all(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return;
      yield next.value;
    }
  }
  const plain = Readable.from(all(), { objectMode: false, highWaterMark: 1 << 20 });
  if (compression === 'none') return { stream: plain, compression };
  const decoder: Transform =
    compression === 'gzip'
      ? createGunzip({ chunkSize: 256 * 1024 })
      : new ZstdDecompress();
  plain.on('error', (error) => decoder.destroy(error));
  decoder.on('error', () => plain.destroy());
  plain.pipe(decoder);
  if (compression === 'gzip') {
    const wrapped = new Transform({
      transform(chunk: Buffer, _e, cb) {
        cb(null, chunk);
      },
    });
    decoder.on('error', (error) => wrapped.destroy(new ArchiveError(`gzip: the compressed stream is truncated or corrupt (${error.message})`)));
    decoder.pipe(wrapped);
    return { stream: wrapped, compression };
  }
  return { stream: decoder, compression };
}
