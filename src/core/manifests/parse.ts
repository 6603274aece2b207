/**
 * Parses and validates manifest bytes into a typed summary: media type, referenced descriptors
 * (config, layers, child manifests), subject, artifact type and annotations. Input comes in as
 * `unknown` JSON and is narrowed here; anything malformed is MANIFEST_INVALID with a detail that
 * says what.
 */
import { RegistryError } from '../../errors/registry-error.js';
import { tryParseDigest, type ParsedDigest } from '../digest.js';
import { MediaTypes, bareMediaType, manifestKind, type ManifestKind } from './media-types.js';
import { isRecord } from '../json.js';

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: ParsedDigest;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly platform?: Platform;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ParsedManifest {
  readonly mediaType: string;
  readonly kind: ManifestKind;
  readonly config?: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  /** schema1 only: the blobs referenced by fsLayers. */
  readonly fsLayers: readonly ParsedDigest[];
  /** The parsed JSON document (for bridges that translate manifests). */
  readonly json: Readonly<Record<string, unknown>>;
}

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', { message, detail });
}

function optionalString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${where}.${key} must be a string`);
  return value;
}

function annotationsOf(obj: Record<string, unknown>, where: string): Record<string, string> | undefined {
  const value = obj['annotations'];
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw invalid(`${where}.annotations must be an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(`${where}.annotations values must be strings`);
    out[k] = v;
  }
  return out;
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isRecord(value)) throw invalid(`${where} must be an object`);
  const mediaType = value['mediaType'];
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${where}.mediaType must be a non-empty string`);
  const digestValue = value['digest'];
  const digest = typeof digestValue === 'string' ? tryParseDigest(digestValue) : undefined;
  if (digest === undefined) throw invalid(`${where}.digest is not a valid digest`, { digest: digestValue });
  const size = value['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  const urlsValue = value['urls'];
  let urls: string[] | undefined;
  if (urlsValue !== undefined && urlsValue !== null) {
    if (!Array.isArray(urlsValue) || !urlsValue.every((u) => typeof u === 'string')) throw invalid(`${where}.urls must be strings`);
    urls = urlsValue as string[];
  }
  const platformValue = value['platform'];
  let platform: Platform | undefined;
  if (isRecord(platformValue)) {
    const architecture = platformValue['architecture'];
    const os = platformValue['os'];
    const variant = platformValue['variant'];
    if (typeof architecture !== 'string' || typeof os !== 'string') {
      throw invalid(`${where}.platform needs architecture and os strings`);
    }
    platform = typeof variant === 'string' ? { architecture, os, variant } : { architecture, os };
  }
  const artifactType = optionalString(value, 'artifactType', where);
  const annotations = annotationsOf(value, where);
  return {
    mediaType,
    digest,
    size,
    ...(urls !== undefined ? { urls } : {}),
    ...(platform !== undefined ? { platform } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
  };
}

function descriptorList(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((d, i) => parseDescriptor(d, `${where}[${i}]`));
}

/**
 * Decides the media type: the body's `mediaType`, else the request's Content-Type, else the shape.
 * A body `mediaType` that disagrees with a manifest Content-Type is MANIFEST_INVALID (what
 * distribution does; the two schema1 spellings count as one). A generic Content-Type
 * (`application/json`, none) never conflicts, and a body without `mediaType` is legal (OCI).
 */
function effectiveMediaType(json: Record<string, unknown>, contentType: string | undefined): string {
  const declared = json['mediaType'];
  const header = bareMediaType(contentType);
  const headerKind = manifestKind(header);
  if (declared !== undefined) {
    if (typeof declared !== 'string') throw invalid('mediaType must be a string');
    if (headerKind !== undefined && declared !== header && !(headerKind === 'schema1' && manifestKind(declared) === 'schema1')) {
      throw invalid('the manifest mediaType does not match the Content-Type', {
        mediaType: declared.slice(0, 100),
        contentType: header.slice(0, 100),
      });
    }
    return declared;
  }
  if (headerKind !== undefined) return header;
  if (json['schemaVersion'] === 1) return json['signatures'] === undefined ? MediaTypes.dockerSchema1 : MediaTypes.dockerSchema1Signed;
  if (Array.isArray(json['manifests'])) return MediaTypes.ociIndex;
  if (json['config'] !== undefined) return MediaTypes.ociManifest;
  throw invalid('cannot tell the manifest media type (no mediaType field and no manifest Content-Type)');
}

export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isRecord(json)) throw invalid('manifest must be a JSON object');
  const mediaType = effectiveMediaType(json, contentType);
  const kind = manifestKind(mediaType);
  if (kind === undefined) throw invalid(`unsupported manifest media type ${JSON.stringify(mediaType.slice(0, 100))}`);

  if (kind === 'schema1') {
    if (json['schemaVersion'] !== 1) throw invalid('schema1 manifest must have schemaVersion 1');
    const fsLayersValue = json['fsLayers'];
    if (!Array.isArray(fsLayersValue)) throw invalid('schema1 manifest needs fsLayers');
    const fsLayers = fsLayersValue.map((l, i) => {
      const blobSum = isRecord(l) ? l['blobSum'] : undefined;
      const d = typeof blobSum === 'string' ? tryParseDigest(blobSum) : undefined;
      if (d === undefined) throw invalid(`fsLayers[${i}].blobSum is not a valid digest`);
      return d;
    });
    const history = json['history'];
    if (!Array.isArray(history) || history.length !== fsLayers.length) {
      throw invalid('schema1 manifest: history and fsLayers must have the same length');
    }
    return { mediaType, kind, layers: [], manifests: [], fsLayers, json };
  }

  if (json['schemaVersion'] !== 2) throw invalid('schemaVersion must be 2');
  const subject = json['subject'] === undefined || json['subject'] === null ? undefined : parseDescriptor(json['subject'], 'subject');
  const artifactType = optionalString(json, 'artifactType', 'manifest');
  const annotations = annotationsOf(json, 'manifest');
  const common = {
    mediaType,
    kind,
    fsLayers: [],
    json,
    ...(subject !== undefined ? { subject } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
  };
  if (kind === 'index') {
    return { ...common, layers: [], manifests: descriptorList(json['manifests'], 'manifests') };
  }
  const config = parseDescriptor(json['config'], 'config');
  const layers = json['layers'] === undefined && mediaType === MediaTypes.ociManifest ? [] : descriptorList(json['layers'], 'layers');
  return { ...common, config, layers, manifests: [] };
}

/** linux/amd64: the image a client that cannot choose gets from a list (distribution's rule). */
export function isLinuxAmd64(m: Descriptor): boolean {
  return m.platform?.os === 'linux' && m.platform.architecture === 'amd64';
}

/** The artifactType a referrers descriptor reports for this manifest (OCI 1.1 rules). */
export function referrerArtifactType(m: ParsedManifest): string | undefined {
  if (m.artifactType !== undefined) return m.artifactType;
  if (m.kind === 'image') return m.config?.mediaType;
  return undefined;
}
