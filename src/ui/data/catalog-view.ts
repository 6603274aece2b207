/**
 * The repository list the UI shows: the catalog (cached in this process for a few seconds, so
 * typing in the filter does not walk storage on every keystroke; any node sees a new repository
 * within that time), filtered to what the caller may pull, then by the text typed, then paged —
 * so a page costs the same with 10 or 10,000 repositories. Tag counts and storage usage are read
 * only for the repositories on the page (usage cached for half a minute). Tag search scans the
 * tag lists of the readable repositories with bounded concurrency and a short-lived cache, and
 * stops at a result limit.
 */
import type { AccessController, Principal } from '../../auth/access.js';
import type { Registry } from '../../core/registry.js';
import type { RepositoryUsage } from '../../core/usage.js';
import { mapLimit } from '../../smartos/memo.js';

export interface RepositoryRow {
  readonly name: string;
  readonly tags: number;
  readonly usage?: RepositoryUsage;
}

export interface RepositoryPage {
  readonly query: string;
  readonly page: number;
  readonly pageSize: number;
  /** Repositories matching the query that the caller may read. */
  readonly total: number;
  readonly rows: readonly RepositoryRow[];
}

export interface TagHit {
  readonly name: string;
  readonly tag: string;
}

export interface CatalogViewOptions {
  readonly catalogTtlMs?: number;
  readonly usageTtlMs?: number;
  readonly tagsTtlMs?: number;
  readonly now?: () => number;
}

interface Timed<T> {
  readonly at: number;
  readonly value: Promise<T>;
}

const MAX_CACHED = 20_000;
/** Oldest catalog served while a fresh walk runs. */
const STALE_MS = 60_000;

export class CatalogView {
  private catalog: Timed<string[]> | undefined;
  private refreshing: Promise<string[]> | undefined;
  private readonly usageCache = new Map<string, Timed<RepositoryUsage>>();
  private readonly tagCache = new Map<string, Timed<string[]>>();
  private readonly now: () => number;

  constructor(
    private readonly registry: Registry,
    private readonly access: AccessController,
    private readonly options: CatalogViewOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Every repository name, sorted. Cached briefly; when the cache is older than its TTL but not
   * older than a minute, the old list is served while a fresh walk runs (one at a time), so
   * filtering stays instant even where a walk of a large catalog takes a second.
   */
  names(): Promise<string[]> {
    const ttl = this.options.catalogTtlMs ?? 5000;
    const age = this.catalog === undefined ? Infinity : this.now() - this.catalog.at;
    if (this.catalog !== undefined && age <= ttl) return this.catalog.value;
    const stale = this.catalog;
    if (this.refreshing === undefined) {
      const value = this.registry.catalog.all();
      this.refreshing = value;
      value.then(
        () => {
          this.catalog = { at: this.now(), value };
          this.refreshing = undefined;
        },
        () => {
          this.refreshing = undefined;
        },
      );
    }
    return stale !== undefined && age <= STALE_MS ? stale.value : this.refreshing;
  }

  /** Drops cached facts about a repository (after a delete through the UI). */
  forget(name: string): void {
    this.usageCache.delete(name);
    this.tagCache.delete(name);
    this.catalog = undefined;
    this.refreshing = undefined;
  }

  async readable(principal: Principal): Promise<string[]> {
    const names = await this.names();
    const allowed = await Promise.all(names.map((n) => this.access.canPull(principal, n)));
    return names.filter((_, i) => allowed[i] === true);
  }

  async page(principal: Principal, query: string, page: number, pageSize: number): Promise<RepositoryPage> {
    const needle = query.trim().toLowerCase();
    const repoNeedle = needle.includes(':') ? needle.slice(0, needle.indexOf(':')) : needle;
    const names = (await this.readable(principal)).filter((n) => repoNeedle === '' || n.includes(repoNeedle));
    const pages = Math.max(1, Math.ceil(names.length / pageSize));
    const current = Math.min(Math.max(1, page), pages);
    const slice = names.slice((current - 1) * pageSize, current * pageSize);
    const rows = await mapLimit(slice, 8, async (name): Promise<RepositoryRow> => {
      const [tags, usage] = await Promise.all([this.tags(name), this.usage(name).catch(() => undefined)]);
      return { name, tags: tags.length, ...(usage !== undefined ? { usage } : {}) };
    });
    return { query, page: current, pageSize, total: names.length, rows };
  }

  /**
   * Tags whose name contains the query (or, for `repo:tag`, repositories containing `repo` with
   * tags containing `tag`), in repository order, at most `limit`.
   */
  async findTags(principal: Principal, query: string, limit: number): Promise<TagHit[]> {
    const needle = query.trim().toLowerCase();
    if (needle === '') return [];
    const colon = needle.indexOf(':');
    const repoPart = colon === -1 ? '' : needle.slice(0, colon);
    const tagPart = colon === -1 ? needle : needle.slice(colon + 1);
    const names = (await this.readable(principal)).filter((n) => repoPart === '' || n.includes(repoPart));
    const hits: TagHit[] = [];
    const batch = 64;
    for (let i = 0; i < names.length && hits.length < limit; i += batch) {
      const chunk = names.slice(i, i + batch);
      const lists = await mapLimit(chunk, 16, (n) => this.tags(n));
      chunk.forEach((name, j) => {
        for (const tag of lists[j] ?? []) {
          if (hits.length < limit && (tagPart === '' || tag.toLowerCase().includes(tagPart))) hits.push({ name, tag });
        }
      });
    }
    return hits;
  }

  tags(name: string): Promise<string[]> {
    return this.cached(this.tagCache, name, this.options.tagsTtlMs ?? 10_000, () => this.registry.tags.list(name));
  }

  usage(name: string): Promise<RepositoryUsage> {
    return this.cached(this.usageCache, name, this.options.usageTtlMs ?? 30_000, () => this.registry.usage(name));
  }

  private cached<T>(cache: Map<string, Timed<T>>, key: string, ttl: number, load: () => Promise<T>): Promise<T> {
    const hit = cache.get(key);
    if (hit !== undefined && this.now() - hit.at <= ttl) return hit.value;
    const value = load();
    cache.delete(key);
    cache.set(key, { at: this.now(), value });
    value.catch(() => {
      if (cache.get(key)?.value === value) cache.delete(key);
    });
    while (cache.size > MAX_CACHED) {
      const oldest = cache.keys().next();
      if (oldest.done === true) break;
      cache.delete(oldest.value);
    }
    return value;
  }
}
