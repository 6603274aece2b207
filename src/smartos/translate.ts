/**
 * Docker image → SmartOS image manifests, exactly as imgadm builds them when it imports the image
 * from a docker source (imgadm.md §4–§5). A PURE function: no I/O, no clock, no randomness; the
 * caller hands over the repository, the tag, the stored manifest's layers and the config blob's
 * bytes, and gets back one manifest per layer, base first, plus warnings about anything that
 * would make `imgadm import` fail.
 *
 * v2 scheme (imgadm ≥ 3.8; smartos-live `sources/docker.js` + imgmanifest 3.x
 * `imgManifestFromDockerInfo`):
 * - chain = `layers[].digest` (schema 2), or the reversed `fsLayers` without consecutive
 *   duplicates (schema 1); UUID of layer i = uuid(chain[0..i]) (uuid.ts);
 * - the top layer gets the config blob (schema 1: `history[0].v1Compatibility`) as "imgJson" and
 *   `docker:tag:<tag>`; every ancestor gets a copy of that same imgJson with `parent` set to the
 *   previous digest, and no tag. So all layers share `published_at`, `description`, `os`,
 *   `docker:architecture` and `docker:config`;
 * - `origin` when imgJson.parent is truthy or the chain has more than one layer (a one-layer image
 *   whose config has a truthy `parent` gets origin uuid([]), as imgadm computes it).
 *
 * v1 scheme (imgadm 3.5–3.7.4 over the v1 API; imgmanifest 2.x): one SmartOS image per v1 image
 * of the v1 view of the image. For schema 2 images that view is distribution's schema2→schema1
 * conversion (`manifest/schema1/config_builder.go`, v1-api.md §9.2): one v1 image per `history`
 * entry, synthetic ids `sha256(hex(blobsum) + " " + parent)` and, for the top,
 * `sha256(hex(blobsum) + " " + parent + " " + <config bytes>)`; empty-layer entries use the
 * canonical empty gzip tar. For schema 1 images the view is the history itself. The caller may
 * instead hand over the v1 view its v1 API serves (`v1Chain`), which is what imgadm 3.5–3.7 would
 * read. Each image's own v1 JSON gives its fields; UUIDs are SHA-1 name-based over
 * `"<host[:port]>:<v1 id>"`.
 *
 * JavaScript quirks of imgadm are reproduced (truthiness, `Array#join`, `Date` parsing and
 * millisecond truncation, 10240-character description clip, keys with undefined values dropped,
 * key order). Inputs imgadm itself would crash on (no `created`, no `config` object, a non-array
 * `Cmd`, non-sha256 digests, …) raise a {@link TranslationError} instead.
 */
import { createHash } from 'node:crypto';
import type {
  Compression,
  DockerConfigSubset,
  ImageSource,
  JsonValue,
  LayerDescriptor,
  SmartOsImageManifest,
  TranslateInput,
  TranslatedLayer,
  Translation,
  UuidScheme,
  V1ImageInput,
} from './schema.js';
import { DockerUuidError, imgUuidFromDockerDigests, imgUuidFromDockerV1Id } from './uuid.js';

export const OWNER_UUID = '00000000-0000-0000-0000-000000000000';
export const MAX_DESCRIPTION_LENGTH = 10 * 1024;

/** The gzipped empty tar distribution uses for empty-layer history entries (32 bytes). */
export const EMPTY_GZIP_TAR: LayerDescriptor = {
  mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  digest: 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4',
  size: 32,
};

/** Config media types of container images (anything else is an artifact imgadm cannot use). */
export const IMAGE_CONFIG_TYPES: readonly string[] = [
  'application/vnd.docker.container.image.v1+json',
  'application/vnd.oci.image.config.v1+json',
];

/** Why an image cannot be translated (imgadm would fail on it too). */
export class TranslationError extends Error {
  override readonly name = 'TranslationError';
}

type JsonRecord = { readonly [key: string]: JsonValue };

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JavaScript truthiness of a JSON value. */
function truthy(value: JsonValue | undefined): boolean {
  return !(value === undefined || value === null || value === false || value === 0 || value === '' || Number.isNaN(value));
}

/** `Array.prototype.join` semantics: null/undefined → '', nested arrays joined with ','. */
function jsJoin(values: readonly JsonValue[], separator: string): string {
  return values
    .map((v) => {
      if (v === null || v === undefined) return '';
      if (Array.isArray(v)) return jsJoin(v, ',');
      if (typeof v === 'object') return '[object Object]';
      return String(v);
    })
    .join(separator);
}

function parseJson(text: Uint8Array | string, what: string): JsonValue {
  const source = typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8');
  try {
    return JSON.parse(source) as JsonValue;
  } catch {
    throw new TranslationError(`${what} is not valid JSON`);
  }
}

/** `new Date(value).toISOString()`, as imgadm computes `published_at`; invalid → TranslationError. */
export function jsDateIso(value: JsonValue | undefined, what: string): string {
  let date: Date;
  if (typeof value === 'string' || typeof value === 'number') date = new Date(value);
  else if (value === null) date = new Date(0);
  else if (typeof value === 'boolean') date = new Date(value ? 1 : 0);
  else date = new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new TranslationError(`${what} ${value === undefined ? 'is missing' : `is not a date (${JSON.stringify(value).slice(0, 80)})`}: imgadm would fail with "Invalid time value"`);
  }
  return date.toISOString();
}

/** imgmanifest's description: `comment || container_config.Cmd.join(' ')`, clipped, '' if none. */
function descriptionOf(imgJson: JsonRecord): string {
  const comment = imgJson['comment'];
  let text: JsonValue | undefined;
  if (truthy(comment)) {
    if (typeof comment !== 'string') throw new TranslationError('comment is not a string');
    text = comment;
  } else {
    const cc = imgJson['container_config'];
    const cmd = isRecord(cc) ? cc['Cmd'] : undefined;
    if (truthy(cc) && truthy(cmd)) {
      if (!Array.isArray(cmd)) throw new TranslationError('container_config.Cmd is not an array: imgadm would fail ("join is not a function")');
      text = jsJoin(cmd, ' ');
    }
  }
  if (typeof text !== 'string' || text === '') return '';
  return text.length > MAX_DESCRIPTION_LENGTH ? text.slice(0, MAX_DESCRIPTION_LENGTH) : text;
}

function dockerConfigOf(config: JsonValue | undefined): DockerConfigSubset | undefined {
  if (!truthy(config)) return undefined;
  const subset: Record<string, JsonValue> = {};
  for (const key of ['Cmd', 'Entrypoint', 'Env', 'WorkingDir'] as const) {
    const value = isRecord(config) ? config[key] : undefined;
    if (value !== undefined) subset[key] = value;
  }
  return subset;
}

interface ManifestFields {
  readonly uuid: string;
  readonly version: string;
  readonly dockerId: string;
  readonly imgJson: JsonRecord;
  readonly repo: string;
  readonly tags: readonly string[];
  readonly origin?: string;
}

/** The manifest object in imgmanifest's key order (undefined values left out). */
function buildManifest(f: ManifestFields): SmartOsImageManifest {
  const tags: Record<string, JsonValue | DockerConfigSubset> = { 'docker:repo': f.repo, 'docker:id': f.dockerId };
  const architecture = f.imgJson['architecture'];
  if (architecture !== undefined) tags['docker:architecture'] = architecture;
  for (const tag of f.tags) tags[`docker:tag:${tag}`] = true;
  const dockerConfig = dockerConfigOf(f.imgJson['config']);
  if (dockerConfig !== undefined) tags['docker:config'] = dockerConfig;
  const manifest: Record<string, unknown> = {
    v: 2,
    uuid: f.uuid,
    owner: OWNER_UUID,
    name: 'docker-layer',
    version: f.version,
    disabled: false,
    public: true,
    published_at: jsDateIso(f.imgJson['created'], 'created'),
    type: 'docker',
  };
  if (f.imgJson['os'] === 'linux') manifest['os'] = 'linux';
  manifest['description'] = descriptionOf(f.imgJson);
  manifest['tags'] = tags;
  if (f.origin !== undefined) manifest['origin'] = f.origin;
  return manifest as unknown as SmartOsImageManifest;
}

/** Compression imgadm will see for a layer of this media type; undefined if it cannot extract it. */
export function compressionOf(mediaType: string): Compression | undefined {
  const t = mediaType.toLowerCase();
  if (t.endsWith('gzip')) return 'gzip';
  if (t.endsWith('bzip2')) return 'bzip2';
  if (t.endsWith('+xz') || t.endsWith('.xz')) return 'xz';
  if (t.endsWith('zstd')) return undefined;
  if (t.endsWith('.tar') || t.endsWith('v1.tar') || t === 'application/x-tar') return 'none';
  return undefined;
}

const VALID_NS = /^[a-z0-9_-]*$/;
const VALID_REPO = /^[a-z0-9_/.-]*$/;

/**
 * Problems imgadm's vendored docker-registry-client (3.2.10 `parseRepo`) would have with
 * `registry/repository`: the host test, and the namespace and name character rules, which are
 * stricter than the distribution grammar (no dots or `--` in the namespace, at least two
 * characters).
 */
export function imgadmNameProblems(registry: string, repository: string): string[] {
  const problems: string[] = [];
  if (!registry.includes('.') && !registry.includes(':') && registry !== 'localhost') {
    problems.push(`imgadm reads "${registry}" as a Docker Hub namespace, not a registry host (a host needs a "." or a ":", or must be "localhost")`);
  }
  if (registry === 'docker.io' || registry === 'index.docker.io') problems.push('the registry host is Docker Hub\'s name');
  const slash = repository.indexOf('/');
  const name = slash === -1 ? repository : repository.slice(slash + 1);
  if (slash !== -1) {
    const ns = repository.slice(0, slash);
    if (ns.length < 2 || ns.length > 255) problems.push(`imgadm requires the namespace "${ns}" to have 2 to 255 characters`);
    if (!VALID_NS.test(ns)) problems.push(`imgadm allows only [a-z0-9_-] in the namespace "${ns}"`);
    if (ns.startsWith('-') && ns.endsWith('-')) problems.push(`imgadm refuses a namespace that starts and ends with "-" ("${ns}")`);
    if (ns.includes('--')) problems.push(`imgadm refuses "--" in the namespace "${ns}"`);
  }
  if (!VALID_REPO.test(name)) problems.push(`imgadm allows only [a-z0-9_/.-] in the repository name "${name}"`);
  return problems;
}

function hexOf(digest: string): string {
  const colon = digest.indexOf(':');
  return colon === -1 ? digest : digest.slice(colon + 1);
}

function sha256Hex(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** The layer chain and top imgJson imgadm ≥ 3.8 derives from the manifest (docker.js). */
function v2Chain(image: ImageSource): { readonly layers: readonly LayerDescriptor[]; readonly imgJson: JsonRecord } {
  if (image.kind === 'schema2') {
    if (image.layers.length === 0) throw new TranslationError('the manifest has no layers: imgadm would fail ("no layers in manifest")');
    const imgJson = parseJson(image.config, 'the config blob');
    if (!isRecord(imgJson)) throw new TranslationError('the config blob is not a JSON object');
    return { layers: image.layers, imgJson };
  }
  if (image.fsLayers.length === 0) throw new TranslationError('the schema 1 manifest has no fsLayers');
  if (image.fsLayers.length !== image.v1Compatibility.length) {
    throw new TranslationError('the schema 1 manifest has different numbers of fsLayers and history entries');
  }
  const layers: LayerDescriptor[] = [];
  let last: string | undefined;
  for (const layer of [...image.fsLayers].reverse()) {
    if (layer.digest === last) continue;
    last = layer.digest;
    layers.push(layer);
  }
  const imgJson = parseJson(image.v1Compatibility[0] ?? '', 'history[0].v1Compatibility');
  if (!isRecord(imgJson)) throw new TranslationError('history[0].v1Compatibility is not a JSON object');
  return { layers, imgJson };
}

function uuidOf(digests: readonly string[]): string {
  try {
    return imgUuidFromDockerDigests(digests);
  } catch (error) {
    if (error instanceof DockerUuidError) throw new TranslationError(`${error.message}: imgadm only handles sha256 layer digests`);
    throw error;
  }
}

function translateV2(input: TranslateInput, repo: string): TranslatedLayer[] {
  const { layers, imgJson } = v2Chain(input.image);
  const config = imgJson['config'];
  if (config === undefined || config === null) {
    throw new TranslationError('the image config has no "config" object: imgadm would fail copying it (TypeError)');
  }
  const digests = layers.map((l) => l.digest);
  const uuids = digests.map((_, i) => uuidOf(digests.slice(0, i + 1)));
  return layers.map((layer, i) => {
    const top = i === layers.length - 1;
    // Ancestors: a copy of the top imgJson with `parent` = previous digest (null for the base).
    const parentTruthy = top ? truthy(imgJson['parent']) : i > 0;
    const origin = parentTruthy || i > 0 ? (i > 0 ? uuids[i - 1] : uuidOf([])) : undefined;
    const manifest = buildManifest({
      uuid: uuids[i] ?? '',
      version: hexOf(layer.digest).slice(0, 12),
      dockerId: layer.digest,
      imgJson,
      repo,
      tags: top && input.tag !== undefined ? [input.tag] : [],
      ...(origin !== undefined ? { origin } : {}),
    });
    const compression = compressionOf(layer.mediaType);
    return { manifest, blob: layer, ...(compression !== undefined ? { compression } : {}) };
  });
}

export interface V1Image {
  readonly json: JsonRecord;
  readonly blob: LayerDescriptor;
}

/** distribution's schema2 → schema1 conversion: the v1 images, base first (config_builder.go). */
export function v1ImagesFromSchema2(config: Uint8Array | string, layers: readonly LayerDescriptor[]): V1Image[] {
  const parsed = parseJson(config, 'the config blob');
  if (!isRecord(parsed)) throw new TranslationError('the config blob is not a JSON object');
  const history = parsed['history'];
  if (!Array.isArray(history) || history.length === 0) {
    throw new TranslationError('the image config has no history, so it has no v1 view (distribution: "empty history")');
  }
  const rootfs = parsed['rootfs'];
  const diffIds = isRecord(rootfs) ? rootfs['diff_ids'] : undefined;
  const diffCount = Array.isArray(diffIds) ? diffIds.length : 0;
  if (diffCount !== layers.length) {
    throw new TranslationError(`the config lists ${diffCount} diff_ids for ${layers.length} layers, so it has no v1 view`);
  }
  const baseLayer = isRecord(rootfs) && typeof rootfs['base_layer'] === 'string' ? rootfs['base_layer'] : '';
  const bytes = typeof config === 'string' ? Buffer.from(config, 'utf8') : config;
  const images: V1Image[] = [];
  let parent = '';
  let layerIndex = 0;
  const nextBlob = (entry: JsonRecord): LayerDescriptor => {
    if (entry['empty_layer'] === true) return EMPTY_GZIP_TAR;
    const layer = layers[layerIndex];
    if (layer === undefined) throw new TranslationError('the history has more non-empty entries than the manifest has layers');
    layerIndex++;
    return layer;
  };
  for (let i = 0; i < history.length - 1; i++) {
    const h = history[i];
    const entry: JsonRecord = isRecord(h) ? h : {};
    const blob = nextBlob(entry);
    const id = sha256Hex(`${hexOf(blob.digest)} ${parent}`);
    if (i === 0 && baseLayer !== '') parent = createHash('sha384').update(baseLayer).digest('hex').slice(0, 64);
    const json: Record<string, JsonValue> = { id };
    if (parent !== '') json['parent'] = parent;
    if (typeof entry['comment'] === 'string' && entry['comment'] !== '') json['comment'] = entry['comment'];
    json['created'] = typeof entry['created'] === 'string' ? entry['created'] : '0001-01-01T00:00:00Z';
    json['container_config'] = { Cmd: [typeof entry['created_by'] === 'string' ? entry['created_by'] : ''] };
    if (typeof entry['author'] === 'string' && entry['author'] !== '') json['author'] = entry['author'];
    if (entry['empty_layer'] === true) json['throwaway'] = true;
    images.push({ json, blob });
    parent = id;
  }
  const lastEntry = history[history.length - 1];
  const last: JsonRecord = isRecord(lastEntry) ? lastEntry : {};
  const blob = nextBlob(last);
  const topId = sha256Hex(`${hexOf(blob.digest)} ${parent} `, bytes);
  const top: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(parsed)) if (k !== 'rootfs' && k !== 'history') top[k] = v;
  top['id'] = topId;
  if (parent !== '') top['parent'] = parent;
  if (last['empty_layer'] === true) top['throwaway'] = true;
  images.push({ json: top, blob });
  return images;
}

/** The v1 images of a schema 1 manifest: its history, base first. */
function v1ImagesFromSchema1(fsLayers: readonly LayerDescriptor[], v1Compatibility: readonly string[]): V1Image[] {
  if (fsLayers.length === 0 || fsLayers.length !== v1Compatibility.length) {
    throw new TranslationError('the schema 1 manifest needs as many fsLayers as history entries, at least one');
  }
  return v1Compatibility
    .map((text, i) => {
      const json = parseJson(text, `history[${i}].v1Compatibility`);
      if (!isRecord(json)) throw new TranslationError(`history[${i}].v1Compatibility is not a JSON object`);
      const blob = fsLayers[i];
      if (blob === undefined) throw new TranslationError('fsLayers and history differ in length');
      return { json, blob };
    })
    .reverse();
}

function v1ImagesGiven(chain: readonly V1ImageInput[]): V1Image[] {
  if (chain.length === 0) throw new TranslationError('the v1 view of the image is empty');
  return chain.map((img, i) => {
    const json = parseJson(img.json, `v1 image ${i}`);
    if (!isRecord(json)) throw new TranslationError(`v1 image ${i} is not a JSON object`);
    return { json, blob: img.blob };
  });
}

function translateV1(input: TranslateInput, repo: string): TranslatedLayer[] {
  const image = input.image;
  const v1 =
    input.v1Chain !== undefined
      ? v1ImagesGiven(input.v1Chain)
      : image.kind === 'schema2'
        ? v1ImagesFromSchema2(image.config, image.layers)
        : v1ImagesFromSchema1(image.fsLayers, image.v1Compatibility);
  const tags = input.v1Tags ?? (input.tag !== undefined ? [input.tag] : []);
  return v1.map((img, i) => {
    const id = img.json['id'];
    if (typeof id !== 'string' || id.length !== 64) throw new TranslationError(`v1 image ${i} has no 64-character id`);
    const parent = img.json['parent'];
    let uuid: string;
    let origin: string | undefined;
    try {
      uuid = imgUuidFromDockerV1Id(input.registry, id);
      origin = truthy(parent) ? imgUuidFromDockerV1Id(input.registry, String(parent)) : undefined;
    } catch (error) {
      if (error instanceof DockerUuidError) throw new TranslationError(error.message);
      throw error;
    }
    const manifest = buildManifest({
      uuid,
      version: id.slice(0, 12),
      dockerId: id,
      imgJson: img.json,
      repo,
      tags: i === v1.length - 1 ? tags : [],
      ...(origin !== undefined ? { origin } : {}),
    });
    const compression = compressionOf(img.blob.mediaType);
    return { manifest, blob: img.blob, ...(compression !== undefined ? { compression } : {}) };
  });
}

function layerWarnings(layers: readonly TranslatedLayer[]): string[] {
  const warnings: string[] = [];
  layers.forEach((l, i) => {
    if (l.compression === undefined) {
      warnings.push(`layer ${i} (${l.blob.digest}) has media type ${l.blob.mediaType}: imgadm can only extract gzip, bzip2, xz or uncompressed tar layers`);
    }
    if (l.blob.urls !== undefined && l.blob.urls.length > 0) {
      warnings.push(`layer ${i} (${l.blob.digest}) is a foreign layer, not stored in the registry: imgadm cannot download it`);
    }
  });
  return warnings;
}

/**
 * Translates one Docker image into the SmartOS image manifests imgadm would create for it, base
 * layer first. Throws {@link TranslationError} when imgadm could not import the image at all.
 */
export function translate(input: TranslateInput): Translation {
  const scheme: UuidScheme = input.scheme ?? 'v2';
  const image = input.image;
  if (image.kind === 'schema2' && !IMAGE_CONFIG_TYPES.includes(image.configMediaType)) {
    throw new TranslationError(`not a container image (config media type ${JSON.stringify(image.configMediaType.slice(0, 100))})`);
  }
  const repo = `${input.registry}/${input.repository}`;
  const warnings = imgadmNameProblems(input.registry, input.repository);
  const layers = scheme === 'v1' ? translateV1(input, repo) : translateV2(input, repo);
  warnings.push(...layerWarnings(layers));
  if (input.tag === undefined) {
    warnings.push('imgadm cannot import by digest (its docker source needs a tag); import a tag that points at this manifest');
  }
  if (image.kind === 'schema1' && !image.signed) {
    warnings.push('the schema 1 manifest is unsigned: imgadm ≥ 3.8 refuses schema 1 manifests without a valid libtrust signature');
  }
  const top = layers[layers.length - 1];
  if (top === undefined) throw new TranslationError('the image has no layers');
  const ref = input.tag !== undefined ? `${repo}:${input.tag}` : `${repo}@${input.digest ?? ''}`;
  return {
    ref,
    repo,
    ...(input.tag !== undefined ? { tag: input.tag } : {}),
    scheme,
    uuid: top.manifest.uuid,
    layers,
    warnings,
  };
}
