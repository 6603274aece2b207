/**
 * Live hash states of uploads in progress, kept in this process only (node's crypto cannot export
 * a hash state). Each entry says how many bytes of the upload it has consumed; a request that finds
 * no entry at the upload's current size (another node wrote the last chunk, or this node
 * restarted) falls back to re-reading the upload data from storage, so correctness never depends
 * on this cache. Bounded (LRU).
 */
import type { Hash } from 'node:crypto';
import type { Algorithm } from './digest.js';

export interface HashState {
  readonly algorithm: Algorithm;
  readonly hash: Hash;
  /** Bytes of the upload consumed by `hash`. */
  readonly offset: number;
}

export class HashCache {
  private readonly entries = new Map<string, HashState>();

  constructor(private readonly capacity = 4096) {}

  /** Takes the state out of the cache (the caller owns it until it puts it back). */
  take(key: string, offset: number, algorithm: Algorithm): Hash | undefined {
    const entry = this.entries.get(key);
    this.entries.delete(key);
    if (entry === undefined || entry.offset !== offset || entry.algorithm !== algorithm) return undefined;
    return entry.hash;
  }

  put(key: string, state: HashState): void {
    this.entries.delete(key);
    this.entries.set(key, state);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
