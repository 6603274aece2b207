/**
 * Images pushed over v1: the JSON / layer / checksum sequence of registry 0.9, with its states.
 *
 *   PUT json      → JSON stored verbatim, ancestry computed ([id] + ancestry(parent)), and the
 *                   `_inprogress` mark set: the image exists but cannot be pulled.
 *   PUT layer     → bytes streamed into a v1 upload area while hashed (layer-hash.ts), then moved
 *                   into the global content store under their sha256; only then is the layer
 *                   record written.
 *   PUT checksum  → `X-Docker-Checksum-Payload` compared with sha256(json + "\n" + layer); on a
 *                   match the mark is removed (the image is complete); on a mismatch the image is
 *                   discarded entirely, so nothing half-pushed stays visible.
 *
 * A failed request stores nothing (the upload area is removed; no record points at a partial
 * blob). Parents may be pushed images or images of the v2 bridge.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { StorageDriver } from '../../../storage-drivers/driver.js';
import { RegistryError } from '../../errors/registry-error.js';
import type { BlobStore } from '../blob-store.js';
import { isV1Id } from '../bridge/v1-chain.js';
import { tryParseDigest, type ParsedDigest } from '../digest.js';
import { deleteIfExists, exists, getOrUndefined, listOrEmpty } from '../storage-helpers.js';
import { LayerHasher } from './layer-hash.js';
import { v1Paths } from './paths.js';
import { isRecord, parseStoredJson } from '../json.js';

/** Deepest ancestry accepted (docker itself stopped at 127 layers). */
export const MAX_ANCESTRY = 1000;

export interface LayerRecord {
  readonly digest: ParsedDigest;
  readonly size: number;
  readonly diffId: string;
  readonly mediaType: string;
}

export interface PushedImage {
  readonly id: string;
  readonly parent?: string;
  readonly json: Buffer;
  readonly complete: boolean;
  readonly layer?: LayerRecord;
  /** Payload checksums (`sha256:…`) computed when the layer was received. */
  readonly checksums: readonly string[];
  /** Repositories a tag of this image lives in. */
  readonly repositories: readonly string[];
}

export interface ImageOptions {
  /** Largest layer accepted, in bytes (0: unlimited). */
  readonly maxLayerBytes: number;
  readonly now: () => Date;
}

function parseLayer(raw: Buffer | undefined): LayerRecord | undefined {
  const value = parseStoredJson(raw);
  if (!isRecord(value)) return undefined;
  const digest = typeof value['digest'] === 'string' ? tryParseDigest(value['digest']) : undefined;
  const { size, diffId, mediaType } = value;
  if (digest === undefined || typeof size !== 'number' || typeof diffId !== 'string' || typeof mediaType !== 'string') return undefined;
  return { digest, size, diffId, mediaType };
}

function parseChecksums(raw: Buffer | undefined): string[] {
  const value = parseStoredJson(raw);
  if (!isRecord(value) || !Array.isArray(value['payload'])) return [];
  return value['payload'].filter((c): c is string => typeof c === 'string');
}

export function notFound(id: string): RegistryError {
  return new RegistryError('V1_IMAGE_UNKNOWN', { detail: { id } });
}

export class PushedImages {
  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly options: ImageOptions,
  ) {}

  async get(id: string): Promise<PushedImage | undefined> {
    const json = await getOrUndefined(this.driver, v1Paths.imageJson(id));
    if (json === undefined) return undefined;
    const [inProgress, layerRaw, checksumRaw, ownerPaths] = await Promise.all([
      exists(this.driver, v1Paths.inProgress(id)),
      getOrUndefined(this.driver, v1Paths.layer(id)),
      getOrUndefined(this.driver, v1Paths.checksum(id)),
      listOrEmpty(this.driver, v1Paths.ownersDir(id)),
    ]);
    const owners = await Promise.all(ownerPaths.sort().map((p) => getOrUndefined(this.driver, p)));
    const repositories = owners
      .map(parseStoredJson)
      .map((o) => (isRecord(o) && typeof o['repository'] === 'string' ? o['repository'] : undefined))
      .filter((r): r is string => r !== undefined);
    const parsed = parseStoredJson(json);
    const parent = isRecord(parsed) && typeof parsed['parent'] === 'string' && parsed['parent'] !== '' ? parsed['parent'] : undefined;
    const layer = parseLayer(layerRaw);
    return {
      id,
      ...(parent !== undefined ? { parent } : {}),
      json,
      complete: !inProgress,
      ...(layer !== undefined ? { layer } : {}),
      checksums: parseChecksums(checksumRaw),
      repositories,
    };
  }

  async ancestry(id: string): Promise<string[] | undefined> {
    const value = parseStoredJson(await getOrUndefined(this.driver, v1Paths.ancestry(id)));
    if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) return undefined;
    return value;
  }

  /**
   * Validates and stores an image JSON. `parentAncestry` resolves a parent ID to its ancestry
   * (pushed or bridged), undefined when there is no such image; `isBridged` says whether an ID
   * is already served by the v2 bridge.
   */
  async putJson(
    id: string,
    body: Buffer,
    parentAncestry: (parent: string) => Promise<readonly string[] | undefined>,
    isBridged: (id: string) => Promise<boolean>,
  ): Promise<void> {
    const data = parseStoredJson(body);
    if (!isRecord(data)) throw new RegistryError('V1_INVALID', { message: 'Invalid JSON' });
    if (!('id' in data)) throw new RegistryError('V1_INVALID', { message: "Missing key `id' in JSON" });
    if (data['id'] !== id) throw new RegistryError('V1_INVALID', { message: 'JSON data contains invalid id' });
    const parent = data['parent'];
    let ancestry: string[] = [id];
    if (parent !== undefined && parent !== null && parent !== '') {
      if (typeof parent !== 'string' || !isV1Id(parent) || parent === id) {
        throw new RegistryError('V1_INVALID', { message: 'Image depends on a non existing parent', detail: { parent } });
      }
      const above = await parentAncestry(parent);
      if (above === undefined) throw new RegistryError('V1_INVALID', { message: 'Image depends on a non existing parent', detail: { parent } });
      if (above.includes(id)) throw new RegistryError('V1_INVALID', { message: 'Image ancestry would contain the image itself' });
      ancestry = [id, ...above];
      if (ancestry.length > MAX_ANCESTRY) throw new RegistryError('V1_INVALID', { message: `Image ancestry is deeper than ${MAX_ANCESTRY}` });
    }
    const existing = await this.get(id);
    if ((existing !== undefined && existing.complete) || (existing === undefined && (await isBridged(id)))) {
      throw new RegistryError('V1_IMAGE_EXISTS');
    }
    await this.driver.putContent(v1Paths.inProgress(id), Buffer.from(this.options.now().toISOString()));
    await deleteIfExists(this.driver, v1Paths.layer(id));
    await deleteIfExists(this.driver, v1Paths.checksum(id));
    await this.driver.putContent(v1Paths.imageJson(id), body);
    await this.driver.putContent(v1Paths.ancestry(id), Buffer.from(JSON.stringify(ancestry)));
  }

  /** Receives the layer of an image whose JSON was pushed and which is not complete yet. */
  async putLayer(id: string, source: Readable, signal?: AbortSignal): Promise<LayerRecord> {
    const image = await this.get(id);
    if (image === undefined) throw notFound(id);
    if (image.complete) throw new RegistryError('V1_IMAGE_EXISTS');
    const upload = randomUUID();
    const dataPath = v1Paths.uploadData(upload);
    const hasher = new LayerHasher(image.json, this.options.maxLayerBytes);
    const writer = await this.driver.writer(dataPath);
    let committed = false;
    try {
      const tap = async function* (): AsyncGenerator<Uint8Array> {
        for await (const chunk of source) {
          const buf = chunk as Buffer;
          await hasher.update(buf);
          yield buf;
        }
      };
      await writer.write(tap(), signal);
      const facts = await hasher.finish();
      await writer.commit();
      committed = true;
      const digest = tryParseDigest(facts.digest);
      if (digest === undefined || facts.payloadChecksum === undefined) throw new Error('internal: layer digest');
      await this.blobs.adopt(dataPath, digest);
      const record: LayerRecord = { digest, size: facts.size, diffId: facts.diffId, mediaType: facts.mediaType };
      await this.driver.putContent(
        v1Paths.layer(id),
        Buffer.from(JSON.stringify({ digest: digest.digest, size: record.size, diffId: record.diffId, mediaType: record.mediaType })),
      );
      await this.driver.putContent(v1Paths.checksum(id), Buffer.from(JSON.stringify({ payload: [facts.payloadChecksum] })));
      return record;
    } catch (error) {
      hasher.abort();
      if (!committed) await writer.cancel().catch(() => undefined);
      throw error;
    } finally {
      await deleteIfExists(this.driver, v1Paths.uploadDir(upload)).catch(() => false);
    }
  }

  /** Verifies the payload checksum and completes the image; a mismatch discards the image. */
  async putChecksum(id: string, payload: string, tarsum: string | undefined): Promise<void> {
    const image = await this.get(id);
    if (image === undefined) throw notFound(id);
    if (image.complete) throw new RegistryError('V1_IMAGE_EXISTS', { message: 'Cannot set this image checksum' });
    if (image.layer === undefined || image.checksums.length === 0) {
      throw new RegistryError('V1_INVALID', { message: 'Image layer not uploaded: PUT the layer before its checksum' });
    }
    if (!image.checksums.includes(payload)) {
      await deleteIfExists(this.driver, v1Paths.imageDir(id));
      throw new RegistryError('V1_CHECKSUM_INVALID', { detail: { received: payload.slice(0, 100) } });
    }
    const record = { payload: image.checksums, ...(tarsum !== undefined && tarsum !== '' ? { tarsum } : {}) };
    await this.driver.putContent(v1Paths.checksum(id), Buffer.from(JSON.stringify(record)));
    await deleteIfExists(this.driver, v1Paths.inProgress(id));
  }

  /** Notes that a tag of `repository` includes this image (access checks). */
  async addOwner(id: string, repository: string): Promise<void> {
    const path = v1Paths.owner(id, repository);
    if (!(await exists(this.driver, path))) await this.driver.putContent(path, Buffer.from(JSON.stringify({ repository })));
  }
}
