/**
 * The `swift` driver: OpenStack Swift's object API, through the small client in this folder
 * (client.ts; http.ts: node:http with one bounded keep-alive pool per driver, shared by logins
 * and object requests; auth.ts for v1 tempauth and Keystone v3, one login reused until Swift
 * rejects the token or it expires; segmented-writer.ts for the FileWriter; layout.ts for object
 * names). README.md says why it is not built on pkgcloud.
 *
 * - Files are objects under `<prefix>files/`; directories are implicit (listing prefixes).
 * - `putContent` is one PUT (atomic in Swift); `getContent` one GET, refused early by its
 *   Content-Length past the cap; `reader` a GET with Range (past the end: empty); large reads
 *   from a plain-http Swift are pooled GETs into a per-driver buffer pool (`../pooled-get/`).
 * - `writer` streams segments and commits a Static Large Object (segmented-writer.ts).
 * - `move` is a server-side copy — `multipart-manifest=get`, so an SLO's manifest is copied and
 *   its segments are shared, not duplicated (and > 5 GiB works) — then a plain DELETE of the
 *   source object (not of the segments it references). An SLO replaced at the destination has its
 *   segments deleted.
 * - `delete` removes the object and everything under `path/` (SLOs with
 *   `multipart-manifest=delete`, so with their segments), and the resumable sessions marked below
 *   the path.
 * - `list` uses `delimiter=/` for the direct children; `stat` is a HEAD, else a one-entry prefix
 *   listing (a directory).
 * - `redirectUrl` is a Swift TempURL (HMAC-SHA256, or SHA-1/SHA-512 as `/info` allows) when
 *   `secretkey` is set; the key is installed as `X-Account-Meta-Temp-URL-Key` (or `-Key-2` when
 *   another key holds the first slot; the container's with `tempurlcontainerkey`) at start-up
 *   when the account may.
 * - The container is created if missing, on first use. Every request has an idle timeout
 *   (`timeout`); see http.ts for the error mapping.
 */
import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import type {
  FileInfo,
  FileWriter,
  GetContentOptions,
  ReadOptions,
  RedirectOptions,
  StorageDriver,
  WriterOptions,
} from '../driver.js';
import { ContentTooLargeError, DriverError, PathNotFoundError } from '../errors.js';
import { SwiftAuth, type TokenCache } from './auth.js';
import { SwiftClient, type ListingEntry } from './client.js';
import { ConnectionLimit, createReadPool } from '../pooled-get/reader.js';
import { createAgents, DEFAULT_MAX_SOCKETS } from './http.js';
import { Layout } from './layout.js';
import { detectAuthVersion, normalizePrefix, type SwiftParams } from './params.js';
import { deleteAll, openSegmentedWriter, Sessions, type WriterContext } from './segmented-writer.js';

export { swiftParamsSchema, type SwiftParams } from './params.js';

const NAME = 'swift';
/** End a segment after the source has been silent this long (Swift's client_timeout is 60 s). */
const DEFAULT_SEGMENT_IDLE_MS = 20_000;
/** Parallel DELETEs of SLO manifests in a recursive delete. */
const MANIFEST_DELETE_CONCURRENCY = 4;

export interface SwiftDriverOptions {
  /** Validated parameters (`swiftParamsSchema`). */
  readonly params: SwiftParams;
  /** Share logins between driver instances (default: one cache per driver). */
  readonly tokenCache?: TokenCache;
  /** End a segment when the writer's source is silent this long (ms); tests shorten it. */
  readonly segmentIdleMs?: number;
  /** Entries per listing request (default 10000, Swift's limit); tests make it small. */
  readonly listingPageSize?: number;
  /** Most connections kept open to Swift (keep-alive pool; default {@link DEFAULT_MAX_SOCKETS}). */
  readonly maxSockets?: number;
}

/** The driver, with a few extras for operators and tests. */
export interface SwiftDriver extends StorageDriver {
  /** Authenticates and creates the container if needed (otherwise done on first use). */
  ready(): Promise<void>;
  /** The auth state (logins made, token cache). */
  readonly auth: SwiftAuth;
  /** The object-API client (for tools and tests). */
  readonly client: SwiftClient;
  /** Container and object-name prefix in use. */
  readonly container: string;
  readonly prefix: string;
}

export function createSwiftDriver(options: SwiftDriverOptions): SwiftDriver {
  const { params } = options;
  const timeoutMs = Math.round(params.timeout * 1000);
  const responseTimeoutMs = Math.round(params.responsetimeout * 1000);
  const budgetMs = Math.round(params.retrybudget * 1000);
  // One bounded keep-alive pool per driver, for logins and object requests alike.
  const agents = createAgents(options.maxSockets);
  const auth = new SwiftAuth(
    NAME,
    {
      agents,
      authurl: params.authurl,
      username: params.username,
      password: params.password,
      version: detectAuthVersion(params),
      region: params.region,
      tenant: params.tenant,
      tenantid: params.tenantid,
      domain: params.domain,
      domainid: params.domainid,
      trustid: params.trustid,
      endpointtype: params.endpointtype,
      timeoutMs,
      responseTimeoutMs,
    },
    options.tokenCache,
  );
  const client = new SwiftClient(
    {
      driverName: NAME,
      container: params.container,
      timeoutMs,
      responseTimeoutMs,
      budgetMs,
      agents,
      readPool: createReadPool(),
      readConnections: new ConnectionLimit(),
      ...(options.listingPageSize === undefined ? {} : { listingPage: options.listingPageSize }),
    },
    auth,
  );
  const layout = new Layout(normalizePrefix(params.prefix));
  const writerContext: WriterContext = {
    client,
    layout,
    chunkSize: params.chunksize,
    segmentIdleMs: options.segmentIdleMs ?? DEFAULT_SEGMENT_IDLE_MS,
    info: () => client.info(),
  };
  const sessions = new Sessions(writerContext);

  let readiness: Promise<void> | undefined;
  let tempUrlKey: Promise<boolean> | undefined;

  const ready = (): Promise<void> => {
    if (readiness === undefined) {
      const pending = (async () => {
        await client.ensureContainer();
        // Not awaited: redirects wait for it, nothing else does (and it never rejects).
        if (params.secretkey !== undefined) tempUrlKey = installTempUrlKey(client, params).catch(() => false);
      })();
      readiness = pending;
      pending.catch(() => {
        if (readiness === pending) readiness = undefined;
      });
    }
    return readiness;
  };

  /** All entries of a listing (paged). */
  const listAll = async (prefix: string, path: string, delimiter?: string): Promise<ListingEntry[]> => {
    const entries: ListingEntry[] = [];
    for await (const entry of client.list({ prefix, path, ...(delimiter === undefined ? {} : { delimiter }) })) entries.push(entry);
    return entries;
  };

  const driver: SwiftDriver = {
    name: NAME,
    auth,
    client,
    container: params.container,
    prefix: layout.root,
    ready,

    async stat(path: string): Promise<FileInfo> {
      await ready();
      if (path !== '/') {
        const info = await client.head(layout.file(path), path);
        if (info !== undefined) return { path, size: info.size, modTime: info.modTime, isDir: false };
      }
      let first: ListingEntry | undefined;
      for await (const entry of client.list({ prefix: layout.children(path), path, limit: 1, delimiter: '/' })) {
        first = entry;
      }
      if (first === undefined && path !== '/') throw new PathNotFoundError(NAME, path);
      const modTime = first?.kind === 'object' ? first.lastModified : new Date();
      return { path, size: 0, modTime, isDir: true };
    },

    async getContent(path: string, getOptions: GetContentOptions = {}): Promise<Buffer> {
      await ready();
      const max = getOptions.maxBytes ?? Number.MAX_SAFE_INTEGER;
      const content = await client.getSmall(layout.file(path), path, max, (size) =>
        new ContentTooLargeError(NAME, `getContent: ${size} bytes exceed the ${max}-byte limit`, path),
      );
      if (content === undefined) throw new PathNotFoundError(NAME, path);
      return content;
    },

    async putContent(path: string, content: Uint8Array): Promise<void> {
      await ready();
      const etag = createHash('md5').update(content).digest('hex');
      await client.putBuffer(layout.file(path), content, { path, headers: { ETag: etag } });
    },

    async reader(path: string, readOptions: ReadOptions = {}): Promise<Readable> {
      await ready();
      const offset = readOptions.offset ?? 0;
      const object = layout.file(path);
      if (readOptions.length === 0) {
        if ((await client.head(object, path)) === undefined) throw new PathNotFoundError(NAME, path);
        return Readable.from([]);
      }
      const stream = await client.openRead(object, path, {
        offset,
        ...(readOptions.length === undefined ? {} : { length: readOptions.length }),
        ...(readOptions.signal === undefined ? {} : { signal: readOptions.signal }),
      });
      if (stream === undefined) throw new PathNotFoundError(NAME, path);
      return stream;
    },

    async writer(path: string, writerOptions: WriterOptions = {}): Promise<FileWriter> {
      await ready();
      return openSegmentedWriter(writerContext, path, writerOptions.append === true);
    },

    async list(path: string): Promise<string[]> {
      await ready();
      const children = new Set<string>();
      for (const entry of await listAll(layout.children(path), path, '/')) {
        const child = layout.pathOf(entry.name);
        if (child !== undefined && child !== path) children.add(child);
      }
      if (children.size === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
      return [...children];
    },

    async move(from: string, to: string): Promise<void> {
      await ready();
      const source = layout.file(from);
      const target = layout.file(to);
      if (from === to) {
        if ((await client.head(source, from)) === undefined) throw new PathNotFoundError(NAME, from);
        return;
      }
      // Segments of an SLO about to be replaced at the destination become garbage.
      const replaced = await client.head(target, to);
      const orphaned = replaced?.isSlo === true ? await sessions.referenced(target, to) : undefined;
      if (!(await client.copy(source, target, { manifest: true, path: from }))) throw new PathNotFoundError(NAME, from);
      await client.delete(source, { path: from });
      if (orphaned !== undefined && orphaned.size > 0) {
        const kept = (await sessions.referenced(target, to)) ?? new Set<string>();
        for (const session of orphaned) if (!kept.has(session)) await sessions.drop(session, undefined);
      }
    },

    async delete(path: string): Promise<void> {
      await ready();
      const manifests: string[] = [];
      const plain: string[] = [];
      if (path !== '/') {
        const info = await client.head(layout.file(path), path);
        if (info !== undefined) (info.isSlo ? manifests : plain).push(layout.file(path));
      }
      for (const entry of await listAll(layout.children(path), path)) {
        if (entry.kind === 'object') (entry.isSlo ? manifests : plain).push(entry.name);
      }
      const marked: Array<{ readonly session: string; readonly marker: string }> = [];
      for (const entry of await listAll(layout.markers(path), path)) {
        if (entry.kind !== 'object') continue;
        const session = layout.markerSession(entry.name);
        if (session !== undefined) marked.push({ session, marker: entry.name });
      }
      let next = 0;
      const deleteManifests = async (): Promise<void> => {
        while (next < manifests.length) {
          const name = manifests[next] ?? '';
          next += 1;
          await client.delete(name, { path, query: { 'multipart-manifest': 'delete' } });
        }
      };
      await Promise.all(Array.from({ length: Math.min(MANIFEST_DELETE_CONCURRENCY, manifests.length) }, deleteManifests));
      await deleteAll(client, plain);
      for (const { session, marker } of marked) {
        await sessions.drop(session, undefined);
        await client.delete(marker);
      }
      // Resumable sessions alone are not a file (stat agrees): they are cleaned, the path was not there.
      if (manifests.length === 0 && plain.length === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
    },

    async redirectUrl(path: string, redirect: RedirectOptions): Promise<string | undefined> {
      if (params.secretkey === undefined) return undefined;
      await ready();
      const info = await client.info();
      const methods = params.tempurlmethods ?? info.tempurlMethods ?? ['GET', 'HEAD'];
      if (!methods.includes(redirect.method)) return undefined;
      if (!(await (tempUrlKey ?? Promise.resolve(false)))) return undefined;
      const digests = info.tempurlDigests ?? ['sha1', 'sha256', 'sha512'];
      const algorithm = digests.includes('sha256') ? 'sha256' : digests.includes('sha512') ? 'sha512' : digests.includes('sha1') ? 'sha1' : undefined;
      if (algorithm === undefined) return undefined;
      const session = await auth.session();
      const object = layout.file(path);
      const expires = Math.floor(Date.now() / 1000) + Math.ceil(redirect.expiresIn);
      const hmac = createHmac(algorithm, params.secretkey).update(`${redirect.method}\n${expires}\n${client.objectPath(session, object)}`);
      const signature = algorithm === 'sha512' ? `sha512:${hmac.digest('base64url')}` : hmac.digest('hex');
      const query = new URLSearchParams({ temp_url_sig: signature, temp_url_expires: String(expires) });
      return `${client.objectUrl(session, object)}?${query.toString()}`;
    },
  };
  return driver;
}

/**
 * Makes sure the account (or container) accepts TempURLs signed with `secretkey`: fine if one
 * of its two key slots holds it; else it is written to the first free slot, or to slot 2 when
 * both are taken (slot 1 is left to whoever set it). False when the account may not be changed.
 */
async function installTempUrlKey(client: SwiftClient, params: SwiftParams): Promise<boolean> {
  const secret = params.secretkey;
  if (secret === undefined) return false;
  const target = params.tempurlcontainerkey ? 'container' : 'account';
  const header = target === 'container' ? 'X-Container-Meta-Temp-URL-Key' : 'X-Account-Meta-Temp-URL-Key';
  try {
    const headers = await client.metadata(target);
    const first = headers.get(header);
    const second = headers.get(`${header}-2`);
    if (first === secret || second === secret) return true;
    return await client.setMetadata(target, { [first === null || first === '' ? header : `${header}-2`]: secret });
  } catch (error) {
    if (error instanceof DriverError) return false;
    throw error;
  }
}
