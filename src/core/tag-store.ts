/**
 * Tags: `tag → manifest digest` links in storage. Resolving goes through the node's link cache
 * (link-cache.ts): a tag moved or deleted on another node is seen here within `berth.cache.linkttl`,
 * one moved or deleted on this node at once. Writes are atomic putContent; the tag's index keeps
 * every digest it pointed to (distribution's layout).
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { tryParseDigest, type ParsedDigest } from './digest.js';
import { LinkCache, linkKeys } from './link-cache.js';
import { basename, paths } from './paths.js';
import { deleteIfExists, getOrUndefined, listOrEmpty } from './storage-helpers.js';

export class TagStore {
  constructor(
    private readonly driver: StorageDriver,
    private readonly cache: LinkCache = new LinkCache({ ttlMs: 0 }),
  ) {}

  /**
   * The digest the tag points at. Served from the link cache for up to its bound; `fresh` reads
   * storage (for decisions that write, such as deleting every tag of a manifest).
   */
  async resolve(name: string, tag: string, options: { readonly fresh?: boolean } = {}): Promise<ParsedDigest | undefined> {
    const read = async (): Promise<ParsedDigest | undefined> => {
      const link = await getOrUndefined(this.driver, paths.tagCurrentLink(name, tag));
      return link === undefined ? undefined : tryParseDigest(link.toString().trim());
    };
    if (options.fresh === true) return read();
    return this.cache.get(linkKeys.tag(name, tag), read, (digest) => digest !== undefined);
  }

  async set(name: string, tag: string, digest: ParsedDigest): Promise<void> {
    const key = linkKeys.tag(name, tag);
    try {
      await this.driver.putContent(paths.tagIndexLink(name, tag, digest), Buffer.from(digest.digest));
      await this.driver.putContent(paths.tagCurrentLink(name, tag), Buffer.from(digest.digest));
    } catch (error) {
      // The write may or may not have landed: ask storage next time.
      this.cache.invalidate(key);
      throw error;
    }
    this.cache.set(key, digest);
  }

  /** Removes a tag; false when it did not exist. */
  async delete(name: string, tag: string): Promise<boolean> {
    try {
      return await deleteIfExists(this.driver, paths.tagDir(name, tag));
    } finally {
      this.cache.invalidate(linkKeys.tag(name, tag));
    }
  }

  /** All tags of the repository, sorted lexically (byte order), or undefined if it has no tags dir. */
  async list(name: string): Promise<string[]> {
    const children = await listOrEmpty(this.driver, paths.tagsRoot(name));
    return children.map(basename).sort(compareBytes);
  }

  /** Tags currently pointing at the digest. */
  async tagsOf(name: string, digest: ParsedDigest): Promise<string[]> {
    const tags = await this.list(name);
    const hits = await Promise.all(
      tags.map(async (t) => ((await this.resolve(name, t, { fresh: true }))?.digest === digest.digest ? t : undefined)),
    );
    return hits.filter((t): t is string => t !== undefined);
  }
}

export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
