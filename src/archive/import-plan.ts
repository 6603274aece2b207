/**
 * Turns the files of an archive into the images to import, checking everything before anything
 * is committed: which manifests, which blobs, under which names. Two layouts:
 *
 * - OCI image layout (`oci-layout` + `index.json` + `blobs/<alg>/<hex>`; also what newer Docker
 *   engines' `docker save` writes beside `manifest.json`): the manifests and indexes are imported
 *   byte for byte, children first; every blob must be in the archive with the digest its name and
 *   its descriptor say, and the size its descriptor says.
 * - `docker save` legacy layout (`manifest.json` with `Config`, `RepoTags`, `Layers`; layers are
 *   uncompressed tars): a Docker schema 2 manifest is written for each image, its layers stored
 *   uncompressed as they are (media type `application/vnd.docker.image.rootfs.diff.tar`, digest =
 *   the diff_id, which each layer must match).
 *
 * Names come from `--tag` (replacing the archive's), else the archive: `io.containerd.image.name`
 * or a full `org.opencontainers.image.ref.name` annotation, or the `RepoTags` of manifest.json.
 */
import { digestOf, tryParseDigest, type ParsedDigest } from '../core/digest.js';
import { MediaTypes, isNonDistributable } from '../core/manifests/media-types.js';
import { parseManifest, type Descriptor, type ParsedManifest } from '../core/manifests/parse.js';
import { isRegistryError } from '../errors/registry-error.js';
import { ArchiveError } from './archive-error.js';
import { resolveFile, type ArchiveContents, type ArchiveFile } from './archive-entries.js';
import { formatName, parseImageName, type ImageName } from './image-names.js';
import type { Stager } from './staging.js';

export const DOCKER_LAYER_UNCOMPRESSED = 'application/vnd.docker.image.rootfs.diff.tar';

export interface PlannedBlob {
  readonly digest: ParsedDigest;
  readonly size: number;
  readonly file: ArchiveFile;
}

export interface PlannedManifest {
  readonly digest: ParsedDigest;
  readonly mediaType: string;
  readonly bytes: Buffer;
}

export interface PlannedImage {
  readonly names: readonly ImageName[];
  /** Config and layers of every image inside, once each. */
  readonly blobs: readonly PlannedBlob[];
  /** Children first, the tagged manifest last. */
  readonly manifests: readonly PlannedManifest[];
}

export interface PlanOptions {
  /** `--tag` values; empty: the archive's own names. */
  readonly tags: readonly ImageName[];
  readonly maxManifestBytes: number;
}

interface Reader {
  bytes(file: ArchiveFile, what: string): Promise<Buffer>;
}

export async function planImport(contents: ArchiveContents, stager: Stager, options: PlanOptions): Promise<PlannedImage[]> {
  const reader: Reader = {
    bytes: async (file, what) => (file.kind === 'memory' ? file.bytes : stager.read(file.blob, options.maxManifestBytes, what)),
  };
  let images: { names: ImageName[]; blobs: PlannedBlob[]; manifests: PlannedManifest[]; label: string }[];
  if (contents.files.has('index.json')) images = await planOciLayout(contents, reader);
  else if (contents.files.has('manifest.json')) images = await planDockerLegacy(contents, reader);
  else throw new ArchiveError('not an image archive: neither manifest.json (docker save) nor index.json (OCI image layout) is in it');
  if (images.length === 0) throw new ArchiveError('the archive holds no image');
  if (options.tags.length > 0) {
    if (images.length !== 1) {
      throw new ArchiveError(`the archive holds ${images.length} images; --tag can only name the image of a one-image archive`);
    }
    const [only] = images;
    if (only !== undefined) only.names = [...options.tags];
  }
  for (const image of images) {
    if (image.names.length === 0) throw new ArchiveError(`${image.label} has no name in the archive: give one with --tag NAME:TAG`);
  }
  return images.map(({ names, blobs, manifests }) => ({ names: dedupeNames(names), blobs, manifests }));
}

function dedupeNames(names: readonly ImageName[]): ImageName[] {
  const seen = new Map(names.map((n) => [formatName(n), n]));
  return [...seen.values()];
}

function jsonOf(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ArchiveError(`${what} is not valid JSON`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parsed(bytes: Buffer, mediaType: string | undefined, what: string): ParsedManifest {
  try {
    return parseManifest(bytes, mediaType);
  } catch (error) {
    if (isRegistryError(error)) throw new ArchiveError(`${what}: ${error.message}`);
    throw error;
  }
}

/** The staged blob an OCI layout holds for a descriptor, checked against digest and size. */
function layoutBlob(contents: ArchiveContents, d: Descriptor, referrer: string): PlannedBlob {
  const name = `blobs/${d.digest.algorithm}/${d.digest.hex}`;
  const found = resolveFile(contents, name);
  if (found === undefined) throw new ArchiveError(`${referrer} references ${d.digest.digest}, which is not in the archive (${name})`);
  return checkedBlob(found.file, d.digest, d.size, name);
}

function checkedBlob(file: ArchiveFile, digest: ParsedDigest, size: number, name: string): PlannedBlob {
  const actual = file.kind === 'memory' ? digestOf(file.bytes) : file.blob.digest.digest;
  const actualSize = file.kind === 'memory' ? file.bytes.length : file.blob.size;
  if (digest.algorithm !== 'sha256') throw new ArchiveError(`${name}: only sha256 digests are supported in archives`);
  if (actual !== digest.digest) throw new ArchiveError(`${name}: its content has the digest ${actual}, not ${digest.digest} (corrupt archive)`);
  if (actualSize !== size) throw new ArchiveError(`${name}: ${actualSize} bytes where the descriptor says ${size}`);
  return { digest, size, file };
}

async function planOciLayout(contents: ArchiveContents, reader: Reader): Promise<{ names: ImageName[]; blobs: PlannedBlob[]; manifests: PlannedManifest[]; label: string }[]> {
  const layoutFile = contents.files.get('oci-layout');
  if (layoutFile !== undefined) {
    const layout = jsonOf(await reader.bytes(layoutFile, 'oci-layout'), 'oci-layout');
    if (!isRecord(layout) || typeof layout['imageLayoutVersion'] !== 'string') throw new ArchiveError('oci-layout: no imageLayoutVersion');
  }
  const indexFile = contents.files.get('index.json');
  if (indexFile === undefined) throw new Error('internal: index.json vanished');
  const indexBytes = await reader.bytes(indexFile, 'index.json');
  const index = parsed(indexBytes, MediaTypes.ociIndex, 'index.json');
  const repoTags = await dockerRepoTagsByConfig(contents, reader);
  const groups = new Map<string, { names: ImageName[]; blobs: PlannedBlob[]; manifests: PlannedManifest[]; label: string }>();
  for (const top of index.manifests) {
    let group = groups.get(top.digest.digest);
    if (group === undefined) {
      const walked = await walkManifest(contents, reader, top, 'index.json', 0);
      group = { names: [], blobs: dedupeBlobs(walked.blobs), manifests: dedupeManifests(walked.manifests), label: `the image ${top.digest.digest}` };
      groups.set(top.digest.digest, group);
      for (const configDigest of walked.configs) for (const n of repoTags.get(configDigest) ?? []) group.names.push(n);
    }
    group.names.push(...namesFromAnnotations(top));
  }
  return [...groups.values()];
}

function namesFromAnnotations(d: Descriptor): ImageName[] {
  const full = d.annotations?.['io.containerd.image.name'];
  if (full !== undefined && full !== '') return [parseImageName(full)];
  const ref = d.annotations?.['org.opencontainers.image.ref.name'];
  if (ref !== undefined && (ref.includes('/') || ref.includes(':'))) return [parseImageName(ref)];
  return [];
}

async function walkManifest(
  contents: ArchiveContents,
  reader: Reader,
  d: Descriptor,
  referrer: string,
  depth: number,
): Promise<{ blobs: PlannedBlob[]; manifests: PlannedManifest[]; configs: string[] }> {
  if (depth > 4) throw new ArchiveError(`${referrer}: indexes nested too deeply`);
  const blob = layoutBlob(contents, d, referrer);
  const what = `the manifest ${d.digest.digest}`;
  const bytes = await reader.bytes(blob.file, what);
  const m = parsed(bytes, d.mediaType, what);
  const self: PlannedManifest = { digest: d.digest, mediaType: m.mediaType, bytes };
  if (m.kind === 'schema1') throw new ArchiveError(`${what} is a Docker schema 1 manifest, which archives do not carry`);
  if (m.kind === 'index') {
    const out = { blobs: [] as PlannedBlob[], manifests: [] as PlannedManifest[], configs: [] as string[] };
    for (const child of m.manifests) {
      const walked = await walkManifest(contents, reader, child, what, depth + 1);
      out.blobs.push(...walked.blobs);
      out.manifests.push(...walked.manifests);
      out.configs.push(...walked.configs);
    }
    out.manifests.push(self);
    return out;
  }
  const blobs: PlannedBlob[] = [];
  if (m.config !== undefined) blobs.push(layoutBlob(contents, m.config, what));
  for (const layer of m.layers) {
    if ((layer.urls !== undefined && layer.urls.length > 0) || isNonDistributable(layer.mediaType)) continue;
    blobs.push(layoutBlob(contents, layer, what));
  }
  return { blobs, manifests: [self], configs: m.config !== undefined ? [m.config.digest.digest] : [] };
}

function dedupeBlobs(blobs: readonly PlannedBlob[]): PlannedBlob[] {
  return [...new Map(blobs.map((b) => [b.digest.digest, b])).values()];
}

function dedupeManifests(manifests: readonly PlannedManifest[]): PlannedManifest[] {
  const seen = new Set<string>();
  return manifests.filter((m) => (seen.has(m.digest.digest) ? false : (seen.add(m.digest.digest), true)));
}

interface LegacyEntry {
  readonly config: string;
  readonly repoTags: readonly string[];
  readonly layers: readonly string[];
}

async function legacyEntries(contents: ArchiveContents, reader: Reader): Promise<LegacyEntry[] | undefined> {
  const file = contents.files.get('manifest.json');
  if (file === undefined) return undefined;
  const json = jsonOf(await reader.bytes(file, 'manifest.json'), 'manifest.json');
  if (!Array.isArray(json)) throw new ArchiveError('manifest.json is not a list');
  return json.map((entry, i) => {
    const where = `manifest.json[${i}]`;
    if (!isRecord(entry)) throw new ArchiveError(`${where} is not an object`);
    const config = entry['Config'];
    const layers = entry['Layers'];
    const repoTags = entry['RepoTags'] ?? [];
    if (typeof config !== 'string') throw new ArchiveError(`${where}.Config is not a string`);
    if (!Array.isArray(layers) || !layers.every((l): l is string => typeof l === 'string')) throw new ArchiveError(`${where}.Layers is not a list of names`);
    if (!Array.isArray(repoTags) || !repoTags.every((t): t is string => typeof t === 'string')) throw new ArchiveError(`${where}.RepoTags is not a list of names`);
    return { config, repoTags, layers };
  });
}

/** manifest.json's RepoTags by config digest (newer docker save: names for the OCI index). */
async function dockerRepoTagsByConfig(contents: ArchiveContents, reader: Reader): Promise<Map<string, ImageName[]>> {
  const out = new Map<string, ImageName[]>();
  for (const entry of (await legacyEntries(contents, reader)) ?? []) {
    const found = resolveFile(contents, entry.config);
    if (found === undefined) continue;
    const digest = found.file.kind === 'memory' ? digestOf(found.file.bytes) : found.file.blob.digest.digest;
    out.set(digest, [...(out.get(digest) ?? []), ...entry.repoTags.map(parseImageName)]);
  }
  return out;
}

async function planDockerLegacy(contents: ArchiveContents, reader: Reader): Promise<{ names: ImageName[]; blobs: PlannedBlob[]; manifests: PlannedManifest[]; label: string }[]> {
  const entries = (await legacyEntries(contents, reader)) ?? [];
  const images: { names: ImageName[]; blobs: PlannedBlob[]; manifests: PlannedManifest[]; label: string }[] = [];
  for (const [i, entry] of entries.entries()) {
    const where = `manifest.json[${i}]`;
    const configFound = resolveFile(contents, entry.config);
    if (configFound === undefined) throw new ArchiveError(`${where} names the config ${JSON.stringify(entry.config)}, which is not in the archive`);
    const configBytes = await reader.bytes(configFound.file, `the config ${entry.config}`);
    const config = jsonOf(configBytes, `the config ${entry.config}`);
    const rootfs = isRecord(config) ? config['rootfs'] : undefined;
    const diffIds = isRecord(rootfs) ? rootfs['diff_ids'] : undefined;
    if (!Array.isArray(diffIds) || !diffIds.every((d): d is string => typeof d === 'string')) {
      throw new ArchiveError(`the config ${entry.config} has no rootfs.diff_ids list`);
    }
    if (diffIds.length !== entry.layers.length) {
      throw new ArchiveError(`${where} lists ${entry.layers.length} layers but its config has ${diffIds.length} diff_ids`);
    }
    const configDigest = tryParseDigest(digestOf(configBytes));
    if (configDigest === undefined) throw new Error('internal: bad digest');
    const blobs: PlannedBlob[] = [{ digest: configDigest, size: configBytes.length, file: { kind: 'memory', bytes: configBytes } }];
    const layers: { mediaType: string; size: number; digest: string }[] = [];
    for (const [j, layerName] of entry.layers.entries()) {
      const found = resolveFile(contents, layerName);
      if (found === undefined) throw new ArchiveError(`${where} names the layer ${JSON.stringify(layerName)}, which is not in the archive`);
      const diffId = tryParseDigest(diffIds[j] ?? '');
      if (diffId === undefined) throw new ArchiveError(`the config ${entry.config}: diff_ids[${j}] is not a digest`);
      const blob = checkedBlob(found.file, diffId, found.file.kind === 'memory' ? found.file.bytes.length : found.file.blob.size, layerName);
      blobs.push(blob);
      layers.push({ mediaType: DOCKER_LAYER_UNCOMPRESSED, size: blob.size, digest: blob.digest.digest });
    }
    const manifestBytes = Buffer.from(
      JSON.stringify(
        {
          schemaVersion: 2,
          mediaType: MediaTypes.dockerSchema2,
          config: { mediaType: MediaTypes.dockerConfig, size: configBytes.length, digest: configDigest.digest },
          layers,
        },
        null,
        3,
      ),
    );
    const manifestDigest = tryParseDigest(digestOf(manifestBytes));
    if (manifestDigest === undefined) throw new Error('internal: bad digest');
    images.push({
      names: entry.repoTags.map(parseImageName),
      blobs: dedupeBlobs(blobs),
      manifests: [{ digest: manifestDigest, mediaType: MediaTypes.dockerSchema2, bytes: manifestBytes }],
      label: `${where} (config ${entry.config})`,
    });
  }
  return images;
}
