/**
 * Offline image fixtures for the end-to-end suites. Builds, entirely in Node, images whose bytes
 * the tests know in advance: random layers (real ustar archives, gzip-compressed), an image config
 * whose `rootfs.diff_ids` are the digests of the uncompressed tars, and an OCI (or Docker schema 2)
 * manifest; a two-platform image (linux/amd64 + linux/arm64) under an OCI index; and writes/reads
 * OCI image layout directories (`oci-layout`, `index.json`, `blobs/sha256/…`) as skopeo's `oci:`
 * transport expects them. Also pushes an image over plain HTTP (monolithic uploads) so a suite can
 * seed a registry without any external client.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createTar, type TarEntry } from './tar.js';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** A content-addressed blob with the exact bytes a registry must hand back. */
export interface Blob {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly bytes: Buffer;
}

export interface Layer extends Blob {
  /** sha256 of the uncompressed tar (the config's `rootfs.diff_ids` entry). */
  readonly diffId: string;
  readonly tar: Buffer;
  readonly fileNames: readonly string[];
}

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
}

export interface ImageConfigJson {
  readonly created: string;
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly config: {
    readonly Env: readonly string[];
    readonly Cmd: readonly string[];
    readonly WorkingDir: string;
    readonly Labels: Readonly<Record<string, string>>;
  };
  readonly rootfs: { readonly type: 'layers'; readonly diff_ids: readonly string[] };
  readonly history: readonly { readonly created: string; readonly created_by: string; readonly comment?: string }[];
}

export interface BuiltImage {
  readonly platform: Platform;
  readonly layers: readonly Layer[];
  readonly config: Blob;
  readonly configJson: ImageConfigJson;
  /** The manifest; its `digest` is the image's manifest digest. */
  readonly manifest: Blob;
  /** Every blob of the image, manifest last. */
  readonly blobs: readonly Blob[];
}

export interface BuiltIndex {
  readonly index: Blob;
  readonly images: readonly BuiltImage[];
  /** Every blob of every child plus the index itself (last). */
  readonly blobs: readonly Blob[];
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function blobOf(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length, bytes };
}

export interface LayerOptions {
  readonly files?: number;
  /** Total random payload bytes, spread over the files. */
  readonly bytes?: number;
  readonly mediaType?: string;
}

/** A layer of a few random files under a random directory; 64–192 KiB of payload by default. */
export function randomLayer(options: LayerOptions = {}): Layer {
  const files = options.files ?? 3;
  const total = options.bytes ?? randomInt(64 * 1024, 192 * 1024);
  const dir = `data-${randomBytes(4).toString('hex')}/`;
  const entries: TarEntry[] = [{ name: dir, mtime: 1_700_000_000 }];
  const fileNames: string[] = [];
  for (let i = 0; i < files; i++) {
    const size = i === files - 1 ? total - Math.floor(total / files) * (files - 1) : Math.floor(total / files);
    const name = `${dir}file-${i}-${randomBytes(3).toString('hex')}.bin`;
    fileNames.push(name);
    entries.push({ name, data: randomBytes(size), mtime: 1_700_000_000 });
  }
  const tar = createTar(entries);
  const gz = gzipSync(tar);
  return { ...blobOf(options.mediaType ?? MediaType.ociLayerGzip, gz), diffId: sha256Digest(tar), tar, fileNames };
}

export interface ImageOptions {
  readonly layers?: number;
  readonly layerBytes?: number;
  /** Payload bytes of each layer; overrides `layers` and `layerBytes`. */
  readonly layerSizes?: readonly number[];
  readonly platform?: Platform;
  /** `oci` (default): OCI manifest and media types; `docker`: Docker schema 2. */
  readonly format?: 'oci' | 'docker';
  readonly labels?: Readonly<Record<string, string>>;
  readonly env?: readonly string[];
  readonly cmd?: readonly string[];
  readonly created?: string;
}

export function buildImage(options: ImageOptions = {}): BuiltImage {
  const docker = options.format === 'docker';
  const platform = options.platform ?? { architecture: 'amd64', os: 'linux' };
  const created = options.created ?? '2024-05-01T12:00:00Z';
  const sizes: readonly (number | undefined)[] =
    options.layerSizes ?? Array.from({ length: options.layers ?? 2 }, () => options.layerBytes);
  const layers: Layer[] = sizes.map((bytes) =>
    randomLayer({
      ...(bytes === undefined ? {} : { bytes }),
      mediaType: docker ? MediaType.dockerLayerGzip : MediaType.ociLayerGzip,
    }),
  );
  const configJson: ImageConfigJson = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant === undefined ? {} : { variant: platform.variant }),
    config: {
      Env: options.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: options.cmd ?? ['/bin/sh'],
      WorkingDir: '/',
      Labels: options.labels ?? { 'org.example.berth.e2e': 'true' },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l, i) => ({
      created,
      created_by: `/bin/sh -c #(nop) ADD dir:${l.diffId.slice(7, 19)} in / # layer ${i}`,
      comment: 'berth e2e fixture',
    })),
  };
  const config = blobOf(docker ? MediaType.dockerConfig : MediaType.ociConfig, Buffer.from(JSON.stringify(configJson)));
  const manifestJson = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.dockerManifest : MediaType.ociManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifest = blobOf(manifestJson.mediaType, Buffer.from(JSON.stringify(manifestJson, null, 2)));
  return { platform, layers, config, configJson, manifest, blobs: [...layers, config, manifest] };
}

/**
 * A linux/amd64 + linux/arm64 image (or the platforms given) under one OCI index, or, with
 * `format: 'docker'`, Docker schema 2 images under a Docker manifest list.
 */
export function buildMultiPlatform(
  platforms: readonly Platform[] = [
    { architecture: 'amd64', os: 'linux' },
    { architecture: 'arm64', os: 'linux', variant: 'v8' },
  ],
  options: Omit<ImageOptions, 'platform'> = {},
): BuiltIndex {
  const images = platforms.map((platform) => buildImage({ ...options, platform }));
  const listType = options.format === 'docker' ? MediaType.dockerList : MediaType.ociIndex;
  const indexJson = {
    schemaVersion: 2,
    mediaType: listType,
    manifests: images.map((img) => ({
      mediaType: img.manifest.mediaType,
      digest: img.manifest.digest,
      size: img.manifest.size,
      platform: {
        architecture: img.platform.architecture,
        os: img.platform.os,
        ...(img.platform.variant === undefined ? {} : { variant: img.platform.variant }),
      },
    })),
  };
  const index = blobOf(listType, Buffer.from(JSON.stringify(indexJson, null, 2)));
  return { index, images, blobs: [...images.flatMap((img) => img.blobs), index] };
}

export interface LayoutRef {
  readonly tag: string;
  /** The manifest or index the tag names. */
  readonly target: Blob;
}

export function blobPath(dir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  if (algorithm === undefined || hex === undefined) throw new Error(`bad digest ${digest}`);
  return join(dir, 'blobs', algorithm, hex);
}

/** Writes an OCI image layout that `skopeo copy oci:<dir>:<tag> …` can read. */
export async function writeOciLayout(dir: string, blobs: readonly Blob[], refs: readonly LayoutRef[]): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const blob of blobs) await writeFile(blobPath(dir, blob.digest), blob.bytes);
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: refs.map((ref) => ({
      mediaType: ref.target.mediaType,
      digest: ref.target.digest,
      size: ref.target.size,
      annotations: { [REF_NAME_ANNOTATION]: ref.tag },
    })),
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Narrows parsed JSON to a descriptor, throwing when a field is missing or mistyped. */
export function asDescriptor(value: unknown): Descriptor & { readonly annotations?: Record<string, unknown> } {
  if (!isRecord(value)) throw new Error('descriptor is not an object');
  const { mediaType, digest, size, annotations } = value;
  if (typeof mediaType !== 'string' || typeof digest !== 'string' || typeof size !== 'number') {
    throw new Error(`bad descriptor ${JSON.stringify(value)}`);
  }
  return isRecord(annotations) ? { mediaType, digest, size, annotations } : { mediaType, digest, size };
}

/** Parsed JSON object or a thrown error. */
export function parseObject(bytes: Buffer | string): Record<string, unknown> {
  const value: unknown = JSON.parse(bytes.toString());
  if (!isRecord(value)) throw new Error('JSON is not an object');
  return value;
}

/** Descriptors listed in a manifest (`config` + `layers`) or an index (`manifests`). */
export function referencedDescriptors(manifest: Record<string, unknown>): Descriptor[] {
  const out: Descriptor[] = [];
  if (manifest.config !== undefined) out.push(asDescriptor(manifest.config));
  for (const key of ['layers', 'manifests'] as const) {
    const list = manifest[key];
    if (Array.isArray(list)) for (const item of list) out.push(asDescriptor(item));
  }
  return out;
}

/** The descriptor a tag points at in a layout's `index.json`. */
export async function readLayoutRef(dir: string, tag: string): Promise<Descriptor> {
  const index = parseObject(await readFile(join(dir, 'index.json')));
  const manifests = index.manifests;
  if (!Array.isArray(manifests)) throw new Error('index.json has no manifests');
  for (const entry of manifests) {
    const desc = asDescriptor(entry);
    if (desc.annotations?.[REF_NAME_ANNOTATION] === tag) return desc;
  }
  throw new Error(`tag ${tag} not in ${dir}/index.json`);
}

export async function readLayoutBlob(dir: string, digest: string): Promise<Buffer> {
  return readFile(blobPath(dir, digest));
}

async function putBlobOverHttp(registryUrl: string, repo: string, blob: Blob): Promise<void> {
  const head = await fetch(`${registryUrl}/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD' });
  if (head.status === 200) return;
  const start = await fetch(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location');
  await start.arrayBuffer();
  if (start.status !== 202 || location === null) throw new Error(`upload start: ${start.status}`);
  const target = new URL(location, registryUrl);
  target.searchParams.set('digest', blob.digest);
  const put = await fetch(target, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: new Uint8Array(blob.bytes),
  });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`blob PUT ${blob.digest}: ${put.status} ${text}`);
}

async function putManifestOverHttp(registryUrl: string, repo: string, ref: string, manifest: Blob): Promise<void> {
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: { 'content-type': manifest.mediaType },
    body: new Uint8Array(manifest.bytes),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest PUT ${repo}:${ref}: ${res.status} ${text}`);
}

/** Pushes an image's layers and config (monolithic POST + PUT) and then its manifest under `ref`. */
export async function pushImageOverHttp(registryUrl: string, repo: string, ref: string, image: BuiltImage): Promise<void> {
  for (const blob of [...image.layers, image.config]) await putBlobOverHttp(registryUrl, repo, blob);
  await putManifestOverHttp(registryUrl, repo, ref, image.manifest);
}

/** Pushes every child image by digest, then the index under `ref`. */
export async function pushIndexOverHttp(registryUrl: string, repo: string, ref: string, built: BuiltIndex): Promise<void> {
  for (const image of built.images) await pushImageOverHttp(registryUrl, repo, image.manifest.digest, image);
  await putManifestOverHttp(registryUrl, repo, ref, built.index);
}
