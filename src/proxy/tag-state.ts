/**
 * The pull-through cache's record of a tag, kept in storage next to the tag's link
 * (`_manifests/tags/<tag>/proxy.json`: `{"digest", "checkedAt"}`), so every node knows when the
 * upstream last confirmed the tag and when to ask again. Written after the tag link; a missing or
 * unreadable record means "never confirmed": the tag is revalidated on its next pull.
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { tryParseDigest, type ParsedDigest } from '../core/digest.js';
import { paths } from '../core/paths.js';
import { getOrUndefined } from '../core/storage-helpers.js';

export interface TagState {
  readonly digest: ParsedDigest;
  /** Milliseconds since the epoch. */
  readonly checkedAt: number;
}

export async function readTagState(driver: StorageDriver, name: string, tag: string): Promise<TagState | undefined> {
  const bytes = await getOrUndefined(driver, paths.tagProxyState(name, tag));
  if (bytes === undefined) return undefined;
  try {
    const json = JSON.parse(bytes.toString('utf8')) as { digest?: unknown; checkedAt?: unknown };
    const digest = typeof json.digest === 'string' ? tryParseDigest(json.digest) : undefined;
    const checkedAt = typeof json.checkedAt === 'string' ? Date.parse(json.checkedAt) : NaN;
    if (digest === undefined || Number.isNaN(checkedAt)) return undefined;
    return { digest, checkedAt };
  } catch {
    return undefined;
  }
}

export async function writeTagState(driver: StorageDriver, name: string, tag: string, state: TagState): Promise<void> {
  const json = JSON.stringify({ digest: state.digest.digest, checkedAt: new Date(state.checkedAt).toISOString() });
  await driver.putContent(paths.tagProxyState(name, tag), Buffer.from(json));
}
