/**
 * The per-node cache of storage lookups that can change: tag → digest, "this manifest / this
 * blob is linked into this repository", "this blob's data exists (and its size)". On object
 * storage each such lookup is a round trip that costs the backend milliseconds of CPU, and a
 * manifest GET by tag needs two of them, so they are remembered for a short, configurable time
 * (`berth.cache.linkttl`, default 1 s; 0 turns the cache off).
 *
 * Rules that keep it safe:
 * - Staleness is bounded: an entry is served at most `ttlMs` after the storage read that produced
 *   it *started* (so a slow read never extends the bound). Another node's tag move, delete or
 *   garbage collection is therefore seen here within `ttlMs`.
 * - Writes on this node take effect here at once: the store that writes (tag-store, blob-store,
 *   manifest-store) updates or drops the entry right after the storage write, and any read that
 *   was in flight during a write is not cached (a global write generation), so it cannot put an
 *   older value back.
 * - Only positive answers are cached by the stores ("exists", a digest). "Missing" is always asked
 *   again, so a blob or tag another node just created is never hidden (a docker push that HEADs a
 *   blob on one node and PUTs the manifest on another would otherwise fail).
 * - Concurrent misses of one key share one storage read (single flight); the number of entries
 *   is bounded (oldest out first).
 */
export interface LinkCacheOptions {
  /** How long an answer may be served after the read that produced it began (ms); 0 disables. */
  readonly ttlMs: number;
  /** Most entries kept (default 50,000). */
  readonly capacity?: number;
  /** Clock in milliseconds (tests inject one). */
  readonly now?: () => number;
}

interface Entry {
  readonly value: unknown;
  readonly expires: number;
}

/** Entries kept when no capacity is given: a few MiB at most. */
export const DEFAULT_LINK_CACHE_ENTRIES = 50_000;

export class LinkCache {
  readonly #entries = new Map<string, Entry>();
  readonly #loading = new Map<string, Promise<unknown>>();
  readonly #ttlMs: number;
  readonly #capacity: number;
  readonly #now: () => number;
  /** Bumped by every write: a read that overlapped one is not cached. */
  #generation = 0;

  constructor(options: LinkCacheOptions) {
    this.#ttlMs = Math.max(0, options.ttlMs);
    this.#capacity = Math.max(1, options.capacity ?? DEFAULT_LINK_CACHE_ENTRIES);
    this.#now = options.now ?? Date.now;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The cached answer for `key` while it is fresh, else `load()`'s (shared by concurrent callers),
   * remembered when `keep(value)` says so and no write happened on this node meanwhile.
   */
  async get<T>(key: string, load: () => Promise<T>, keep: (value: T) => boolean): Promise<T> {
    if (this.#ttlMs === 0) return load();
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      if (hit.expires > this.#now()) return hit.value as T;
      this.#entries.delete(key);
    }
    const pending = this.#loading.get(key);
    if (pending !== undefined) return pending as Promise<T>;
    const generation = this.#generation;
    const started = this.#now();
    const promise: Promise<T> = load().then(
      (value) => {
        if (this.#loading.get(key) === promise) this.#loading.delete(key);
        if (generation === this.#generation && keep(value)) this.#store(key, value, started);
        return value;
      },
      (error: unknown) => {
        if (this.#loading.get(key) === promise) this.#loading.delete(key);
        throw error;
      },
    );
    this.#loading.set(key, promise);
    return promise;
  }

  /** This node just wrote `value` for `key` to storage: serve it from now on (for `ttlMs`). */
  set(key: string, value: unknown): void {
    this.#generation += 1;
    this.#loading.delete(key);
    if (this.#ttlMs > 0) this.#store(key, value, this.#now());
  }

  /** This node just removed (or changed in an unknown way) what `key` describes. */
  invalidate(key: string): void {
    this.#generation += 1;
    this.#loading.delete(key);
    this.#entries.delete(key);
  }

  /** Drops every entry whose key starts with `prefix` (a repository's, after a bulk change). */
  invalidatePrefix(prefix: string): void {
    this.#generation += 1;
    for (const key of [...this.#loading.keys()]) if (key.startsWith(prefix)) this.#loading.delete(key);
    for (const key of [...this.#entries.keys()]) if (key.startsWith(prefix)) this.#entries.delete(key);
  }

  /** Drops everything (e.g. after an in-process garbage collection). */
  clear(): void {
    this.#generation += 1;
    this.#loading.clear();
    this.#entries.clear();
  }

  #store(key: string, value: unknown, readAt: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expires: readAt + this.#ttlMs });
    while (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }
}

/** Cache keys, one namespace per kind of lookup (NUL cannot occur in names, tags or digests). */
export const linkKeys = {
  tag: (name: string, tag: string): string => `t\u0000${name}\u0000${tag}`,
  revision: (name: string, digest: string): string => `r\u0000${name}\u0000${digest}`,
  layer: (name: string, digest: string): string => `l\u0000${name}\u0000${digest}`,
  blob: (digest: string): string => `b\u0000${digest}`,
  /** Prefix of every key of a repository (tags, revisions, layers). */
  repository: (name: string): readonly string[] => [`t\u0000${name}\u0000`, `r\u0000${name}\u0000`, `l\u0000${name}\u0000`],
} as const;
