/**
 * The pull-through cache (core/pull-through.ts's contract): repository names under a configured
 * upstream are mirrored on demand into ordinary storage, so every driver and every node serves
 * them, and what was fetched once is served from storage afterwards.
 *
 * Policy:
 * - a manifest by digest is fetched once and kept (content addressed: it cannot change);
 * - a tag's digest is trusted for the upstream's `ttl` after the upstream last confirmed it
 *   (tag-state.ts, in storage), then revalidated with a HEAD (a GET only when the digest moved or
 *   the upstream sends no `Docker-Content-Digest`);
 * - a blob is fetched on its first GET, streamed to the client while it is stored, verified
 *   before it becomes visible (blob-flight.ts), one fetch per digest per process;
 * - when the upstream cannot be reached, answers 429 or 5xx, or refuses our credentials, what is
 *   cached is served (a tag: its last known digest) with a warning in the log; with nothing
 *   cached the client gets 503 UNAVAILABLE;
 * - the upstream's 404 (and 401/403: Docker Hub's answer for a missing repository) is the
 *   client's MANIFEST_UNKNOWN / BLOB_UNKNOWN.
 */
import type { Logger } from 'pino';
import type { ProxyConfig, UpstreamConfig } from '../config/proxy-schema.js';
import { digestOf, tryParseDigest, type ParsedDigest } from '../core/digest.js';
import { bareMediaType, MANIFEST_MEDIA_TYPES } from '../core/manifests/media-types.js';
import type { ColdBlob, PullThrough } from '../core/pull-through.js';
import type { Registry } from '../core/registry.js';
import { RegistryError } from '../errors/registry-error.js';
import { BlobFlight } from './blob-flight.js';
import { SingleFlight } from './single-flight.js';
import { readTagState, writeTagState } from './tag-state.js';
import { readBytesCapped, UpstreamAuthError, UpstreamClient, UpstreamUnavailableError, type ClientOptions } from './upstream-client.js';
import { UpstreamTable, type Route } from './upstreams.js';

export interface PullThroughOptions {
  readonly registry: Registry;
  readonly config: ProxyConfig;
  readonly logger: Logger;
  /** Largest manifest accepted from an upstream (`berth.limits.manifestbytes`). */
  readonly maxManifestBytes: number;
  readonly now?: () => number;
  readonly client?: ClientOptions;
}

interface Upstream {
  readonly upstream: UpstreamConfig;
  readonly client: UpstreamClient;
}

const ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

/** The pull-through cache, or undefined when no upstream is configured. */
export function createPullThrough(options: PullThroughOptions): PullThrough | undefined {
  if (options.config.upstreams.length === 0) return undefined;
  return new PullThroughCache(options);
}

type Fetched = { readonly digest: ParsedDigest } | undefined;

class PullThroughCache implements PullThrough {
  private readonly table: UpstreamTable<Upstream>;
  private readonly registry: Registry;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly tagFlights = new SingleFlight<Fetched>();
  private readonly manifestFlights = new SingleFlight<boolean>();
  private readonly blobFlights = new Map<string, BlobFlight>();

  constructor(private readonly options: PullThroughOptions) {
    this.registry = options.registry;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.table = new UpstreamTable(
      options.config.upstreams.map((upstream) => ({ upstream, client: new UpstreamClient(upstream, { now: this.now, ...options.client }) })),
    );
  }

  handles(name: string): boolean {
    return this.table.route(name) !== undefined;
  }

  async resolveTag(name: string, tag: string): Promise<ParsedDigest | undefined> {
    const route = this.table.route(name);
    if (route === undefined) return this.registry.tags.resolve(name, tag);
    const [local, state] = await Promise.all([this.registry.tags.resolve(name, tag), readTagState(this.registry.driver, name, tag)]);
    const fresh =
      local !== undefined && state !== undefined && state.digest.digest === local.digest && this.now() - state.checkedAt < route.upstream.upstream.ttlMs;
    if (fresh && (await this.registry.manifests.has(name, local))) return local;
    const result = await this.tagFlights.run(`${name}\u0000${tag}`, () => this.revalidateTag(route, name, tag));
    return result?.digest;
  }

  async ensureManifest(name: string, digest: ParsedDigest): Promise<boolean> {
    if (await this.registry.manifests.has(name, digest)) return true;
    const route = this.table.route(name);
    if (route === undefined) return false;
    return this.manifestFlights.run(`${name}\u0000${digest.digest}`, async () => {
      try {
        return (await this.fetchManifest(route, name, digest.digest, [])) !== undefined;
      } catch (error) {
        throw this.unavailable(route, name, error);
      }
    });
  }

  async blob(name: string, digest: ParsedDigest, options: { readonly head: boolean; readonly live: boolean }): Promise<ColdBlob | undefined> {
    const route = this.table.route(name);
    if (route === undefined) return undefined;
    const { blobs } = this.registry;
    const stored = await blobs.globalSize(digest);
    if (stored !== undefined) {
      if (options.head) return { size: stored };
      // Touch before checking again and linking (the garbage collector's protocol, core/blob-store.ts).
      await blobs.touch(digest);
      const size = await blobs.globalSize(digest);
      if (size !== undefined) {
        await blobs.link(name, digest);
        return { size };
      }
    }
    let flight = this.blobFlights.get(digest.digest);
    if (flight === undefined) {
      if (options.head) return this.headBlob(route, name, digest);
      const created = new BlobFlight(this.registry, name, digest, () => this.openBlob(route, name, digest));
      flight = created;
      this.blobFlights.set(digest.digest, created);
      void created.done
        .then(
          (size) => {
            if (size !== false) this.logger.info({ repository: name, digest: digest.digest, size, upstream: route.upstream.upstream.remoteUrl }, 'proxy: blob cached');
          },
          (error: unknown) => this.logger.warn({ repository: name, digest: digest.digest, err: describe(error) }, 'proxy: blob fetch failed'),
        )
        .finally(() => {
          if (this.blobFlights.get(digest.digest) === created) this.blobFlights.delete(digest.digest);
        });
    }
    const owner = flight;
    let start;
    try {
      start = await owner.started;
    } catch (error) {
      throw this.unavailable(route, name, error);
    }
    if (!start.found) return undefined;
    if (options.head && start.size !== undefined) return { size: start.size };
    // Another repository's flight stores and links the blob there; link it here too once stored.
    const linkHere = async (): Promise<number | false> => {
      const size = await owner.done;
      if (size !== false && !(await blobs.isLinked(name, digest))) {
        await blobs.touch(digest);
        await blobs.link(name, digest);
      }
      return size;
    };
    if (options.live && start.size !== undefined) {
      const stream = owner.join();
      if (stream !== undefined) {
        linkHere().catch(() => undefined);
        return { size: start.size, stream };
      }
    }
    let size: number | false;
    try {
      size = await linkHere();
    } catch (error) {
      if (error instanceof RegistryError) throw error;
      throw this.unavailable(route, name, error);
    }
    return size === false ? undefined : { size };
  }

  private async headBlob(route: Route<Upstream>, name: string, digest: ParsedDigest): Promise<ColdBlob | undefined> {
    try {
      const res = await route.upstream.client.request('HEAD', route.remoteName, `blobs/${digest.digest}`);
      await res.body?.cancel().catch(() => undefined);
      const size = contentLength(res);
      if (res.status === 200 && size !== undefined) return { size };
      this.notFound(route, name, res.status);
      return undefined;
    } catch (error) {
      throw this.unavailable(route, name, error);
    }
  }

  private async openBlob(route: Route<Upstream>, name: string, digest: ParsedDigest) {
    const res = await route.upstream.client.request('GET', route.remoteName, `blobs/${digest.digest}`);
    if (res.status !== 200 || res.body === null) {
      await res.body?.cancel().catch(() => undefined);
      this.notFound(route, name, res.status);
      return undefined;
    }
    const size = contentLength(res);
    return { response: res, ...(size !== undefined ? { size } : {}) };
  }

  /** Asks the upstream about the tag; falls back to the cached digest when it cannot answer. */
  private async revalidateTag(route: Route<Upstream>, name: string, tag: string): Promise<Fetched> {
    const { tags, manifests } = this.registry;
    const local = await tags.resolve(name, tag);
    const cached = local !== undefined && (await manifests.has(name, local)) ? local : undefined;
    try {
      if (cached !== undefined) {
        const res = await route.upstream.client.request('HEAD', route.remoteName, `manifests/${tag}`, { accept: ACCEPT });
        await res.body?.cancel().catch(() => undefined);
        if (res.status !== 200) {
          this.notFound(route, name, res.status);
          return undefined;
        }
        const remote = tryParseDigest(res.headers.get('docker-content-digest') ?? '');
        if (remote !== undefined && remote.digest === cached.digest) {
          await writeTagState(this.registry.driver, name, tag, { digest: cached, checkedAt: this.now() });
          return { digest: cached };
        }
        if (remote !== undefined && (await manifests.has(name, remote))) {
          await tags.set(name, tag, remote);
          await writeTagState(this.registry.driver, name, tag, { digest: remote, checkedAt: this.now() });
          this.logger.info({ repository: name, tag, from: cached.digest, to: remote.digest }, 'proxy: tag moved upstream');
          return { digest: remote };
        }
        if (remote !== undefined) {
          const moved = await this.fetchManifest(route, name, remote.digest, [tag]);
          if (moved !== undefined) this.logger.info({ repository: name, tag, from: cached.digest, to: moved.digest.digest }, 'proxy: tag moved upstream');
          return moved;
        }
      }
      return await this.fetchManifest(route, name, tag, [tag]);
    } catch (error) {
      if (cached !== undefined && (error instanceof UpstreamUnavailableError || error instanceof UpstreamAuthError)) {
        this.logger.warn(
          { repository: name, tag, digest: cached.digest, upstream: route.upstream.upstream.remoteUrl, err: error.message },
          'proxy: upstream unavailable, serving the cached tag',
        );
        return { digest: cached };
      }
      throw this.unavailable(route, name, error);
    }
  }

  /**
   * GETs a manifest (by tag or digest) and stores it, with `tags` pointing at it and their state.
   * Undefined when the upstream does not have it.
   */
  private async fetchManifest(route: Route<Upstream>, name: string, reference: string, tags: readonly string[]): Promise<Fetched> {
    const res = await route.upstream.client.request('GET', route.remoteName, `manifests/${reference}`, { accept: ACCEPT });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      this.notFound(route, name, res.status);
      return undefined;
    }
    const max = this.options.maxManifestBytes;
    let bytes: Buffer;
    try {
      bytes = await readBytesCapped(res, max);
    } catch (error) {
      if (error instanceof RangeError) throw badUpstream(`manifest larger than ${max} bytes`);
      throw new UpstreamUnavailableError('upstream connection failed while reading a manifest', undefined, { cause: error });
    }
    const byDigest = tryParseDigest(reference);
    const header = tryParseDigest(res.headers.get('docker-content-digest') ?? '');
    // By digest: the bytes must be that digest. By tag: the upstream's own digest, checked
    // against the bytes (ManifestStore.put verifies it; schema1 over its canonical payload).
    const expected = byDigest ?? header;
    const contentType = bareMediaType(res.headers.get('content-type') ?? undefined) || undefined;
    let digest: ParsedDigest;
    try {
      const put = await this.registry.manifests.put(name, bytes, contentType, expected, tags, { mirrored: true });
      digest = put.digest;
    } catch (error) {
      if (error instanceof RegistryError && ['DIGEST_INVALID', 'MANIFEST_INVALID', 'MANIFEST_UNVERIFIED', 'NAME_INVALID', 'TAG_INVALID'].includes(error.code)) {
        this.logger.warn({ repository: name, reference, code: error.code, computed: digestOf(bytes) }, 'proxy: the upstream sent a manifest Berth cannot accept');
        throw badUpstream(error.message);
      }
      throw error;
    }
    for (const tag of tags) await writeTagState(this.registry.driver, name, tag, { digest, checkedAt: this.now() });
    return { digest };
  }

  private notFound(route: Route<Upstream>, name: string, status: number): void {
    if (status === 401 || status === 403) {
      this.logger.warn({ repository: name, upstream: route.upstream.upstream.remoteUrl, status }, 'proxy: the upstream refused access (missing repository or credentials)');
    }
  }

  /** The client's error for an upstream failure (logged; never with credentials). */
  private unavailable(route: Route<Upstream>, name: string, error: unknown): RegistryError {
    if (error instanceof RegistryError) return error;
    this.logger.warn({ repository: name, upstream: route.upstream.upstream.remoteUrl, err: describe(error) }, 'proxy: upstream unavailable and nothing cached');
    return new RegistryError('UNAVAILABLE', {
      message: 'the upstream registry cannot be reached and nothing is cached',
      headers: { 'Retry-After': '10' },
      cause: error,
    });
  }
}

function badUpstream(reason: string): RegistryError {
  return new RegistryError('UNAVAILABLE', { message: `the upstream registry sent unusable content: ${reason}` });
}

function contentLength(res: Response): number | undefined {
  const value = res.headers.get('content-length');
  if (value === null || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
