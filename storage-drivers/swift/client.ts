/**
 * A small OpenStack Swift object-API client for the swift driver: object HEAD, GET (with Range),
 * PUT (buffer or stream), DELETE and server-side copy, JSON container listings with
 * prefix/delimiter/marker paging, account/container metadata, and `/info`.
 *
 * Every call authenticates through {@link SwiftAuth}; a 401 drops the token and a call whose body
 * can be sent again is retried once with a fresh one (a streamed body cannot be, so that call
 * fails and the next one logs in again). Status codes are mapped once, here: 404 becomes a
 * {@link PathNotFoundError} where a driver path is involved, 5xx/408/429/498 and transport
 * failures a {@link BackendUnavailableError}, anything else a {@link DriverError} naming the
 * operation, the object and Swift's short explanation. Object names are plain strings
 * (`prefix/files/a/b`); URLs are built here with each segment percent-encoded.
 */
import { Readable } from 'node:stream';
import { BackendUnavailableError, DriverError, PathNotFoundError } from '../errors.js';
import type { BufferPool } from '../pooled-chunks.js';
import { pooledGet, wantsPooledGet, type ConnectionLimit } from '../pooled-get/reader.js';
import { abortError } from '../source.js';
import type { SwiftAuth, SwiftSession } from './auth.js';
import { discard, errorExcerpt, readBody, send, type Agents, type Exchange, type ResponseHeaders, type SendSpec, type Watchdog } from './http.js';

/** Entries per listing page (Swift's default `container_listing_limit`). */
export const LISTING_PAGE = 10_000;
/** Largest listing page body accepted. */
const MAX_LISTING_BODY = 64 * 1024 * 1024;

export interface ClientConfig {
  readonly driverName: string;
  readonly container: string;
  /** Idle limit of a request, in milliseconds. */
  readonly timeoutMs: number;
  /** Limit until the response headers of a request without a streamed body (default: timeoutMs). */
  readonly responseTimeoutMs?: number;
  /** Total time one call may spend, its re-login retry included (default: unbounded). */
  readonly budgetMs?: number;
  /** Entries per listing page (default {@link LISTING_PAGE}; tests make it small). */
  readonly listingPage?: number;
  /** Connection pools (keep-alive, bounded); default: one shared per process. */
  readonly agents?: Agents;
  /**
   * Buffers for pooled GETs (`../pooled-get/`): large reads from a plain-http Swift then arrive in
   * reused buffers on a connection of their own. Without it every read goes through `call`.
   */
  readonly readPool?: BufferPool;
  /** Bound on the pooled GETs' own connections (see ../pooled-get/reader.ts). */
  readonly readConnections?: ConnectionLimit;
}

/** What HEAD tells about an object. */
export interface ObjectInfo {
  readonly size: number;
  readonly modTime: Date;
  /** A Static Large Object manifest (its size is the total of its segments). */
  readonly isSlo: boolean;
  readonly etag: string | undefined;
}

/** One entry of a container listing. */
export type ListingEntry =
  | {
      readonly kind: 'object';
      readonly name: string;
      readonly bytes: number;
      readonly hash: string;
      readonly lastModified: Date;
      readonly isSlo: boolean;
    }
  | { readonly kind: 'subdir'; readonly name: string };

export interface ListOptions {
  readonly prefix: string;
  readonly delimiter?: string;
  /** Stop after this many entries. */
  readonly limit?: number;
  /** Driver path for errors. */
  readonly path?: string;
}

/** What `/info` tells (only the parts the driver uses), with Swift's defaults. */
export interface SwiftInfo {
  readonly maxManifestSegments: number;
  readonly maxFileSize: number;
  readonly tempurlMethods: readonly string[] | undefined;
  readonly tempurlDigests: readonly string[] | undefined;
  /** Names one bulk-delete request may carry; 0 when the cluster has no bulk middleware. */
  readonly maxBulkDeletes: number;
}

export const DEFAULT_INFO: SwiftInfo = {
  maxManifestSegments: 1000,
  maxFileSize: 5 * 1024 * 1024 * 1024 + 2,
  tempurlMethods: undefined,
  tempurlDigests: undefined,
  maxBulkDeletes: 0,
};

/** Where a request goes: an object of the container, the container itself, or the account. */
type Target = { readonly object: string } | { readonly container: true } | { readonly account: true };

export interface CallSpec {
  readonly method: string;
  readonly target: Target;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | AsyncIterable<Uint8Array>;
  readonly signal?: AbortSignal;
  /** Override of the idle limit (server-side work that sends nothing for a while). */
  readonly timeoutMs?: number;
  /** Driver path involved, for errors. */
  readonly path?: string;
  /** Receives the request's watchdog before the request starts (streamed bodies pause it). */
  readonly attach?: (watchdog: Watchdog) => void;
}

export class SwiftClient {
  #info: Promise<SwiftInfo> | undefined;

  constructor(
    readonly config: ClientConfig,
    readonly auth: SwiftAuth,
  ) {}

  get driverName(): string {
    return this.config.driverName;
  }

  /** The absolute URL of an object (unsigned), for TempURLs. */
  objectUrl(session: SwiftSession, object: string): string {
    return `${session.storageUrl}/${encodeName(this.config.container)}/${encodeName(object)}`;
  }

  /** The path part of an object URL as Swift sees it decoded (what TempURL signatures cover). */
  objectPath(session: SwiftSession, object: string): string {
    return decodeURIComponent(new URL(this.objectUrl(session, object)).pathname);
  }

  /**
   * One authenticated exchange. A 401 invalidates the token; the request is then sent once more
   * with a new token when its body can be sent again (not a stream).
   */
  async call(spec: CallSpec): Promise<Exchange> {
    const what = this.describe(spec);
    const replayable = spec.body === undefined || spec.body instanceof Uint8Array;
    const started = Date.now();
    for (let attempt = 0; ; attempt += 1) {
      const session = await this.auth.session();
      // The budget covers the login above, every attempt and the wait for each response.
      const left = this.config.budgetMs === undefined ? Infinity : this.config.budgetMs - (Date.now() - started);
      if (left <= 0) {
        throw new BackendUnavailableError(this.config.driverName, `${what}: retry budget of ${this.config.budgetMs ?? 0} ms used up`, spec.path);
      }
      const responseLimit = this.config.responseTimeoutMs === undefined ? undefined : Math.min(this.config.responseTimeoutMs, left);
      const sendSpec: SendSpec = {
        method: spec.method,
        url: this.url(session, spec.target, spec.query),
        headers: { ...spec.headers, 'X-Auth-Token': session.token },
        timeoutMs: spec.timeoutMs ?? this.config.timeoutMs,
        // Calls that override the limit wait on server-side work: the override bounds both phases.
        ...(spec.timeoutMs === undefined && responseLimit !== undefined ? { responseTimeoutMs: responseLimit } : {}),
        what,
        ...(spec.body === undefined ? {} : { body: spec.body }),
        ...(spec.signal === undefined ? {} : { signal: spec.signal }),
        ...(spec.path === undefined ? {} : { path: spec.path }),
        ...(spec.attach === undefined ? {} : { attach: spec.attach }),
        ...(this.config.agents === undefined ? {} : { agents: this.config.agents }),
      };
      const exchange = await send(this.config.driverName, sendSpec);
      if (exchange.response.status !== 401) return exchange;
      await discard(exchange);
      this.auth.invalidate(session.token);
      if (attempt > 0 || !replayable) {
        throw new DriverError(
          this.config.driverName,
          `${what}: Swift rejected the token (401)${replayable ? ' again after a fresh login' : '; the next call logs in again'}`,
          spec.path,
        );
      }
    }
  }

  /** The error for an unexpected status (reads a short excerpt of the body). */
  async statusError(exchange: Exchange, spec: CallSpec): Promise<DriverError> {
    const { status, statusText } = exchange.response;
    const what = this.describe(spec);
    if (status === 404 && spec.path !== undefined) {
      await discard(exchange);
      return new PathNotFoundError(this.config.driverName, spec.path);
    }
    const excerpt = await errorExcerpt(exchange);
    const message = `${what}: ${status} ${statusText}${excerpt === '' ? '' : ` (${excerpt})`}`;
    if (status >= 500 || status === 408 || status === 429 || status === 498) {
      return new BackendUnavailableError(this.config.driverName, message, spec.path);
    }
    if (status === 403) {
      return new DriverError(this.config.driverName, `${message}: the account has no permission for this`, spec.path);
    }
    return new DriverError(this.config.driverName, message, spec.path);
  }

  /** Sends `spec`; resolves with the exchange if the status is one of `ok`, else throws. */
  async expect(spec: CallSpec, ok: readonly number[]): Promise<Exchange> {
    const exchange = await this.call(spec);
    if (ok.includes(exchange.response.status)) return exchange;
    throw await this.statusError(exchange, spec);
  }

  /** HEAD of an object; undefined when it does not exist. */
  async head(object: string, path?: string): Promise<ObjectInfo | undefined> {
    const spec: CallSpec = { method: 'HEAD', target: { object }, ...(path === undefined ? {} : { path }) };
    const exchange = await this.call(spec);
    const { response } = exchange;
    await discard(exchange);
    if (response.status === 404) return undefined;
    if (response.status < 200 || response.status > 299) throw await this.statusError(exchange, spec);
    return objectInfo(response.headers);
  }

  /** Whole small object; undefined when missing. `maxBytes` is checked before reading. */
  async getSmall(
    object: string,
    path: string,
    maxBytes: number,
    tooLarge: (size: number) => Error,
  ): Promise<Buffer | undefined> {
    const spec: CallSpec = { method: 'GET', target: { object }, path };
    const exchange = await this.call(spec);
    const { response } = exchange;
    if (response.status === 404) {
      await discard(exchange);
      return undefined;
    }
    if (response.status !== 200) throw await this.statusError(exchange, spec);
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      await discard(exchange);
      throw tooLarge(declared);
    }
    try {
      return await readBody(exchange, maxBytes);
    } catch (error) {
      if (error instanceof RangeError) throw tooLarge(maxBytes + 1);
      throw error;
    }
  }

  /**
   * A byte range of an object as a Readable. Undefined when the object is missing; an empty
   * stream when the range starts at or past the end. Large reads are pooled GETs when the client
   * has a read pool and Swift is plain http.
   */
  async openRead(
    object: string,
    path: string,
    options: { readonly offset: number; readonly length?: number; readonly signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    const { offset, length, signal } = options;
    const pool = this.config.readPool;
    if (pool !== undefined && wantsPooledGet(length)) {
      const session = await this.auth.session();
      const pooled = await pooledGet(
        {
          driverName: this.config.driverName,
          backend: 'Swift',
          pool,
          ...(this.config.readConnections === undefined ? {} : { connections: this.config.readConnections }),
          responseTimeoutMs: this.config.responseTimeoutMs ?? this.config.timeoutMs,
          idleTimeoutMs: this.config.timeoutMs,
        },
        {
          url: new URL(this.url(session, { object }, undefined)),
          headers: { 'X-Auth-Token': session.token },
          offset,
          ...(length === undefined ? {} : { length }),
          ...(signal === undefined ? {} : { signal }),
          what: `GET ${object}`,
          path,
        },
      );
      // Anything but the plain answer (a 401 included) is handled by the regular exchange below.
      if (pooled !== undefined) return pooled;
    }
    const headers: Record<string, string> = {};
    if (offset > 0 || length !== undefined) {
      headers.Range = `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`;
    }
    const spec: CallSpec = { method: 'GET', target: { object }, headers, path, ...(signal === undefined ? {} : { signal }) };
    const exchange = await this.call(spec);
    const { status } = exchange.response;
    if (status === 404) {
      await discard(exchange);
      return undefined;
    }
    if (status === 416) {
      await discard(exchange);
      return Readable.from([]);
    }
    if (status !== 200 && status !== 206) throw await this.statusError(exchange, spec);
    if (status === 200 && offset > 0) {
      // The whole object instead of the range asked for: never hand out bytes from the wrong offset.
      await discard(exchange);
      throw new DriverError(this.config.driverName, `GET ${object}: Swift ignored the Range header (200 instead of 206)`, path);
    }
    return new BodyReadable(exchange, signal);
  }

  /** PUT of a small body (sent with its MD5, which Swift verifies). */
  async putBuffer(
    object: string,
    body: Uint8Array,
    options: { readonly path?: string; readonly headers?: Readonly<Record<string, string>>; readonly query?: Readonly<Record<string, string>>; readonly timeoutMs?: number } = {},
  ): Promise<ResponseHeaders> {
    const exchange = await this.expect(
      {
        method: 'PUT',
        target: { object },
        body,
        headers: { 'Content-Type': 'application/octet-stream', ...options.headers },
        ...(options.query === undefined ? {} : { query: options.query }),
        ...(options.path === undefined ? {} : { path: options.path }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      },
      [201],
    );
    await discard(exchange);
    return exchange.response.headers;
  }

  /** DELETE; false when there was nothing to delete. */
  async delete(object: string, options: { readonly path?: string; readonly query?: Readonly<Record<string, string>> } = {}): Promise<boolean> {
    const spec: CallSpec = {
      method: 'DELETE',
      target: { object },
      ...(options.query === undefined ? {} : { query: options.query }),
      ...(options.path === undefined ? {} : { path: options.path }),
      // A manifest delete removes its segments first.
      ...(options.query?.['multipart-manifest'] === 'delete' ? { timeoutMs: this.config.timeoutMs * 4 } : {}),
    };
    const exchange = await this.call(spec);
    const { status } = exchange.response;
    if (status === 404) {
      await discard(exchange);
      return false;
    }
    if (status < 200 || status > 299) throw await this.statusError(exchange, spec);
    if (options.query?.['multipart-manifest'] === 'delete') {
      // Bulk-delete style report: 200 with a body that may list failures.
      const report = (await readBody(exchange, 1024 * 1024)).toString('utf8');
      const failure = /Response Status: (\d+)/i.exec(report);
      const errors = /Errors:\s*(\[.*\])/is.exec(report)?.[1];
      if (failure !== null && !/^2\d\d$/.test(failure[1] ?? '') && failure[1] !== '404') {
        const message = `DELETE ${object} (manifest and segments): ${failure[1]} ${errors?.slice(0, 200) ?? ''}`.trim();
        throw Number(failure[1]) >= 500
          ? new BackendUnavailableError(this.config.driverName, message, options.path)
          : new DriverError(this.config.driverName, message, options.path);
      }
      return true;
    }
    await discard(exchange);
    return true;
  }

  /**
   * Deletes objects with the bulk middleware (`POST ?bulk-delete`), in batches. False (nothing
   * done) when the cluster has no bulk delete; missing objects count as deleted.
   */
  async bulkDelete(objects: readonly string[]): Promise<boolean> {
    const { maxBulkDeletes } = await this.info();
    if (maxBulkDeletes === 0) return false;
    const batch = Math.min(maxBulkDeletes, 1000);
    for (let start = 0; start < objects.length; start += batch) {
      const names = objects.slice(start, start + batch);
      const body = Buffer.from(names.map((name) => `/${encodeName(this.config.container)}/${encodeName(name)}`).join('\n'));
      const spec: CallSpec = {
        method: 'POST',
        target: { account: true },
        query: { 'bulk-delete': 'true' },
        headers: { 'Content-Type': 'text/plain', Accept: 'application/json' },
        body,
        timeoutMs: this.config.timeoutMs * 4,
      };
      const exchange = await this.expect(spec, [200]);
      let report: { 'Response Status'?: unknown; Errors?: unknown } = {};
      try {
        report = JSON.parse((await readBody(exchange, 4 * 1024 * 1024)).toString('utf8')) as typeof report;
      } catch {
        // An unreadable report: check by listing later; treat as done.
      }
      const status = typeof report['Response Status'] === 'string' ? report['Response Status'] : '200 OK';
      if (!/^2\d\d/.test(status)) {
        const detail = JSON.stringify(report.Errors ?? []).slice(0, 200);
        const message = `bulk delete of ${names.length} objects: ${status} ${detail}`;
        throw /^5\d\d/.test(status)
          ? new BackendUnavailableError(this.config.driverName, message)
          : new DriverError(this.config.driverName, message);
      }
    }
    return true;
  }

  /**
   * Server-side copy (`PUT` with `X-Copy-From`). With `manifest: true` an SLO source is copied
   * as a manifest (`multipart-manifest=get`), so its segments are shared, not duplicated. False
   * when the source does not exist.
   */
  async copy(
    from: string,
    to: string,
    options: { readonly manifest: boolean; readonly path?: string; readonly timeoutMs?: number },
  ): Promise<boolean> {
    const spec: CallSpec = {
      method: 'PUT',
      target: { object: to },
      headers: { 'X-Copy-From': `/${encodeName(this.config.container)}/${encodeName(from)}`, 'Content-Length': '0' },
      ...(options.manifest ? { query: { 'multipart-manifest': 'get' } } : {}),
      ...(options.path === undefined ? {} : { path: options.path }),
      timeoutMs: options.timeoutMs ?? this.config.timeoutMs * 4,
    };
    const exchange = await this.call(spec);
    const { status } = exchange.response;
    if (status === 404) {
      await discard(exchange);
      return false;
    }
    if (status !== 201) throw await this.statusError(exchange, spec);
    await discard(exchange);
    return true;
  }

  /** Container listing in JSON, paged with `marker`, yielding entries in name order. */
  async *list(options: ListOptions): AsyncGenerator<ListingEntry> {
    let marker: string | undefined;
    let yielded = 0;
    const page = this.config.listingPage ?? LISTING_PAGE;
    for (;;) {
      const pageLimit = Math.min(page, options.limit === undefined ? page : options.limit - yielded);
      const query: Record<string, string> = { format: 'json', prefix: options.prefix, limit: String(pageLimit) };
      if (options.delimiter !== undefined) query.delimiter = options.delimiter;
      if (marker !== undefined) query.marker = marker;
      const spec: CallSpec = {
        method: 'GET',
        target: { container: true },
        query,
        ...(options.path === undefined ? {} : { path: options.path }),
      };
      const exchange = await this.call(spec);
      if (exchange.response.status === 404 && options.path !== undefined) {
        await discard(exchange);
        throw new DriverError(this.config.driverName, `the container ${this.config.container} does not exist`, options.path);
      }
      if (exchange.response.status === 204) {
        await discard(exchange);
        return;
      }
      if (exchange.response.status !== 200) throw await this.statusError(exchange, spec);
      const entries = parseListing(await readBody(exchange, MAX_LISTING_BODY), this.config.driverName, options.path);
      for (const entry of entries) {
        yield entry;
        yielded += 1;
      }
      // A subdir as the marker makes Swift skip everything below it.
      const last = entries.at(-1);
      if (last === undefined || entries.length < pageLimit) return;
      if (options.limit !== undefined && yielded >= options.limit) return;
      marker = last.name;
    }
  }

  /** Creates the container unless it exists (a user without that right may still use it). */
  async ensureContainer(): Promise<void> {
    const spec: CallSpec = { method: 'PUT', target: { container: true }, headers: { 'Content-Length': '0' } };
    const exchange = await this.call(spec);
    const { status } = exchange.response;
    if (status === 201 || status === 202 || status === 204) {
      await discard(exchange);
      return;
    }
    if (status === 403) {
      await discard(exchange);
      const head = await this.call({ method: 'HEAD', target: { container: true } });
      await discard(head);
      if (head.response.status >= 200 && head.response.status <= 299) return;
      throw new DriverError(
        this.config.driverName,
        `the container ${this.config.container} does not exist and this account may not create it (403)`,
      );
    }
    throw await this.statusError(exchange, spec);
  }

  /** Account (or container) metadata from HEAD. */
  async metadata(target: 'account' | 'container'): Promise<ResponseHeaders> {
    const spec: CallSpec = { method: 'HEAD', target: target === 'account' ? { account: true } : { container: true } };
    const exchange = await this.expect(spec, [200, 204]);
    await discard(exchange);
    return exchange.response.headers;
  }

  /** POSTs metadata headers to the account or container; false when not permitted (403). */
  async setMetadata(target: 'account' | 'container', headers: Readonly<Record<string, string>>): Promise<boolean> {
    const spec: CallSpec = {
      method: 'POST',
      target: target === 'account' ? { account: true } : { container: true },
      headers,
    };
    const exchange = await this.call(spec);
    await discard(exchange);
    if (exchange.response.status === 403) return false;
    if (exchange.response.status < 200 || exchange.response.status > 299) throw await this.statusError(exchange, spec);
    return true;
  }

  /** Cluster capabilities from `/info` (unauthenticated; Swift's defaults when unavailable). */
  info(): Promise<SwiftInfo> {
    if (this.#info === undefined) {
      const pending = this.loadInfo();
      this.#info = pending;
      pending.catch(() => {
        if (this.#info === pending) this.#info = undefined;
      });
    }
    return this.#info;
  }

  private async loadInfo(): Promise<SwiftInfo> {
    const session = await this.auth.session();
    const base = session.storageUrl.replace(/\/v1(\/[^/]*)?\/?$/, '');
    let exchange: Exchange;
    try {
      exchange = await send(this.config.driverName, {
        method: 'GET',
        url: `${base}/info`,
        timeoutMs: this.config.timeoutMs,
        what: 'GET /info',
        ...(this.config.agents === undefined ? {} : { agents: this.config.agents }),
      });
    } catch (error) {
      if (error instanceof BackendUnavailableError) throw error;
      return DEFAULT_INFO;
    }
    if (exchange.response.status !== 200) {
      await discard(exchange);
      return DEFAULT_INFO;
    }
    try {
      const parsed = JSON.parse((await readBody(exchange, 1024 * 1024)).toString('utf8')) as {
        swift?: { max_file_size?: unknown };
        slo?: { max_manifest_segments?: unknown };
        bulk_delete?: { max_deletes_per_request?: unknown };
        tempurl?: { methods?: unknown; allowed_digests?: unknown };
      };
      const strings = (value: unknown): string[] | undefined =>
        Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
      const positive = (value: unknown, fallback: number): number =>
        typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : fallback;
      return {
        maxManifestSegments: positive(parsed.slo?.max_manifest_segments, DEFAULT_INFO.maxManifestSegments),
        maxFileSize: positive(parsed.swift?.max_file_size, DEFAULT_INFO.maxFileSize),
        tempurlMethods: parsed.tempurl === undefined ? [] : strings(parsed.tempurl.methods),
        tempurlDigests: parsed.tempurl === undefined ? [] : strings(parsed.tempurl.allowed_digests),
        maxBulkDeletes: parsed.bulk_delete === undefined ? 0 : positive(parsed.bulk_delete.max_deletes_per_request, 0),
      };
    } catch {
      return DEFAULT_INFO;
    }
  }

  private url(session: SwiftSession, target: Target, query: Readonly<Record<string, string>> | undefined): string {
    let url = session.storageUrl;
    if (!('account' in target)) url += `/${encodeName(this.config.container)}`;
    if ('object' in target) url += `/${encodeName(target.object)}`;
    if (query !== undefined && Object.keys(query).length > 0) url += `?${new URLSearchParams(query).toString()}`;
    return url;
  }

  private describe(spec: CallSpec): string {
    const target =
      'object' in spec.target ? spec.target.object : 'container' in spec.target ? `container ${this.config.container}` : 'account';
    const query = spec.query?.['multipart-manifest'] === undefined ? '' : `?multipart-manifest=${spec.query['multipart-manifest']}`;
    return `${spec.method} ${target}${query}`;
  }
}

/** Percent-encodes each `/`-separated segment of an object or container name. */
export function encodeName(name: string): string {
  return name
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

function objectInfo(headers: ResponseHeaders): ObjectInfo {
  const size = Number(headers.get('content-length') ?? '0');
  const timestamp = Number(headers.get('x-timestamp') ?? Number.NaN);
  const lastModified = Date.parse(headers.get('last-modified') ?? '');
  const modTime = new Date(Number.isFinite(timestamp) ? timestamp * 1000 : Number.isFinite(lastModified) ? lastModified : Date.now());
  const etag = headers.get('etag')?.replace(/^"|"$/g, '');
  return {
    size: Number.isFinite(size) ? size : 0,
    modTime,
    isSlo: (headers.get('x-static-large-object') ?? '').toLowerCase() === 'true',
    etag,
  };
}

function parseListing(body: Buffer, driverName: string, path: string | undefined): ListingEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new DriverError(driverName, 'container listing: not JSON', path, { cause: error });
  }
  if (!Array.isArray(parsed)) throw new DriverError(driverName, 'container listing: not a JSON array', path);
  const entries: ListingEntry[] = [];
  for (const item of parsed as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const record = item as Record<string, unknown>;
    if (typeof record.subdir === 'string') {
      entries.push({ kind: 'subdir', name: record.subdir });
      continue;
    }
    if (typeof record.name !== 'string') continue;
    const modified = typeof record.last_modified === 'string' ? Date.parse(`${record.last_modified}Z`) : Number.NaN;
    entries.push({
      kind: 'object',
      name: record.name,
      bytes: typeof record.bytes === 'number' ? record.bytes : 0,
      hash: typeof record.hash === 'string' ? record.hash : '',
      lastModified: new Date(Number.isFinite(modified) ? modified : 0),
      isSlo: typeof record.slo_etag === 'string',
    });
  }
  return entries;
}

/**
 * A response body as a Node Readable: the socket's chunks are passed on as they come (flow
 * control by pausing the response when the consumer is full). The watchdog runs only while the
 * consumer wants data and Swift has not sent it (a slow consumer is not Swift's fault); the
 * caller's signal destroys the stream with an AbortError; a timeout or a broken connection with a
 * BackendUnavailableError.
 */
class BodyReadable extends Readable {
  readonly #onAbort: (() => void) | undefined;
  #ended = false;

  constructor(
    private readonly exchange: Exchange,
    private readonly signal: AbortSignal | undefined,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    const body = exchange.response.body;
    exchange.watchdog.pause();
    body.pause();
    body.on('data', (chunk: Buffer) => {
      exchange.watchdog.kick();
      if (!this.push(chunk)) {
        body.pause();
        exchange.watchdog.pause();
      }
    });
    body.once('end', () => {
      this.#ended = true;
      exchange.watchdog.stop();
      this.push(null);
    });
    const broken = (error?: unknown): void => {
      if (this.#ended || this.destroyed) return;
      this.destroy(exchange.fail(error ?? new Error('the connection to Swift closed before the body was complete')) as Error);
    };
    body.once('error', broken);
    body.once('close', () => broken());
    if (signal !== undefined) {
      const onAbort = (): void => {
        this.destroy(abortError(signal));
      };
      this.#onAbort = onAbort;
      signal.addEventListener('abort', onAbort, { once: true });
    }
  }

  override _read(): void {
    this.exchange.watchdog.kick();
    this.exchange.response.body.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.exchange.watchdog.stop();
    if (this.#onAbort !== undefined) this.signal?.removeEventListener('abort', this.#onAbort);
    const body = this.exchange.response.body;
    if (!this.#ended && !body.destroyed) body.destroy();
    callback(error);
  }
}
