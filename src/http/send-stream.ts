/**
 * Streams a blob to the response, keeping several megabytes queued on the socket: `pipeline`
 * waits for `drain` after every chunk, which lets the socket run dry between chunks; queueing up
 * to {@link QUEUE_BYTES} before waiting keeps the kernel fed (measured ~15–20% faster pulls on
 * loopback). Backpressure still holds: at most QUEUE_BYTES plus one chunk are buffered. A client
 * that goes away destroys the source stream. `sendContent` adds the status and length headers of
 * a whole or ranged body around it.
 *
 * A source that offers pooled chunks (the filesystem reader; protocol in
 * `storage-drivers/pooled-chunks.ts`, matched here by its registered symbol since this room does
 * not import drivers) is served from reused buffers: each chunk goes back to the pool in its
 * socket write callback, when the kernel has taken the bytes. A pull then allocates no external
 * memory, which keeps V8 from running Mark-Compacts during pulls (see that file); the object-store
 * drivers' large reads over plain http are pooled too (`storage-drivers/pooled-get/`). Any other
 * source (fresh buffers: https backends, short reads, fallbacks) has its bytes reported to
 * `onBytes`, with which the process paces young GCs (src/cli/heap-settings.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { ByteRange } from './byte-range.js';

export const QUEUE_BYTES = 4 * 1024 * 1024;

function waitForDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', closed);
      resolve();
    };
    const closed = (): void => {
      res.off('drain', done);
      res.off('close', closed);
      reject(disconnected());
    };
    res.on('drain', done);
    res.on('close', closed);
  });
}

/** The pooled-chunk protocol, structurally (see storage-drivers/pooled-chunks.ts). */
const POOLED_CHUNKS = Symbol.for('berth.pooledChunks');

interface PooledChunks {
  next(): Promise<Buffer | null>;
  release(chunk: Buffer): void;
}

function pooledChunksOf(source: Readable): PooledChunks | undefined {
  const open = (source as unknown as Record<symbol, unknown>)[POOLED_CHUNKS];
  return typeof open === 'function' ? (open as () => PooledChunks).call(source) : undefined;
}

function disconnected(): Error {
  return Object.assign(new Error('client disconnected'), { code: 'ECONNRESET' });
}

async function sendPooled(source: Readable, chunks: PooledChunks, res: ServerResponse): Promise<void> {
  try {
    for (let chunk = await chunks.next(); chunk !== null; chunk = await chunks.next()) {
      if (res.destroyed) throw disconnected();
      const sent = chunk;
      res.write(sent, () => chunks.release(sent));
      if (res.writableLength >= QUEUE_BYTES) await waitForDrain(res);
    }
    res.end();
  } finally {
    source.destroy();
  }
}

/** Called with the size of every chunk sent from a source without pooled chunks. */
export type OnFreshBytes = (bytes: number) => void;

export async function sendStream(source: Readable, res: ServerResponse, onBytes?: OnFreshBytes): Promise<void> {
  const pooled = pooledChunksOf(source);
  if (pooled !== undefined) return sendPooled(source, pooled, res);
  try {
    for await (const chunk of source) {
      if (res.destroyed) throw disconnected();
      res.write(chunk as Buffer);
      onBytes?.((chunk as Buffer).byteLength);
      if (res.writableLength >= QUEUE_BYTES) await waitForDrain(res);
    }
    res.end();
  } catch (error) {
    source.destroy();
    throw error;
  }
}

/**
 * Answers with `size` bytes of content, or the (satisfiable) `range` of it: 200 or 206 with
 * Content-Range, Content-Length; HEAD requests and empty bodies end there, otherwise the bytes
 * come from `open(offset, length)`.
 */
export async function sendContent(
  req: IncomingMessage,
  res: ServerResponse,
  size: number,
  range: ByteRange | undefined,
  open: (offset: number, length: number) => Promise<Readable>,
  onBytes?: OnFreshBytes,
): Promise<void> {
  const start = range?.start ?? 0;
  const length = range === undefined ? size : range.end - range.start + 1;
  res.statusCode = range === undefined ? 200 : 206;
  if (range !== undefined) res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  res.setHeader('Content-Length', length);
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return;
  }
  const stream = await open(start, length);
  res.flushHeaders();
  await sendStream(stream, res, onBytes);
}
