/**
 * Repository deletion: removes a repository's tags, manifest revisions, blob links, referrers
 * index, upload sessions and v1 tag records. Blobs stay in the content store until the next
 * garbage collection (other repositories may share them). Nested repositories (`a/b` under `a`)
 * are left alone. Refused with UNSUPPORTED when `storage.delete.enabled` is false.
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { assertName } from '../core/reference.js';
import { paths } from '../core/paths.js';
import { deleteIfExists, exists } from '../core/storage-helpers.js';
import { v1Paths } from '../core/v1/paths.js';
import { RegistryError } from '../errors/registry-error.js';

export interface DeleteRepositoryOptions {
  /** `storage.delete.enabled`. */
  readonly deleteEnabled: boolean;
  /** `storage.maintenance.readonly.enabled`. */
  readonly readOnly?: boolean;
}

const PARTS = ['_manifests', '_layers', '_referrers', '_uploads'] as const;

/** Deletes the repository; NAME_UNKNOWN when there is none, UNSUPPORTED when deletes are off. */
export async function deleteRepository(driver: StorageDriver, name: string, options: DeleteRepositoryOptions): Promise<void> {
  assertName(name);
  if (!options.deleteEnabled) throw new RegistryError('UNSUPPORTED', { message: 'deletes are disabled (storage.delete.enabled)' });
  if (options.readOnly === true) throw new RegistryError('UNSUPPORTED', { message: 'registry is in read-only mode (storage.maintenance.readonly)' });
  const root = paths.repo(name);
  const present = await Promise.all(PARTS.map((p) => exists(driver, `${root}/${p}`)));
  if (!present.some(Boolean)) throw new RegistryError('NAME_UNKNOWN', { detail: { name } });
  // Tags first: a concurrent pull then fails on the tag rather than on a half-deleted manifest.
  await deleteIfExists(driver, paths.tagsRoot(name));
  for (const part of PARTS) await deleteIfExists(driver, `${root}/${part}`);
  await deleteIfExists(driver, v1Paths.tagsDir(name));
  await deleteIfExists(driver, v1Paths.indexImages(name));
}
