/**
 * Storage usage of one repository, read from the layout (paths.ts): the blobs linked into it
 * (`_layers`: layers and configs) and its manifests (`_manifests/revisions`), each counted once
 * at the size of its content-store data. Blobs shared with other repositories are counted in each
 * (this is what the repository references, not what deleting it would free: that is the garbage
 * collector's business).
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { isAlgorithm, tryParseDigest, type ParsedDigest } from './digest.js';
import { basename, paths } from './paths.js';
import { listOrEmpty, sizeOrUndefined } from './storage-helpers.js';

export interface RepositoryUsage {
  /** Bytes of linked blobs (layers, configs). */
  readonly blobBytes: number;
  readonly blobs: number;
  /** Bytes of stored manifests. */
  readonly manifestBytes: number;
  readonly manifests: number;
  readonly totalBytes: number;
}

const CONCURRENCY = 16;

async function digestsUnder(driver: StorageDriver, root: string): Promise<ParsedDigest[]> {
  const out: ParsedDigest[] = [];
  for (const algDir of await listOrEmpty(driver, root)) {
    const alg = basename(algDir);
    if (!isAlgorithm(alg)) continue;
    for (const hexDir of await listOrEmpty(driver, algDir)) {
      const d = tryParseDigest(`${alg}:${basename(hexDir)}`);
      if (d !== undefined) out.push(d);
    }
  }
  return out;
}

async function totalSize(driver: StorageDriver, digests: readonly ParsedDigest[]): Promise<number> {
  let total = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < digests.length) {
      const d = digests[next++] as ParsedDigest;
      const size = (await sizeOrUndefined(driver, paths.blobData(d))) ?? 0;
      total += size;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, digests.length) }, worker));
  return total;
}

export async function repositoryUsage(driver: StorageDriver, name: string): Promise<RepositoryUsage> {
  const [blobs, manifests] = await Promise.all([digestsUnder(driver, paths.layersRoot(name)), digestsUnder(driver, paths.revisionsRoot(name))]);
  const [blobBytes, manifestBytes] = await Promise.all([totalSize(driver, blobs), totalSize(driver, manifests)]);
  return { blobBytes, blobs: blobs.length, manifestBytes, manifests: manifests.length, totalBytes: blobBytes + manifestBytes };
}
