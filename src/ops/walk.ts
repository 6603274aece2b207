/**
 * Streaming walks over the storage layout for store-wide operations: repositories (nested names
 * included), a repository's revision/layer links and tags, the blob store, v1 images and the
 * SmartOS file-info cache. Each yields entries as it lists one directory at a time, so nothing
 * holds a listing of the whole store.
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { tryParseDigest, type ParsedDigest } from '../core/digest.js';
import { REPOSITORIES, ROOT, basename, paths } from '../core/paths.js';
import { listOrEmpty } from '../core/storage-helpers.js';
import { V1_ROOT } from '../core/v1/paths.js';

/** Every repository (a directory holding `_manifests`, `_layers` or `_uploads`), depth first. */
export async function* repositories(driver: StorageDriver, dir = REPOSITORIES, prefix = ''): AsyncGenerator<string> {
  const names = (await listOrEmpty(driver, dir)).map(basename).sort();
  if (prefix !== '' && names.some((n) => n === '_manifests' || n === '_layers' || n === '_uploads')) yield prefix;
  for (const n of names) {
    if (n.startsWith('_')) continue;
    yield* repositories(driver, `${dir}/${n}`, prefix === '' ? n : `${prefix}/${n}`);
  }
}

/** Digests under `<root>/<alg>/<hex>` (revisions, `_layers`). */
async function* digestDirs(driver: StorageDriver, root: string): AsyncGenerator<ParsedDigest> {
  for (const algDir of await listOrEmpty(driver, root)) {
    const alg = basename(algDir);
    for (const hexDir of await listOrEmpty(driver, algDir)) {
      const d = tryParseDigest(`${alg}:${basename(hexDir)}`);
      if (d !== undefined) yield d;
    }
  }
}

export function revisions(driver: StorageDriver, name: string): AsyncGenerator<ParsedDigest> {
  return digestDirs(driver, paths.revisionsRoot(name));
}

export function layerLinks(driver: StorageDriver, name: string): AsyncGenerator<ParsedDigest> {
  return digestDirs(driver, paths.layersRoot(name));
}

export async function tags(driver: StorageDriver, name: string): Promise<string[]> {
  return (await listOrEmpty(driver, paths.tagsRoot(name))).map(basename).sort();
}

/** One blob directory of the content store and the names in it (`data`, `gc-touch`, `gc-hidden`). */
export interface BlobDir {
  readonly digest: ParsedDigest;
  readonly entries: ReadonlySet<string>;
}

/** Every blob directory, one `blobs/<alg>/<xx>` listing at a time. */
export async function* blobDirs(driver: StorageDriver): AsyncGenerator<BlobDir> {
  for (const algDir of (await listOrEmpty(driver, paths.blobsRoot())).sort()) {
    const alg = basename(algDir);
    for (const prefixDir of (await listOrEmpty(driver, algDir)).sort()) {
      for (const hexDir of (await listOrEmpty(driver, prefixDir)).sort()) {
        const digest = tryParseDigest(`${alg}:${basename(hexDir)}`);
        if (digest === undefined) continue;
        const entries = new Set((await listOrEmpty(driver, hexDir)).map(basename));
        yield { digest, entries };
      }
    }
  }
}

/** Every v1 image ID with a directory under `/docker/registry/v1/images`. */
export async function* v1ImageIds(driver: StorageDriver): AsyncGenerator<string> {
  for (const dir of (await listOrEmpty(driver, `${V1_ROOT}/images`)).sort()) yield basename(dir);
}

/** Every `v1/manifests/<alg>/<hex>` origin record (a v1 push's synthesized manifest). */
export function v1ManifestOrigins(driver: StorageDriver): AsyncGenerator<ParsedDigest> {
  return digestDirs(driver, `${V1_ROOT}/manifests`);
}

/** Digests with a SmartOS file-info cache entry (`smartos/blobs/<alg>/<xx>/<hex>/file.json`). */
export async function* smartosCached(driver: StorageDriver): AsyncGenerator<ParsedDigest> {
  for (const algDir of await listOrEmpty(driver, `${ROOT}/smartos/blobs`)) {
    const alg = basename(algDir);
    for (const prefixDir of await listOrEmpty(driver, algDir)) {
      for (const hexDir of await listOrEmpty(driver, prefixDir)) {
        const d = tryParseDigest(`${alg}:${basename(hexDir)}`);
        if (d !== undefined) yield d;
      }
    }
  }
}

export function smartosCacheDir(d: ParsedDigest): string {
  return `${ROOT}/smartos/blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`;
}

/** Runs `fn` over an async stream with at most `limit` calls in flight. */
export async function forEachLimit<T>(source: AsyncIterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: unknown;
  for await (const item of source) {
    if (failure !== undefined) break;
    const task: Promise<void> = fn(item).then(
      () => {
        running.delete(task);
      },
      (error: unknown) => {
        running.delete(task);
        failure ??= error;
      },
    );
    running.add(task);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure;
}
