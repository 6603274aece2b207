/**
 * `berth import`: loads a `docker save` archive (legacy or OCI-layout form), an OCI image layout
 * (directory or tar), plain or gzip/zstd-compressed, from a file or a stream, straight into the
 * storage. Three steps:
 *   1. read: every file is streamed into the staging area with its sha256 (archive-entries.ts,
 *      staging.ts): any entry order works, nothing big is held in memory;
 *   2. plan: the metadata is read and every manifest, blob, digest, size and name is checked
 *      (import-plan.ts) — a refusal here leaves nothing behind;
 *   3. commit through core, as a push does: blobs adopted into the content store (touch first, for
 *      the garbage collector) and linked, child manifests put, then the tagged manifest with its
 *      tags — the moment an image becomes visible. Safe while servers run on the same storage.
 * The staging area is emptied at the end whatever happened.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Registry } from '../core/registry.js';
import { readDirectoryArchive, readTarArchive, DEFAULT_LIMITS, type ReadLimits } from './archive-entries.js';
import { decompressed, type Compression } from './decompress.js';
import { formatName, type ImageName } from './image-names.js';
import { planImport, type PlannedImage } from './import-plan.js';
import type { Progress } from './progress.js';
import { Stager } from './staging.js';

export type ImportInput =
  | { readonly kind: 'stream'; readonly stream: Readable; readonly size?: number }
  | { readonly kind: 'directory'; readonly path: string };

export interface ImportOptions {
  readonly tags: readonly ImageName[];
  readonly maxManifestBytes: number;
  readonly progress: Progress;
  readonly limits?: Partial<ReadLimits>;
}

export interface ImportedImage {
  readonly names: readonly ImageName[];
  readonly digest: string;
  readonly mediaType: string;
  readonly blobs: number;
}

export interface ImportResult {
  readonly images: readonly ImportedImage[];
  readonly compression: Compression | 'directory';
}

class ByteCounter extends Transform {
  count = 0;
  constructor(private readonly onCount: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    this.onCount(this.count);
    cb(null, chunk);
  }
}

export async function importArchive(registry: Registry, input: ImportInput, options: ImportOptions): Promise<ImportResult> {
  const limits: ReadLimits = { ...DEFAULT_LIMITS, maxMetadataBytes: options.maxManifestBytes, ...options.limits };
  const stager = new Stager(registry);
  const progress = options.progress;
  try {
    let compression: ImportResult['compression'];
    let contents;
    if (input.kind === 'directory') {
      compression = 'directory';
      contents = await readDirectoryArchive(input.path, stager, limits, progress);
    } else {
      progress.setTotal(input.size);
      const counter = new ByteCounter((n) => progress.setDone(n));
      input.stream.on('error', (error) => counter.destroy(error));
      input.stream.pipe(counter);
      const plain = await decompressed(counter);
      compression = plain.compression;
      contents = await readTarArchive(plain.stream, stager, limits, progress);
    }
    const plan = await planImport(contents, stager, { tags: options.tags, maxManifestBytes: options.maxManifestBytes });
    const images: ImportedImage[] = [];
    for (const image of plan) images.push(await commit(registry, stager, image, progress));
    return { images, compression };
  } finally {
    await stager.discardAll();
  }
}

async function commit(registry: Registry, stager: Stager, image: PlannedImage, progress: Progress): Promise<ImportedImage> {
  for (const blob of image.blobs) {
    if (blob.file.kind === 'memory') await registry.blobs.putSmall(blob.digest, blob.file.bytes);
    else await stager.adopt(blob.file.blob);
  }
  const root = image.manifests[image.manifests.length - 1];
  if (root === undefined) throw new Error('internal: an image without a manifest');
  const repos = [...new Set(image.names.map((n) => n.name))];
  for (const repo of repos) {
    for (const blob of image.blobs) await registry.blobs.link(repo, blob.digest);
    for (const m of image.manifests.slice(0, -1)) await registry.manifests.put(repo, m.bytes, m.mediaType, m.digest, []);
    const tags = image.names.filter((n) => n.name === repo).map((n) => n.tag);
    await registry.manifests.put(repo, root.bytes, root.mediaType, root.digest, tags);
  }
  progress.message(`imported ${image.names.map(formatName).join(', ')} → ${root.digest.digest} (${root.mediaType}, ${image.blobs.length} blobs)`);
  return { names: image.names, digest: root.digest.digest, mediaType: root.mediaType, blobs: image.blobs.length };
}
