/**
 * `berth export`: writes images of the storage as one tar stream.
 *
 * - `oci`: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) as `skopeo copy
 *   oci-archive:` and `docker load` (engines ≥ 25) read it; manifests, indexes (multi-arch images
 *   whole) and blobs byte for byte as stored, so digests stay what the registry serves. Each
 *   index.json entry carries `io.containerd.image.name` (NAME:TAG) and
 *   `org.opencontainers.image.ref.name` (TAG), as containerd and Docker write them.
 * - `docker`: the same layout plus the `docker save` manifest.json (`Config`, `RepoTags`,
 *   `Layers` naming `blobs/sha256/…` files), which every `docker load` reads; a multi-arch image is
 *   exported for one platform (`platform`, default linux/amd64), since docker load takes images,
 *   not indexes. Layers are written as stored: docker load decompresses gzip layers itself.
 *
 * Every blob is hashed on its way out; one that no longer matches its digest stops the export.
 */
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack, type Pack } from 'tar-stream';
import type { ParsedDigest } from '../core/digest.js';
import { MediaTypes, isNonDistributable } from '../core/manifests/media-types.js';
import type { Descriptor, ParsedManifest, Platform } from '../core/manifests/parse.js';
import type { Registry } from '../core/registry.js';
import { ArchiveError } from './archive-error.js';
import type { ImageRef } from './image-names.js';
import type { Progress } from './progress.js';

export type ExportFormat = 'docker' | 'oci';

export interface ExportOptions {
  readonly format: ExportFormat;
  /** For `docker` and multi-arch images: which image of the index. */
  readonly platform: Platform;
  readonly progress: Progress;
}

interface Manifest {
  readonly digest: ParsedDigest;
  readonly bytes: Buffer;
  readonly parsed: ParsedManifest;
}

interface Chosen {
  readonly ref: ImageRef;
  readonly root: Manifest;
  readonly manifests: Manifest[];
  readonly blobs: Descriptor[];
}

const MTIME = new Date(0);

export async function exportArchive(registry: Registry, refs: readonly ImageRef[], out: Writable, options: ExportOptions): Promise<{ bytes: number }> {
  const chosen: Chosen[] = [];
  for (const ref of refs) chosen.push(await collect(registry, ref, options));
  const blobs = new Map<string, Descriptor>();
  const manifests = new Map<string, Manifest>();
  for (const c of chosen) {
    for (const b of c.blobs) blobs.set(b.digest.digest, b);
    for (const m of c.manifests) manifests.set(m.digest.digest, m);
  }
  const total = [...blobs.values()].reduce((n, b) => n + b.size, 0) + [...manifests.values()].reduce((n, m) => n + m.bytes.length, 0);
  options.progress.setTotal(total);
  const tar = pack();
  let written = 0;
  const writeAll = async (): Promise<void> => {
    await entry(tar, 'oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
    await entry(tar, 'blobs/', undefined);
    await entry(tar, 'blobs/sha256/', undefined);
    for (const b of blobs.values()) {
      options.progress.startItem(`blobs/${b.digest.algorithm}/${b.digest.hex.slice(0, 12)}`, b.size);
      await streamBlob(registry, tar, b, (n) => {
        written += n;
        options.progress.advance(n, true);
      });
      options.progress.endItem();
    }
    for (const m of manifests.values()) {
      await entry(tar, blobName(m.digest), m.bytes);
      written += m.bytes.length;
    }
    const index = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: chosen.map((c) => ({
        mediaType: c.root.parsed.mediaType,
        digest: c.root.digest.digest,
        size: c.root.bytes.length,
        annotations: annotationsFor(c.ref),
      })),
    };
    await entry(tar, 'index.json', Buffer.from(JSON.stringify(index)));
    if (options.format === 'docker') {
      const manifestJson = chosen.map((c) => ({
        Config: blobName(configOf(c.root).digest),
        RepoTags: c.ref.tag !== undefined ? [`${c.ref.name}:${c.ref.tag}`] : [],
        Layers: c.root.parsed.layers.map((l) => blobName(l.digest)),
      }));
      await entry(tar, 'manifest.json', Buffer.from(JSON.stringify(manifestJson)));
    }
    tar.finalize();
  };
  await Promise.all([pipeline(tar, out), writeAll().catch((error: unknown) => {
    tar.destroy(error as Error);
    throw error;
  })]);
  return { bytes: written };
}

function annotationsFor(ref: ImageRef): Record<string, string> {
  if (ref.tag !== undefined) return { 'io.containerd.image.name': `${ref.name}:${ref.tag}`, 'org.opencontainers.image.ref.name': ref.tag };
  return { 'io.containerd.image.name': `${ref.name}@${ref.digest?.digest ?? ''}` };
}

function blobName(d: ParsedDigest): string {
  return `blobs/${d.algorithm}/${d.hex}`;
}

function configOf(m: Manifest): Descriptor {
  if (m.parsed.config === undefined) throw new Error('internal: no config');
  return m.parsed.config;
}

async function load(registry: Registry, name: string, digest: ParsedDigest, what: string): Promise<Manifest> {
  const got = await registry.manifests.get(name, digest);
  if (got === undefined) throw new ArchiveError(`${what}: the manifest ${digest.digest} is not in ${name}`);
  return { digest, bytes: got.bytes, parsed: got.parsed };
}

function refText(ref: ImageRef): string {
  return ref.tag !== undefined ? `${ref.name}:${ref.tag}` : `${ref.name}@${ref.digest?.digest ?? ''}`;
}

async function collect(registry: Registry, ref: ImageRef, options: ExportOptions): Promise<Chosen> {
  const what = refText(ref);
  const digest = ref.digest ?? (ref.tag !== undefined ? await registry.tags.resolve(ref.name, ref.tag) : undefined);
  if (digest === undefined) throw new ArchiveError(`${what}: no such image in the storage`);
  let root = await load(registry, ref.name, digest, what);
  if (root.parsed.kind === 'schema1') throw new ArchiveError(`${what} is a Docker schema 1 image: it cannot be exported (no image config)`);
  if (root.parsed.kind === 'index' && options.format === 'docker') {
    const p = options.platform;
    const child = root.parsed.manifests.find(
      (c) => c.platform?.os === p.os && c.platform.architecture === p.architecture && (p.variant === undefined || c.platform.variant === p.variant),
    );
    if (child === undefined) throw new ArchiveError(`${what} is a multi-arch image without ${p.os}/${p.architecture}${p.variant !== undefined ? `/${p.variant}` : ''}: choose another --platform, or --format oci for the whole index`);
    root = await load(registry, ref.name, child.digest, what);
    if (root.parsed.kind !== 'image') throw new ArchiveError(`${what}: nested indexes cannot be exported as docker archives`);
  }
  const manifests: Manifest[] = [];
  const blobs: Descriptor[] = [];
  const walk = async (m: Manifest, depth: number): Promise<void> => {
    if (depth > 4) throw new ArchiveError(`${what}: indexes nested too deeply`);
    manifests.push(m);
    if (m.parsed.kind === 'index') {
      for (const c of m.parsed.manifests) await walk(await load(registry, ref.name, c.digest, what), depth + 1);
      return;
    }
    if (m.parsed.kind === 'schema1') throw new ArchiveError(`${what}: contains a Docker schema 1 manifest`);
    if (m.parsed.config !== undefined) blobs.push(m.parsed.config);
    for (const l of m.parsed.layers) if (!((l.urls !== undefined && l.urls.length > 0) || isNonDistributable(l.mediaType))) blobs.push(l);
  };
  await walk(root, 0);
  return { ref, root, manifests, blobs };
}

async function entry(tar: Pack, name: string, bytes: Buffer | undefined): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const header = bytes === undefined
      ? { name, type: 'directory' as const, mode: 0o755, mtime: MTIME }
      : { name, size: bytes.length, mode: 0o644, mtime: MTIME };
    tar.entry(header, bytes ?? Buffer.alloc(0), (error) => (error ? reject(error) : resolve()));
  });
}

async function streamBlob(registry: Registry, tar: Pack, d: Descriptor, onBytes: (n: number) => void): Promise<void> {
  const size = await registry.blobs.globalSize(d.digest);
  if (size === undefined) throw new ArchiveError(`the blob ${d.digest.digest} is missing from the storage (run berth scrub)`);
  if (size !== d.size) throw new ArchiveError(`the blob ${d.digest.digest} has ${size} bytes in the storage, its descriptor says ${d.size}`);
  const source: Readable = await registry.blobs.open(d.digest);
  const hash = createHash(d.digest.algorithm);
  async function* verified(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      const buf = chunk as Buffer;
      hash.update(buf);
      onBytes(buf.length);
      yield buf;
    }
    if (`${d.digest.algorithm}:${hash.digest('hex')}` !== d.digest.digest) {
      throw new ArchiveError(`the stored blob ${d.digest.digest} no longer matches its digest (run berth scrub)`);
    }
  }
  await new Promise<void>((resolve, reject) => {
    const sink = tar.entry({ name: blobName(d.digest), size, mode: 0o644, mtime: MTIME }, (error) => (error ? reject(error) : resolve()));
    (async () => {
      for await (const chunk of verified()) {
        if (!sink.write(chunk)) {
          await new Promise<void>((resolve) => {
            sink.once('drain', resolve);
            sink.once('close', resolve);
          });
        }
      }
      sink.end(null);
    })().catch((error: unknown) => {
      sink.destroy(error as Error);
      reject(error as Error);
    });
  });
}
