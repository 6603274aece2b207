/**
 * A byte-bounded LRU of parsed manifests keyed by digest. Manifests are immutable content, so a
 * cached entry can never be stale; whether the manifest is still in a repository is checked in
 * storage on every request, so the cache is safe across nodes. Optional hooks count hits and
 * misses (metrics) without this module knowing who listens.
 */
import type { ParsedManifest } from './manifests/parse.js';

export interface CachedManifest {
  readonly bytes: Buffer;
  readonly parsed: ParsedManifest;
}

/** Called on every lookup; must be cheap and must not throw. */
export interface CacheHooks {
  readonly onHit?: () => void;
  readonly onMiss?: () => void;
}

export class ManifestCache {
  private readonly entries = new Map<string, CachedManifest>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly hooks: CacheHooks = {},
  ) {}

  get(digest: string): CachedManifest | undefined {
    const entry = this.entries.get(digest);
    if (entry !== undefined) {
      this.entries.delete(digest);
      this.entries.set(digest, entry);
      this.hooks.onHit?.();
    } else {
      this.hooks.onMiss?.();
    }
    return entry;
  }

  set(digest: string, entry: CachedManifest): void {
    if (entry.bytes.length > this.maxBytes / 4) return;
    const old = this.entries.get(digest);
    if (old !== undefined) {
      this.bytes -= old.bytes.length;
      this.entries.delete(digest);
    }
    this.entries.set(digest, entry);
    this.bytes += entry.bytes.length;
    while (this.bytes > this.maxBytes) {
      const oldest = this.entries.entries().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value[0]);
      this.bytes -= oldest.value[1].bytes.length;
    }
  }
}
