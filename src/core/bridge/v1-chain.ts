/**
 * The v1 view of a v2 image: the chain of v1 images (id, parent, image JSON, layer) that
 * distribution 2.x produced when it converted a schema2 manifest for an old client
 * (distribution/distribution v2.x, `manifest/schema1/config_builder.go`, removed in 3.0),
 * computed only from content, so every node and every restart derives the same IDs:
 *
 *   for each history entry but the last (base first):
 *     blobSum = the next manifest layer, or the gzipped empty tar for an `empty_layer` step
 *     id      = hex(sha256(hex(blobSum) + " " + parentId))
 *     json    = {"id","parent","comment","created","container_config":{"Cmd":[created_by]},
 *                "author","throwaway"}                               (Go struct order, omitempty)
 *   top: id   = hex(sha256(hex(blobSum) + " " + parentId + " " + <config bytes as stored>))
 *        json = the config without `rootfs`/`history`, plus id, parent, throwaway (keys sorted)
 *
 * Where distribution refused to convert (no history, or history and layers that disagree), Berth
 * uses one synthetic history step per layer instead, which is just as deterministic. Also the
 * reverse reading of a stored schema1 manifest, whose v1Compatibility entries already carry IDs.
 */
import { createHash } from 'node:crypto';
import { tryParseDigest, type ParsedDigest } from '../digest.js';
import { isNonDistributable } from '../manifests/media-types.js';
import type { Descriptor } from '../manifests/parse.js';
import { GO_ZERO_TIME, goMarshal, goString, goTime, marshalRawMap, rawMembers } from './go-json.js';
import { isRecord } from '../json.js';

/** The 32-byte gzipped empty tar distribution used for history steps without a layer. */
export const EMPTY_GZIP_TAR = Buffer.from([
  31, 139, 8, 0, 0, 9, 110, 136, 0, 255, 98, 24, 5, 163, 96, 20, 140, 88, 0, 8, 0, 0, 255, 255, 46, 175, 181, 239, 0, 4, 0, 0,
]);
export const EMPTY_GZIP_TAR_DIGEST = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
/** sha256 of the uncompressed empty tar (1024 zero bytes): its diff_id. */
export const EMPTY_TAR_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/** v1 image IDs: 64 lowercase hex (docker ≥ 1.10), or the 16-hex short form registry 0.9 accepted. */
export const V1_ID = /^(?:[a-f0-9]{64}|[a-f0-9]{16})$/;

export function isV1Id(value: string): boolean {
  return V1_ID.test(value);
}

/** One v1 image of a chain. */
export interface V1Image {
  readonly id: string;
  readonly parent?: string;
  /** The image JSON, exactly as served on `GET /v1/images/<id>/json`. */
  readonly json: Buffer;
  /** The layer blob (the gzipped empty tar for a step without a layer). */
  readonly blobSum: ParsedDigest;
  /** Layer size in bytes, when the manifest says it. */
  readonly size?: number;
  /** The layer's media type in the v2 manifest (undefined for the empty tar or schema1). */
  readonly mediaType?: string;
  /** The layer's diff_id from the config, when known. */
  readonly diffId?: string;
  /** A history step without a layer (served as the gzipped empty tar). */
  readonly throwaway: boolean;
}

export class BridgeError extends Error {
  override readonly name = 'BridgeError';
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

interface HistoryStep {
  readonly created: string;
  readonly author: string;
  readonly createdBy: string;
  readonly comment: string;
  readonly empty: boolean;
}

function historyOf(config: Record<string, unknown>, layerCount: number): HistoryStep[] {
  const raw = Array.isArray(config['history']) ? (config['history'] as unknown[]) : [];
  const steps = raw.filter(isRecord).map((h) => ({
    created: typeof h['created'] === 'string' ? goTime(h['created']) : GO_ZERO_TIME,
    author: text(h['author']),
    createdBy: text(h['created_by']),
    comment: text(h['comment']),
    empty: h['empty_layer'] === true,
  }));
  if (steps.length === raw.length && steps.length > 0 && steps.filter((s) => !s.empty).length === layerCount) return steps;
  // Berth's fallback where distribution gave up: one step per layer (or one empty step).
  const created = typeof config['created'] === 'string' ? goTime(config['created']) : GO_ZERO_TIME;
  if (layerCount === 0) return [{ created, author: '', createdBy: '', comment: '', empty: true }];
  return Array.from({ length: layerCount }, () => ({ created, author: '', createdBy: '', comment: '', empty: false }));
}

function emptyDigest(): ParsedDigest {
  const d = tryParseDigest(EMPTY_GZIP_TAR_DIGEST);
  if (d === undefined) throw new Error('internal: empty tar digest');
  return d;
}

/**
 * Go's `MakeV1ConfigFromConfig`: the config with `rootfs` and `history` removed and `id`,
 * `parent`, `throwaway` added, re-marshalled as a Go map (sorted keys, raw values compacted).
 */
export function v1ConfigFromConfig(configText: string, id: string, parent: string, throwaway: boolean): string {
  const members = rawMembers(configText);
  members.delete('rootfs');
  members.delete('history');
  members.set('id', goString(id));
  if (parent !== '') members.set('parent', goString(parent));
  if (throwaway) members.set('throwaway', 'true');
  return marshalRawMap(members);
}

/**
 * The v1 chain (base first) of a schema2 or OCI image manifest's layers and its config bytes.
 * Throws BridgeError when the image cannot be served over v1 (a config that is not a JSON object,
 * foreign layers whose bytes the registry does not hold, zstd or encrypted layers).
 */
export function v1ChainFromImage(layers: readonly Descriptor[], configBytes: Buffer): V1Image[] {
  const configText = configBytes.toString('utf8');
  let config: unknown;
  try {
    config = JSON.parse(configText);
  } catch {
    throw new BridgeError('image config is not JSON');
  }
  if (!isRecord(config)) throw new BridgeError('image config is not a JSON object');
  for (const layer of layers) {
    if ((layer.urls !== undefined && layer.urls.length > 0) || isNonDistributable(layer.mediaType)) {
      throw new BridgeError('image has foreign layers');
    }
    // No v1 or schema1 client can unpack these.
    if (/zstd|encrypted/.test(layer.mediaType)) throw new BridgeError(`layer type ${layer.mediaType} has no v1 form`);
  }
  const rootfs = isRecord(config['rootfs']) ? config['rootfs'] : {};
  const diffIds = Array.isArray(rootfs['diff_ids']) ? (rootfs['diff_ids'] as unknown[]) : [];
  const baseLayer = text(rootfs['base_layer']);
  const steps = historyOf(config, layers.length);
  const empty = emptyDigest();
  const chain: V1Image[] = [];
  let parent = '';
  let layerIndex = 0;
  const next = (step: HistoryStep): Pick<V1Image, 'blobSum' | 'size' | 'mediaType' | 'diffId'> => {
    if (step.empty) return { blobSum: empty, size: EMPTY_GZIP_TAR.length, diffId: EMPTY_TAR_DIFF_ID };
    const layer = layers[layerIndex];
    const diffId = diffIds[layerIndex];
    layerIndex++;
    if (layer === undefined) throw new BridgeError('more history steps with layers than layers');
    return {
      blobSum: layer.digest,
      size: layer.size,
      mediaType: layer.mediaType,
      ...(typeof diffId === 'string' ? { diffId } : {}),
    };
  };
  for (let i = 0; i < steps.length - 1; i++) {
    const step = steps[i] as HistoryStep;
    const blob = next(step);
    const id = sha256Hex(`${blob.blobSum.hex} ${parent}`);
    if (i === 0 && baseLayer !== '') {
      // Windows base layers: distribution's first image names a synthetic parent.
      parent = createHash('sha384').update(baseLayer, 'utf8').digest('hex').slice(0, 64);
    }
    const json =
      `{"id":${goString(id)}` +
      (parent !== '' ? `,"parent":${goString(parent)}` : '') +
      (step.comment !== '' ? `,"comment":${goString(step.comment)}` : '') +
      `,"created":${goString(step.created)}` +
      `,"container_config":{"Cmd":${goMarshal([step.createdBy])}}` +
      (step.author !== '' ? `,"author":${goString(step.author)}` : '') +
      (step.empty ? ',"throwaway":true' : '') +
      '}';
    chain.push({ id, ...(parent !== '' ? { parent } : {}), json: Buffer.from(json), ...blob, throwaway: step.empty });
    parent = id;
  }
  const last = steps[steps.length - 1] as HistoryStep;
  const blob = next(last);
  const id = createHash('sha256').update(`${blob.blobSum.hex} ${parent} `, 'utf8').update(configBytes).digest('hex');
  const json = v1ConfigFromConfig(configText, id, parent, last.empty);
  chain.push({ id, ...(parent !== '' ? { parent } : {}), json: Buffer.from(json), ...blob, throwaway: last.empty });
  return chain;
}

/**
 * The v1 chain (base first) recorded in a schema1 manifest: each `history[i].v1Compatibility` is
 * the image JSON of `fsLayers[i]`, top first. Throws BridgeError unless every entry has a valid id
 * and each names the next as its parent.
 */
export function v1ChainFromSchema1(manifest: Readonly<Record<string, unknown>>): V1Image[] {
  const fsLayers = manifest['fsLayers'];
  const history = manifest['history'];
  if (!Array.isArray(fsLayers) || !Array.isArray(history) || fsLayers.length !== history.length || history.length === 0) {
    throw new BridgeError('schema1 manifest: fsLayers and history do not match');
  }
  const chain: V1Image[] = [];
  for (let i = history.length - 1; i >= 0; i--) {
    const h: unknown = history[i];
    const l: unknown = fsLayers[i];
    const compat = isRecord(h) ? h['v1Compatibility'] : undefined;
    const blobSum = isRecord(l) && typeof l['blobSum'] === 'string' ? tryParseDigest(l['blobSum']) : undefined;
    if (typeof compat !== 'string' || blobSum === undefined) throw new BridgeError('schema1 manifest: malformed history entry');
    let json: unknown;
    try {
      json = JSON.parse(compat);
    } catch {
      throw new BridgeError('schema1 manifest: v1Compatibility is not JSON');
    }
    if (!isRecord(json) || typeof json['id'] !== 'string' || !isV1Id(json['id'])) throw new BridgeError('schema1 manifest: bad v1 id');
    const parent = json['parent'];
    const below = chain[chain.length - 1];
    if ((below?.id ?? '') !== (typeof parent === 'string' ? parent : '')) throw new BridgeError('schema1 manifest: broken parent chain');
    chain.push({
      id: json['id'],
      ...(typeof parent === 'string' && parent !== '' ? { parent } : {}),
      json: Buffer.from(compat),
      blobSum,
      throwaway: json['throwaway'] === true,
    });
  }
  return chain;
}
