/**
 * The swift driver's FileWriter: data goes to Swift as segments of one writer session
 * (`segments/<session>/<8-digit index>`, see layout.ts), each streamed straight from the caller's
 * source in its own PUT (chunked transfer, the source's chunks written as they come with socket
 * backpressure; each byte is hashed once, into the segment's MD5, which is checked against the
 * ETag Swift computed), at most `chunksize` bytes. A segment also ends where a `write()` ends, and early when the source goes quiet for
 * a while (Swift's proxy drops request bodies idle for its client_timeout, 60 s by default).
 * Nothing is buffered beyond the chunk in hand.
 * - Two segment PUTs at most are in flight: once segment N has sent its last byte, N+1 streams
 *   while Swift still stores N (its answer waits for the disk). Segments are recorded in index
 *   order once answered; if one fails, the PUT after it is aborted, both are deleted, and the
 *   write fails with the first failure (in index order); `size` keeps the segments before it.
 *
 * - Bytes count in `size` once their segment is stored. A source error or an abort ends the
 *   segment in flight normally, so what was read is kept and `size` is exactly what is there.
 * - `close()` has nothing left to flush; the session's marker (`sessions/<path>/<session>`,
 *   written before its first segment) lets `writer(path, {append: true})` find it again: the
 *   newest marked session is listed and continued. Without a marker, append continues the session
 *   of the SLO committed at the path, or copies a plain object there into segment 0 (server-side).
 * - `commit()` writes a Static Large Object manifest at the path (`?multipart-manifest=put`,
 *   `[{path, etag, size_bytes}]`; nested sub-manifests past Swift's `max_manifest_segments`), or
 *   a plain empty object for zero bytes, removes the marker, and deletes the sessions the path no
 *   longer uses (the previous manifest's, stale markers').
 * - `cancel()` deletes the object at the path (an SLO with its segments), and every session
 *   marked for the path with its data.
 */
import { createHash } from 'node:crypto';
import type { FileWriter } from '../driver.js';
import { DriverError } from '../errors.js';
import { sourceChunks, type SourceChunks, type WriteSource } from '../source.js';
import type { SwiftClient, SwiftInfo } from './client.js';
import { discard, readBody, type Watchdog } from './http.js';
import { Layout } from './layout.js';

export interface WriterContext {
  readonly client: SwiftClient;
  readonly layout: Layout;
  /** Largest segment, in bytes. */
  readonly chunkSize: number;
  /** End the segment in flight when the source has been silent this long (milliseconds). */
  readonly segmentIdleMs: number;
  readonly info: () => Promise<SwiftInfo>;
}

export interface StoredSegment {
  readonly index: number;
  readonly size: number;
  readonly etag: string;
}

const EMPTY = new Uint8Array(0);
/** Parallel requests when deleting many objects one by one. */
const DELETE_CONCURRENCY = 8;

/** Session bookkeeping shared by the writer and the driver (listing, cleanup). */
export class Sessions {
  constructor(private readonly context: Pick<WriterContext, 'client' | 'layout'>) {}

  /** Sessions marked for exactly `path`, oldest first. */
  async marked(path: string): Promise<string[]> {
    const { client, layout } = this.context;
    const sessions: string[] = [];
    for await (const entry of client.list({ prefix: layout.markers(path), delimiter: '/', path })) {
      if (entry.kind !== 'object') continue;
      const session = layout.markerSession(entry.name, path);
      if (session !== undefined) sessions.push(session);
    }
    return sessions.sort();
  }

  /** The stored segments of a session, in index order (sub-manifests are skipped). */
  async segments(session: string, path: string): Promise<StoredSegment[]> {
    const { client, layout } = this.context;
    const found: StoredSegment[] = [];
    for await (const entry of client.list({ prefix: layout.sessionData(session), path })) {
      if (entry.kind !== 'object') continue;
      const parsed = layout.parseSegment(entry.name);
      if (parsed?.kind === 'segment' && parsed.session === session && entry.bytes > 0) {
        found.push({ index: parsed.index, size: entry.bytes, etag: entry.hash });
      }
    }
    return found.sort((a, b) => a.index - b.index);
  }

  /**
   * Sessions the SLO manifest `object` references, or undefined when it references anything
   * outside this driver's layout (or is not a manifest).
   */
  async referenced(object: string, path: string): Promise<Set<string> | undefined> {
    const { client, layout } = this.context;
    const exchange = await client.call({
      method: 'GET',
      target: { object },
      query: { 'multipart-manifest': 'get', format: 'raw' },
      path,
    });
    if (exchange.response.status === 404) {
      await discard(exchange);
      return new Set();
    }
    if (exchange.response.status !== 200) throw await client.statusError(exchange, { method: 'GET', target: { object }, path });
    if ((exchange.response.headers.get('x-static-large-object') ?? '').toLowerCase() !== 'true') {
      await discard(exchange);
      return undefined;
    }
    let entries: unknown;
    try {
      entries = JSON.parse((await readBody(exchange, 64 * 1024 * 1024)).toString('utf8'));
    } catch {
      return undefined;
    }
    if (!Array.isArray(entries)) return undefined;
    const containerPrefix = `/${client.config.container}/`;
    const sessions = new Set<string>();
    for (const entry of entries as unknown[]) {
      const segmentPath = (entry as { path?: unknown } | null)?.path;
      if (typeof segmentPath !== 'string' || !segmentPath.startsWith(containerPrefix)) return undefined;
      const parsed = layout.parseSegment(segmentPath.slice(containerPrefix.length));
      if (parsed === undefined) return undefined;
      sessions.add(parsed.session);
    }
    return sessions;
  }

  /** Deletes everything a session stored, then its marker for `path` (if given). */
  async drop(session: string, path: string | undefined): Promise<void> {
    const { client, layout } = this.context;
    const names: string[] = [];
    for await (const entry of client.list({ prefix: layout.sessionData(session), ...(path === undefined ? {} : { path }) })) {
      if (entry.kind === 'object') names.push(entry.name);
    }
    await deleteAll(client, names);
    if (path !== undefined) await client.delete(layout.marker(path, session));
  }
}

/** Deletes objects (plain DELETEs, a few at a time); missing ones are fine. */
export async function deleteAll(client: SwiftClient, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  if (names.length > DELETE_CONCURRENCY && (await client.bulkDelete(names))) return;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next] ?? '';
      next += 1;
      await client.delete(name);
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, names.length) }, worker));
}

/** Opens a writer at `path` (see the module comment for what `append` resumes). */
export async function openSegmentedWriter(context: WriterContext, path: string, append: boolean): Promise<FileWriter> {
  const sessions = new Sessions(context);
  if (!append) return new SegmentedWriter(context, path, Layout.newSession(), [], false);
  const marked = await sessions.marked(path);
  const newest = marked.at(-1);
  if (newest !== undefined) return new SegmentedWriter(context, path, newest, await sessions.segments(newest, path), true);

  const { client, layout } = context;
  const file = layout.file(path);
  const info = await client.head(file, path);
  if (info === undefined || info.size === 0) return new SegmentedWriter(context, path, Layout.newSession(), [], false);
  if (info.isSlo) {
    const referenced = await sessions.referenced(file, path);
    const only = referenced !== undefined && referenced.size === 1 ? [...referenced][0] : undefined;
    if (only !== undefined) {
      const segments = await sessions.segments(only, path);
      if (segments.reduce((sum, s) => sum + s.size, 0) === info.size) {
        return new SegmentedWriter(context, path, only, segments, false);
      }
    }
  }
  // A plain object (or a manifest of another shape): its content becomes segment 0 of a new session.
  const maxFileSize = (await context.info()).maxFileSize;
  if (info.size > maxFileSize) {
    throw new DriverError(
      client.driverName,
      `writer: cannot append to a ${info.size}-byte object that was not written by this driver's writer`,
      path,
    );
  }
  const session = Layout.newSession();
  await client.putBuffer(layout.marker(path, session), EMPTY, { path });
  const segment = layout.segment(session, 0);
  const copied = await client.copy(file, segment, { manifest: false, path, timeoutMs: copyTimeout(client, info.size) });
  if (!copied) return new SegmentedWriter(context, path, session, [], true);
  const stored = await client.head(segment, path);
  if (stored === undefined || stored.size === 0) return new SegmentedWriter(context, path, session, [], true);
  return new SegmentedWriter(context, path, session, [{ index: 0, size: stored.size, etag: stored.etag ?? '' }], true);
}

/** Server-side copies send nothing until done: allow them time in proportion to the size. */
function copyTimeout(client: SwiftClient, bytes: number): number {
  return client.config.timeoutMs * 4 + Math.ceil(bytes / (10 * 1024 * 1024)) * 1000;
}

const IDLE = Symbol('idle');

type Outcome = { readonly ok: true; readonly value: Uint8Array | undefined } | { readonly ok: false; readonly error: unknown };

/**
 * Hands out the source's bytes in pieces of at most N bytes. Never rejects: a source error (or
 * abort) ends the data, and is kept in `failure` for the writer to rethrow once what was read is
 * stored. `take` may also give up after `idleMs` without data (the pending read is kept).
 */
class Feeder {
  #carry: Uint8Array | undefined;
  #pending: Promise<Outcome> | undefined;
  #ended = false;
  #failure: { readonly error: unknown } | undefined;

  constructor(private readonly chunks: SourceChunks) {}

  get failure(): { readonly error: unknown } | undefined {
    return this.#failure;
  }

  get exhausted(): boolean {
    return this.#carry === undefined && (this.#ended || this.#failure !== undefined);
  }

  async take(max: number, idleMs?: number): Promise<Uint8Array | undefined | typeof IDLE> {
    if (this.#carry !== undefined) return this.split(this.#carry, max);
    if (this.#ended || this.#failure !== undefined) return undefined;
    this.#pending ??= this.chunks.next().then(
      (value): Outcome => ({ ok: true, value }),
      (error: unknown): Outcome => ({ ok: false, error }),
    );
    let outcome: Outcome | typeof IDLE;
    if (idleMs === undefined) {
      outcome = await this.#pending;
    } else {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<typeof IDLE>((resolve) => {
        timer = setTimeout(() => resolve(IDLE), idleMs);
      });
      outcome = await Promise.race([this.#pending, idle]);
      clearTimeout(timer);
      if (outcome === IDLE) return IDLE;
    }
    this.#pending = undefined;
    if (!outcome.ok) {
      this.#failure = { error: outcome.error };
      return undefined;
    }
    if (outcome.value === undefined) {
      this.#ended = true;
      return undefined;
    }
    return this.split(outcome.value, max);
  }

  stop(): void {
    this.chunks.stop();
  }

  private split(chunk: Uint8Array, max: number): Uint8Array {
    if (chunk.byteLength <= max) {
      this.#carry = undefined;
      return chunk;
    }
    this.#carry = chunk.subarray(max);
    return chunk.subarray(0, max);
  }
}

/** Segment PUTs in flight at once: one streaming its body while the previous waits for Swift's answer. */
const SEGMENTS_IN_FLIGHT = 2;
const FAILED = Symbol('failed');
function noop(): void {}

interface InFlightSegment {
  readonly name: string;
  readonly result: Promise<StoredSegment>;
  /** Settles (with FAILED) only if the segment fails. */
  readonly failure: Promise<typeof FAILED>;
  failed: boolean;
  /** Settles once the segment no longer reads the source. */
  readonly released: Promise<void>;
}

class SegmentedWriter implements FileWriter {
  readonly #sessions: Sessions;
  readonly #segments: StoredSegment[];
  #size: number;
  #nextIndex: number;
  #marked: boolean;
  #finished = false;

  constructor(
    private readonly context: WriterContext,
    private readonly path: string,
    private readonly session: string,
    segments: readonly StoredSegment[],
    marked: boolean,
  ) {
    this.#sessions = new Sessions(context);
    this.#segments = [...segments];
    this.#size = segments.reduce((sum, segment) => sum + segment.size, 0);
    this.#nextIndex = (segments.at(-1)?.index ?? -1) + 1;
    this.#marked = marked;
  }

  get size(): number {
    return this.#size;
  }

  async write(source: WriteSource, signal?: AbortSignal): Promise<number> {
    this.assertOpen('write');
    const feeder = new Feeder(sourceChunks(source, signal));
    // Ends the PUTs still in flight once one has failed (the write fails as a whole).
    const stop = new AbortController();
    const inFlight: InFlightSegment[] = [];
    let written = 0;
    // Segments are recorded in index order, each once its PUT (and MD5 check) succeeded.
    const recordOldest = async (): Promise<void> => {
      const oldest = inFlight[0] as InFlightSegment;
      const segment = await oldest.result;
      inFlight.shift();
      this.#segments.push(segment);
      this.#size += segment.size;
      written += segment.size;
    };
    try {
      for (;;) {
        if (inFlight.length >= SEGMENTS_IN_FLIGHT) await recordOldest();
        if (inFlight.some((segment) => segment.failed)) break;
        // Wait for the next segment's first bytes, or for a segment in flight to fail.
        const first = await Promise.race([feeder.take(this.context.chunkSize), ...inFlight.map((segment) => segment.failure)]);
        if (first === undefined || first === IDLE || first === FAILED) break;
        await this.mark();
        const started = this.startSegment(first, feeder, stop.signal);
        inFlight.push(started);
        // The next segment may start as soon as this one has its bytes (Swift's answer can wait).
        await started.released;
        if (feeder.exhausted) break;
      }
      while (inFlight.length > 0) await recordOldest();
    } catch (error) {
      stop.abort();
      await Promise.allSettled(inFlight.map((segment) => segment.result));
      // Stored segments that follow the failed one are not part of the file: remove them so that
      // a listing (a later append) never counts bytes this writer did not report.
      const { client } = this.context;
      await Promise.all(inFlight.map((segment) => client.delete(segment.name).catch(() => undefined)));
      this.#nextIndex = (this.#segments.at(-1)?.index ?? -1) + 1;
      throw error;
    } finally {
      feeder.stop();
    }
    if (feeder.failure !== undefined) throw feeder.failure.error;
    return written;
  }

  async commit(): Promise<void> {
    this.assertOpen('commit');
    const { client, layout } = this.context;
    const file = layout.file(this.path);
    // Sessions the path stops using once the new content is in place.
    const garbage = new Set<string>((await this.#sessions.marked(this.path)).filter((s) => s !== this.session));
    const previous = await client.head(file, this.path);
    if (previous?.isSlo === true) {
      for (const session of (await this.#sessions.referenced(file, this.path)) ?? []) {
        if (session !== this.session) garbage.add(session);
      }
    }
    if (this.#segments.length === 0) await client.putBuffer(file, EMPTY, { path: this.path });
    else await this.putManifest(file);
    this.#finished = true;
    if (this.#marked) await client.delete(layout.marker(this.path, this.session));
    for (const session of garbage) await this.#sessions.drop(session, this.path);
  }

  async close(): Promise<void> {
    this.assertOpen('close');
    this.#finished = true;
  }

  async cancel(): Promise<void> {
    this.#finished = true;
    const { client, layout } = this.context;
    const file = layout.file(this.path);
    const info = await client.head(file, this.path);
    if (info?.isSlo === true) await client.delete(file, { path: this.path, query: { 'multipart-manifest': 'delete' } });
    else if (info !== undefined) await client.delete(file, { path: this.path });
    const sessions = new Set([...(await this.#sessions.marked(this.path)), this.session]);
    for (const session of sessions) await this.#sessions.drop(session, this.path);
    this.#segments.length = 0;
    this.#size = 0;
  }

  /** Writes the session's marker before its first segment (what `append` finds it by). */
  private async mark(): Promise<void> {
    if (this.#marked) return;
    const { client, layout } = this.context;
    await client.putBuffer(layout.marker(this.path, this.session), EMPTY, { path: this.path });
    this.#marked = true;
  }

  /**
   * Starts streaming one segment: `first`, then more from the feeder up to `chunkSize` bytes.
   * `released` settles once the segment no longer reads the feeder (its body is complete, or its
   * PUT failed); `result` once Swift answered and the MD5 was checked.
   */
  private startSegment(first: Uint8Array, feeder: Feeder, signal: AbortSignal): InFlightSegment {
    const { client, layout, chunkSize, segmentIdleMs } = this.context;
    const index = this.#nextIndex;
    this.#nextIndex = index + 1;
    const name = layout.segment(this.session, index);
    // The one hash of these bytes in this driver: its hex is compared with the ETag Swift
    // computed over what it stored (the SLO manifest then carries it for every segment).
    const md5 = createHash('md5');
    let size = 0;
    let pendingFirst: Uint8Array | undefined = first;
    let watchdog: Watchdog | undefined;
    let bodyDone: () => void = () => undefined;
    const bodyEnded = new Promise<void>((resolve) => {
      bodyDone = resolve;
    });
    // The segment's body: the source's chunks as they come (no copies), until `chunkSize` bytes,
    // the end of the source, or a silence of `segmentIdleMs` (Swift drops idle request bodies).
    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        while (size < chunkSize) {
          let piece: Uint8Array | undefined | typeof IDLE = pendingFirst;
          pendingFirst = undefined;
          if (piece === undefined) {
            watchdog?.pause(); // waiting on the source, not on Swift
            piece = await feeder.take(chunkSize - size, segmentIdleMs);
          }
          if (piece === undefined || piece === IDLE) return;
          md5.update(piece);
          size += piece.byteLength;
          watchdog?.kick();
          yield piece;
        }
      } finally {
        bodyDone();
      }
    }
    const put = async (): Promise<StoredSegment> => {
      try {
        const exchange = await client.expect(
          {
            method: 'PUT',
            target: { object: name },
            body: body(),
            headers: { 'Content-Type': 'application/octet-stream' },
            path: this.path,
            signal,
            attach: (attached) => {
              watchdog = attached;
            },
          },
          [201],
        );
        await discard(exchange);
        const digest = md5.digest('hex');
        const etag = exchange.response.headers.get('etag')?.replace(/^"|"$/g, '');
        if (etag !== undefined && etag !== digest) {
          throw new DriverError(client.driverName, `writer: Swift stored segment ${index} with MD5 ${etag}, expected ${digest}`, this.path);
        }
        return { index, size, etag: digest };
      } catch (error) {
        // The segment may exist even though the exchange failed: remove it so that a listing
        // (a later append) never counts bytes this writer did not report.
        await client.delete(name).catch(() => undefined);
        throw error;
      }
    };
    const result = put();
    const segment: InFlightSegment = {
      name,
      result,
      failed: false,
      // Left pending when the segment succeeds (and collected with it).
      failure: new Promise<typeof FAILED>((resolve) => {
        result.catch(() => {
          segment.failed = true;
          resolve(FAILED);
        });
      }),
      // After `failure`'s handler: once released by a failure, `failed` is already set.
      released: Promise.race([bodyEnded, result.then(noop, noop)]),
    };
    return segment;
  }

  private async putManifest(file: string): Promise<void> {
    const { client, layout } = this.context;
    const { maxManifestSegments } = await this.context.info();
    const container = client.config.container;
    let entries: Array<{ path: string; etag: string | null; size_bytes: number }> = this.#segments.map((segment) => ({
      path: `/${container}/${layout.segment(this.session, segment.index)}`,
      etag: segment.etag,
      size_bytes: segment.size,
    }));
    if (entries.length > maxManifestSegments) {
      const groups = Math.ceil(entries.length / maxManifestSegments);
      if (groups > maxManifestSegments) {
        throw new DriverError(
          client.driverName,
          `writer: ${entries.length} segments exceed ${maxManifestSegments}² (Swift's max_manifest_segments, squared); raise chunksize`,
          this.path,
        );
      }
      const nested: typeof entries = [];
      for (let group = 0; group < groups; group += 1) {
        const part = entries.slice(group * maxManifestSegments, (group + 1) * maxManifestSegments);
        const name = layout.subManifest(this.session, group);
        await client.putBuffer(name, Buffer.from(JSON.stringify(part)), {
          path: this.path,
          query: { 'multipart-manifest': 'put' },
          timeoutMs: manifestTimeout(client, part.length),
        });
        nested.push({ path: `/${container}/${name}`, etag: null, size_bytes: part.reduce((sum, e) => sum + e.size_bytes, 0) });
      }
      entries = nested;
    }
    await client.putBuffer(file, Buffer.from(JSON.stringify(entries)), {
      path: this.path,
      query: { 'multipart-manifest': 'put' },
      timeoutMs: manifestTimeout(client, entries.length),
    });
  }

  private assertOpen(op: string): void {
    if (this.#finished) throw new DriverError(this.context.client.driverName, `writer.${op}: the writer is finished`, this.path);
  }
}

/** Swift HEADs every segment of a manifest before answering: allow time in proportion. */
function manifestTimeout(client: SwiftClient, segments: number): number {
  return client.config.timeoutMs + segments * 50;
}
