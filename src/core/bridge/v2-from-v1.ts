/**
 * The v2 view of a v1 image: a schema2 image config and manifest synthesized from the v1 chain
 * (base first), deterministic (the same chain always gives the same bytes, hence the same
 * digests on every node). The config is docker's `MakeConfigFromV1Config` (the top image JSON
 * without `id`, `parent`, `Size`, `parent_id`, `layer_id`, `throwaway`, plus `rootfs` and
 * `history` built with `HistoryFromConfig`, keys sorted as Go marshals a map); the manifest is
 * laid out as docker's `json.MarshalIndent(m, "", "   ")`.
 *
 * Layers: every v1 layer is a blob as stored (its digest is sha256 of the bytes), typed by its
 * compression — `…rootfs.diff.tar.gzip` for gzip, `…rootfs.diff.tar` for an uncompressed tar
 * (both known to docker, containerd and containers/image). A throwaway step whose layer is the
 * gzipped empty tar becomes an `empty_layer` history entry without a layer, which is exactly what
 * the v1 bridge produced it from. If a layer has a type no Docker media type covers (zstd), the
 * image is written as an OCI manifest instead.
 */
import { createHash } from 'node:crypto';
import { MediaTypes } from '../manifests/media-types.js';
import { GO_ZERO_TIME, goIndent, goMarshal, goString, goTime, marshalRawMap, rawMembers, type GoValue } from './go-json.js';
import { EMPTY_GZIP_TAR_DIGEST, BridgeError } from './v1-chain.js';
import { isRecord } from '../json.js';

export const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';

export interface V1LayerBlob {
  readonly digest: string;
  readonly size: number;
  /** sha256 of the uncompressed tar. */
  readonly diffId: string;
  readonly mediaType: string;
}

export interface V1ChainEntry {
  /** The image JSON as pushed (or as the v1 bridge serves it). */
  readonly json: Buffer;
  readonly layer: V1LayerBlob;
}

export interface SynthesizedImage {
  readonly config: Buffer;
  readonly configDigest: string;
  readonly manifest: Buffer;
  readonly manifestDigest: string;
  readonly mediaType: string;
  /** The layers the manifest references, base first. */
  readonly layers: readonly V1LayerBlob[];
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const TO_DOCKER: Readonly<Record<string, string>> = {
  [MediaTypes.dockerLayerGzip]: MediaTypes.dockerLayerGzip,
  [DOCKER_LAYER_TAR]: DOCKER_LAYER_TAR,
  [MediaTypes.ociLayerGzip]: MediaTypes.dockerLayerGzip,
  [MediaTypes.ociLayer]: DOCKER_LAYER_TAR,
};
const TO_OCI: Readonly<Record<string, string>> = {
  [MediaTypes.dockerLayerGzip]: MediaTypes.ociLayerGzip,
  [DOCKER_LAYER_TAR]: MediaTypes.ociLayer,
};

interface HistoryEntry {
  readonly created: string;
  readonly author: string;
  readonly createdBy: string;
  readonly comment: string;
  readonly empty: boolean;
}

/** Docker's `HistoryFromConfig` of one v1 image JSON. */
function historyOf(json: Record<string, unknown>, empty: boolean): HistoryEntry {
  const containerConfig = isRecord(json['container_config']) ? json['container_config'] : {};
  const cmd = Array.isArray(containerConfig['Cmd']) ? containerConfig['Cmd'].filter((c): c is string => typeof c === 'string') : [];
  return {
    created: typeof json['created'] === 'string' ? goTime(json['created']) : GO_ZERO_TIME,
    author: typeof json['author'] === 'string' ? json['author'] : '',
    createdBy: cmd.join(' '),
    comment: typeof json['comment'] === 'string' ? json['comment'] : '',
    empty,
  };
}

function historyJson(h: HistoryEntry): string {
  return (
    `{"created":${goString(h.created)}` +
    (h.author !== '' ? `,"author":${goString(h.author)}` : '') +
    (h.createdBy !== '' ? `,"created_by":${goString(h.createdBy)}` : '') +
    (h.comment !== '' ? `,"comment":${goString(h.comment)}` : '') +
    (h.empty ? ',"empty_layer":true' : '') +
    '}'
  );
}

/** Builds the schema2 (or OCI) config and manifest of a v1 chain, base first. */
export function synthesizeV2(chain: readonly V1ChainEntry[]): SynthesizedImage {
  const top = chain[chain.length - 1];
  if (top === undefined) throw new BridgeError('empty v1 chain');
  const history: HistoryEntry[] = [];
  const layers: V1LayerBlob[] = [];
  for (const entry of chain) {
    let json: unknown;
    try {
      json = JSON.parse(entry.json.toString('utf8'));
    } catch {
      throw new BridgeError('v1 image JSON is not JSON');
    }
    if (!isRecord(json)) throw new BridgeError('v1 image JSON is not an object');
    const empty = json['throwaway'] === true && entry.layer.digest === EMPTY_GZIP_TAR_DIGEST;
    history.push(historyOf(json, empty));
    if (!empty) layers.push(entry.layer);
  }
  const members = rawMembers(top.json.toString('utf8'));
  for (const key of ['id', 'parent', 'Size', 'parent_id', 'layer_id', 'throwaway']) members.delete(key);
  members.set('rootfs', `{"type":"layers","diff_ids":${goMarshal(layers.map((l) => l.diffId))}}`);
  members.set('history', `[${history.map(historyJson).join(',')}]`);
  const config = Buffer.from(marshalRawMap(members));
  const configDigest = sha256(config);

  const docker = layers.every((l) => TO_DOCKER[l.mediaType] !== undefined);
  const layerType = (t: string): string => (docker ? (TO_DOCKER[t] ?? t) : (TO_OCI[t] ?? t));
  const mediaType = docker ? MediaTypes.dockerSchema2 : MediaTypes.ociManifest;
  const doc: GoValue = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig, size: config.length, digest: configDigest },
    layers: layers.map((l) => ({ mediaType: layerType(l.mediaType), size: l.size, digest: l.digest })),
  };
  const manifest = Buffer.from(goIndent(doc, '', '   '));
  return {
    config,
    configDigest,
    manifest,
    manifestDigest: sha256(manifest),
    mediaType,
    layers: layers.map((l) => ({ ...l, mediaType: layerType(l.mediaType) })),
  };
}

/** Compression of a v1 layer from its first bytes (docker's DetectCompression). */
export type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'none';

export function detectCompression(head: Uint8Array): Compression {
  const starts = (...bytes: number[]): boolean => bytes.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b, 0x08)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  return 'none';
}

export function layerMediaType(compression: 'gzip' | 'none'): string {
  return compression === 'gzip' ? MediaTypes.dockerLayerGzip : DOCKER_LAYER_TAR;
}
