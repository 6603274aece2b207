/**
 * Tags: `tag → manifest digest` links in storage, read on every resolve (no cache), so every node
 * sees a tag update at once. Writes are atomic putContent; the tag's index keeps every digest it
 * pointed to (distribution's layout).
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { tryParseDigest, type ParsedDigest } from './digest.js';
import { basename, paths } from './paths.js';
import { deleteIfExists, getOrUndefined, listOrEmpty } from './storage-helpers.js';

export class TagStore {
  constructor(private readonly driver: StorageDriver) {}

  async resolve(name: string, tag: string): Promise<ParsedDigest | undefined> {
    const link = await getOrUndefined(this.driver, paths.tagCurrentLink(name, tag));
    return link === undefined ? undefined : tryParseDigest(link.toString().trim());
  }

  async set(name: string, tag: string, digest: ParsedDigest): Promise<void> {
    await this.driver.putContent(paths.tagIndexLink(name, tag, digest), Buffer.from(digest.digest));
    await this.driver.putContent(paths.tagCurrentLink(name, tag), Buffer.from(digest.digest));
  }

  /** Removes a tag; false when it did not exist. */
  async delete(name: string, tag: string): Promise<boolean> {
    return deleteIfExists(this.driver, paths.tagDir(name, tag));
  }

  /** All tags of the repository, sorted lexically (byte order), or undefined if it has no tags dir. */
  async list(name: string): Promise<string[]> {
    const children = await listOrEmpty(this.driver, paths.tagsRoot(name));
    return children.map(basename).sort(compareBytes);
  }

  /** Tags currently pointing at the digest. */
  async tagsOf(name: string, digest: ParsedDigest): Promise<string[]> {
    const tags = await this.list(name);
    const hits = await Promise.all(tags.map(async (t) => ((await this.resolve(name, t))?.digest === digest.digest ? t : undefined)));
    return hits.filter((t): t is string => t !== undefined);
  }
}

export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
