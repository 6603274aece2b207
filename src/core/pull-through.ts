/**
 * The contract between the v2 front end and a pull-through cache (implemented in src/proxy, wired
 * by the server): for a repository name that mirrors an upstream, what is missing locally is
 * fetched from the upstream and stored through the core stores. Types only; no behaviour.
 */
import type { Readable } from 'node:stream';
import type { ParsedDigest } from './digest.js';

/** A blob the repository did not have. */
export interface ColdBlob {
  readonly size: number;
  /**
   * The bytes, live from the upstream while they are being stored (the whole blob, from offset 0).
   * Absent: the blob is now stored and linked (read it from storage), or, for a HEAD, only its
   * size is known.
   */
  readonly stream?: Readable;
}

export interface PullThrough {
  /** Whether the repository name is served from an upstream (then pushes are refused). */
  handles(name: string): boolean;
  /**
   * The digest a tag stands for: the cached one while it is fresh, revalidated upstream after the
   * TTL, the cached one again when the upstream is unreachable; undefined when neither knows it.
   * The manifest is in the repository when a digest is returned.
   */
  resolveTag(name: string, tag: string): Promise<ParsedDigest | undefined>;
  /** Makes sure the manifest is in the repository (fetched on a miss); false when the upstream lacks it. */
  ensureManifest(name: string, digest: ParsedDigest): Promise<boolean>;
  /**
   * A blob the repository lacks: linked from the store when present there, else fetched (one
   * upstream fetch per digest at a time). `live`: the caller can take a live stream; `head`: the
   * size is enough. Undefined when the upstream does not have it.
   */
  blob(name: string, digest: ParsedDigest, options: { readonly head: boolean; readonly live: boolean }): Promise<ColdBlob | undefined>;
}
