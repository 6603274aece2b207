/**
 * One upstream fetch of one blob, shared by every request of this process that wants it while it
 * runs (single flight per digest). The upstream body is written through a normal upload session
 * (`core/uploads.ts`: the digest is computed while the bytes stream through and verified before
 * the data is moved into the content store, atomically) and, at the same time, fanned out to the
 * clients that joined before the first byte arrived. Each subscriber stream withholds the last
 * chunk until the digest is verified, so a corrupt upstream body never completes a client's
 * download. A slow client slows the fetch (backpressure); a client that leaves is dropped and the
 * fetch goes on for the others and for storage. Requests that come later wait for the stored blob.
 *
 * Across nodes there is no lock: two nodes may fetch the same blob at once; each verifies its own
 * copy and the content store keeps one (`BlobStore.adopt`), so the outcome is identical.
 */
import { PassThrough, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ParsedDigest } from '../core/digest.js';
import type { Registry } from '../core/registry.js';

export type FlightStart = { readonly found: false } | { readonly found: true; readonly size?: number };

/** Opens the upstream response (status 200, with a body): undefined when the upstream does not have the blob. */
export type OpenUpstream = () => Promise<{ readonly response: Response; readonly size?: number } | undefined>;

const SUBSCRIBER_BUFFER = 1024 * 1024;

export class BlobFlight {
  /** Resolves once the upstream answered (size known when it sent Content-Length). */
  readonly started: Promise<FlightStart>;
  /** Resolves with the size once the blob is stored and linked into `name`, or false when the upstream lacks it. */
  readonly done: Promise<number | false>;
  private readonly subscribers = new Set<PassThrough>();
  private flowing = false;

  constructor(
    private readonly registry: Registry,
    private readonly name: string,
    private readonly digest: ParsedDigest,
    open: OpenUpstream,
  ) {
    const opened = open();
    this.started = opened.then((r) => (r === undefined ? { found: false } : { found: true, ...(r.size !== undefined ? { size: r.size } : {}) }));
    this.done = opened.then(async (r) => {
      if (r === undefined) return false;
      // Lock the body at once and keep the Response reachable: undici cancels the body of a
      // Response that is garbage collected while its body is unread, which would end it early.
      const source = Readable.fromWeb(r.response.body as WebReadableStream<Uint8Array>);
      source.pause();
      // Let every request that awaited `started` subscribe before the first byte flows.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        return await this.store(source, r.size);
      } finally {
        keepAlive(r.response);
      }
    });
    // Failures are reported through the promises to whoever awaits them; none may go unhandled.
    this.started.catch(() => undefined);
    this.done.catch(() => undefined);
  }

  /** A live stream of the whole blob, if the bytes have not started flowing yet. */
  join(): Readable | undefined {
    if (this.flowing) return undefined;
    const stream = new PassThrough({ highWaterMark: SUBSCRIBER_BUFFER });
    this.subscribers.add(stream);
    stream.once('close', () => this.subscribers.delete(stream));
    return stream;
  }

  /** Cuts every live client: they must not take a partial or unverified body for a whole one. */
  private fail(error: unknown): void {
    this.flowing = true;
    for (const s of this.subscribers) s.destroy(asError(error));
  }

  private async store(source: Readable, size: number | undefined): Promise<number> {
    const { uploads } = this.registry;
    let session;
    try {
      session = await uploads.start(this.name);
    } catch (error) {
      source.destroy();
      this.fail(error);
      throw error;
    }
    const toStore = new PassThrough({ highWaterMark: SUBSCRIBER_BUFFER });
    const stored = uploads.complete(this.name, session.id, this.digest, toStore, size !== undefined ? { length: size } : {});
    const storeFailed = stored.then(
      () => new Promise<never>(() => undefined),
      (error: unknown) => Promise.reject(error),
    );
    storeFailed.catch(() => undefined);
    let held: Buffer | undefined;
    try {
      for await (const chunk of source) {
        this.flowing = true;
        const buf = chunk as Buffer;
        const waits: Promise<void>[] = [];
        if (!toStore.write(buf)) waits.push(drained(toStore));
        if (held !== undefined) for (const s of this.subscribers) if (!s.destroyed && !s.write(held)) waits.push(drained(s));
        held = buf;
        if (waits.length > 0) await Promise.race([Promise.all(waits), storeFailed]);
      }
      this.flowing = true;
      toStore.end();
      const result = await stored;
      for (const s of this.subscribers) {
        if (s.destroyed) continue;
        if (held !== undefined) s.write(held);
        s.end();
      }
      return result.size;
    } catch (error) {
      source.destroy();
      toStore.destroy(asError(error));
      this.fail(error);
      await stored.catch(() => undefined);
      await uploads.cancel(this.name, session.id).catch(() => undefined);
      throw error;
    }
  }
}

/** Keeps a value reachable until this call (see `done`). */
function keepAlive(value: unknown): void {
  if (value === null) throw new Error('unreachable');
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Resolves when the stream wants more data, or is gone (a departed client must not stall the fetch). */
function drained(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
