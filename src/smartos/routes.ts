/**
 * SmartOS endpoints, mounted at the root of the express app but answering only under their own
 * prefixes:
 *
 * `GET /smartos/v1/images/<name>[:<tag>|@<digest>]` — the SmartOS image manifests
 *   `imgadm import <host>/<name>:<tag>` would create, base layer first (translate.ts). The
 *   reference is written as in a docker pull argument, without the host: the tag follows the last
 *   `:` after the last `/` (default `latest`), a digest the last `@`; `:`, `@` and `/` may be
 *   percent-encoded. Query: `uuids=v2` (default; imgadm ≥ 3.8) or `uuids=v1` (imgadm 3.5–3.7.4,
 *   over the v1 API); `registry=<host[:port]>`, the host exactly as written in the import
 *   argument (default: `http.host`'s host, else X-Forwarded-Host, else Host). The v1 UUIDs hash
 *   that string, so it must match what users type.
 *
 * `/imgapi/…` — the IMGAPI subset `imgadm sources -a http://<host>/imgapi -t imgapi` uses (imgadm
 *   ≥ 3.0 keeps a source URL's path as a prefix; 2.x ignored it, but 2.x cannot install docker
 *   images at all): `GET /imgapi/ping`, `GET /imgapi/images` (filters `state`, `name`, `version`,
 *   `type`, `os`, `owner`, `public`, `tag.<key>`; `marker`/`limit` paging; `channel` and
 *   `Accept-Version` tolerated and ignored), `GET /imgapi/images/:uuid` and
 *   `GET /imgapi/images/:uuid/file` (200 with the layer blob, never a redirect, exact
 *   Content-Length, Content-MD5). Errors are IMGAPI-shaped `{"code","message"}`.
 *
 * The image list is derived on every request from the registry itself (catalog → tags →
 * manifests → config blobs), so every node serves the same list with no state of its own. Each
 * tag whose image translates (v2 UUIDs) contributes one IMGAPI image per layer; a UUID reached
 * from several tags or repositories is served once, preferring the tag whose top layer it is,
 * then the first repository and tag in byte order, and a top image carries `docker:tag:<t>` for
 * every tag of that repository that names the same chain. Images with a layer imgadm cannot
 * extract (zstd, foreign) or whose config imgadm would reject are left out. Results are memoised
 * by content address only (manifest digest, blob digest), which can never go stale; GetImage and
 * GetImageFile may reuse an index built in the last 10 s when it has the UUID asked for.
 *
 * Each layer's SHA-1, MD5 and size are computed once, streaming, and cached in storage next to the
 * registry's own layout (skipped in read-only mode):
 *
 *   /docker/registry/v2/
 *     smartos/blobs/<alg>/<hex[0:2]>/<hex>/file.json    {"digest","size","sha1","md5"} of blob <alg>:<hex>
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { AccessController, Principal } from '../auth/access.js';
import type { Config } from '../config/schema.js';
import { BridgeError, v1ChainFromImage, v1ChainFromSchema1 } from '../core/bridge/v1-chain.js';
import { parseDigest, tryParseDigest, type ParsedDigest } from '../core/digest.js';
import { MediaTypes } from '../core/manifests/media-types.js';
import { isLinuxAmd64, type ParsedManifest } from '../core/manifests/parse.js';
import { ROOT } from '../core/paths.js';
import { assertName, assertTag } from '../core/reference.js';
import type { Registry } from '../core/registry.js';
import { getOrUndefined } from '../core/storage-helpers.js';
import { RegistryError } from '../errors/registry-error.js';
import { toRegistryError } from '../errors/translate.js';
import { requestBase } from '../protocol/v2/urls.js';
import type {
  ImageSource,
  ImgapiFile,
  ImgapiImage,
  LayerDescriptor,
  SmartOsImageManifest,
  TranslatedLayer,
  Translation,
  TranslationResponse,
  UuidScheme,
  V1ImageInput,
} from './schema.js';
import { TranslationError, translate } from './translate.js';
import { sendStream } from '../server/send-stream.js';

export interface SmartOsDeps {
  readonly registry: Registry;
  readonly config: Config;
  readonly access: AccessController;
  readonly logger: Logger;
}

// ---- small utilities

/** imgadm's UUID_RE: lower-case only. */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** How long an IMGAPI index may be reused for GetImage/GetImageFile lookups that hit it. */
const INDEX_REUSE_MS = 10_000;
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** A Map that forgets its oldest entries beyond `max` (for content-addressed memos). */
class Memo<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    return this.entries.get(key);
  }
  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** JSON with `Content-Type: application/json` exactly (imgadm's ping compares it), never compressed. */
function sendJson(req: Request, res: Response, status: number, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', payload.length);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

function firstQuery(req: Request, key: string): string | undefined {
  const value: unknown = req.query[key];
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RegistryError('NAME_INVALID', { message: 'malformed percent-encoding in path' });
  }
}

// ---- loading an image the way imgadm receives it from Berth

interface LoadedImage {
  /** The manifest translated (the list's child when the tag names a list). */
  readonly digest: ParsedDigest;
  /** The list the tag names, if any. */
  readonly index?: ParsedDigest;
  readonly source: ImageSource;
  /** The stored manifest translated (for the v1 view). */
  readonly parsed: ParsedManifest;
  readonly notes: readonly string[];
}

/**
 * The v1 view Berth's v1 API serves for the image (core/bridge/v1-chain.ts), so that `?uuids=v1`
 * names the images imgadm 3.5–3.7 would actually get from this registry.
 */
function v1ChainOf(loaded: LoadedImage): V1ImageInput[] {
  try {
    const { parsed, source } = loaded;
    const chain =
      parsed.kind === 'schema1'
        ? v1ChainFromSchema1(parsed.json)
        : v1ChainFromImage(parsed.layers, source.kind === 'schema2' ? Buffer.from(source.config) : Buffer.alloc(0));
    return chain.map((v) => ({
      json: v.json,
      blob: { mediaType: v.mediaType ?? MediaTypes.dockerLayerGzip, digest: v.blobSum.digest, size: v.size ?? 0 },
    }));
  } catch (error) {
    if (error instanceof BridgeError) throw new TranslationError(`the image has no v1 view: ${error.message}`);
    throw error;
  }
}

type Reference = { readonly kind: 'tag'; readonly tag: string } | { readonly kind: 'digest'; readonly digest: ParsedDigest };

/** `name[:tag]` or `name@digest`, docker pull-argument style (without the host). */
export function parseImageReference(text: string): { readonly name: string; readonly ref: Reference } {
  const at = text.lastIndexOf('@');
  if (at !== -1) return { name: assertName(text.slice(0, at)), ref: { kind: 'digest', digest: parseDigest(text.slice(at + 1)) } };
  const colon = text.lastIndexOf(':');
  if (colon > text.lastIndexOf('/')) return { name: assertName(text.slice(0, colon)), ref: { kind: 'tag', tag: assertTag(text.slice(colon + 1)) } };
  return { name: assertName(text), ref: { kind: 'tag', tag: 'latest' } };
}

class SmartOsService {
  private readonly sources = new Memo<LoadedImage | TranslationError>(4096);
  private readonly translations = new Memo<Translation | TranslationError>(8192);
  private readonly files = new Memo<FileInfo>(65536);
  private readonly computing = new Map<string, Promise<FileInfo>>();
  private readonly recent = new Map<string, { readonly at: number; readonly index: Map<string, IndexEntry> }>();
  private hashSlots = 2;
  private readonly hashQueue: (() => void)[] = [];
  private version: string | undefined;

  constructor(readonly deps: SmartOsDeps) {}

  /** The host imgadm's import argument names: `?registry=`, else http.host, else the request's. */
  registryHost(req: Request): string {
    const override = firstQuery(req, 'registry');
    if (override !== undefined) {
      if (!HOST_RE.test(override)) throw new RegistryError('UNSUPPORTED', { status: 400, message: 'registry must be host[:port]' });
      return override;
    }
    const base = requestBase(req, {
      ...(this.deps.config.http.baseUrl !== undefined ? { baseUrl: this.deps.config.http.baseUrl } : {}),
      prefix: '',
      relative: false,
    });
    try {
      return new URL(base).host;
    } catch {
      return `${this.deps.config.http.host}:${this.deps.config.http.port}`;
    }
  }

  async serviceVersion(): Promise<string> {
    if (this.version === undefined) {
      try {
        const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
        this.version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
      } catch {
        this.version = 'unknown';
      }
    }
    return this.version;
  }

  /**
   * The image manifest imgadm gets for `digest` in `name`: a list is resolved to its first
   * linux/amd64 child, as Berth's content negotiation does for imgadm (which accepts no list type).
   */
  async load(name: string, digest: ParsedDigest): Promise<LoadedImage> {
    const memo = this.sources.get(digest.digest);
    if (memo instanceof TranslationError) throw memo;
    if (memo !== undefined) return memo;
    const { registry } = this.deps;
    const stored = await registry.manifests.get(name, digest);
    if (stored === undefined) throw new RegistryError('MANIFEST_UNKNOWN', { detail: { digest: digest.digest } });
    let parsed = stored.parsed;
    let chosen = digest;
    let index: ParsedDigest | undefined;
    const notes: string[] = [];
    try {
      if (parsed.kind === 'index') {
        const child = parsed.manifests.find(
          (m) => isLinuxAmd64(m) && (m.mediaType === MediaTypes.dockerSchema2 || m.mediaType === MediaTypes.ociManifest),
        );
        if (child === undefined) {
          throw new TranslationError('the tag names a manifest list without a linux/amd64 image: imgadm gets no manifest from Berth');
        }
        const childManifest = await registry.manifests.get(name, child.digest);
        if (childManifest === undefined) throw new RegistryError('MANIFEST_UNKNOWN', { detail: { digest: child.digest.digest } });
        index = digest;
        chosen = child.digest;
        parsed = childManifest.parsed;
        notes.push(`the tag names a manifest list; Berth serves imgadm its linux/amd64 image ${child.digest.digest}`);
        if (child.mediaType === MediaTypes.ociManifest) {
          notes.push('that image is an OCI manifest: imgadm 3.8–3.9.4 accept only Docker schema 2 here, and Berth then answers 404');
        }
      }
      const source = await this.sourceOf(parsed);
      const loaded: LoadedImage = { digest: chosen, ...(index !== undefined ? { index } : {}), source, parsed, notes };
      this.sources.set(digest.digest, loaded);
      return loaded;
    } catch (error) {
      if (error instanceof TranslationError) this.sources.set(digest.digest, error);
      throw error;
    }
  }

  private async sourceOf(parsed: ParsedManifest): Promise<ImageSource> {
    const { blobs } = this.deps.registry;
    if (parsed.kind === 'schema1') {
      const history = parsed.json['history'];
      const v1Compatibility = Array.isArray(history)
        ? history.map((h: unknown) => {
            const v = typeof h === 'object' && h !== null ? (h as Record<string, unknown>)['v1Compatibility'] : undefined;
            return typeof v === 'string' ? v : '';
          })
        : [];
      const fsLayers = await Promise.all(
        parsed.fsLayers.map(async (d): Promise<LayerDescriptor> => ({
          mediaType: MediaTypes.dockerLayerGzip,
          digest: d.digest,
          size: (await blobs.globalSize(d)) ?? 0,
        })),
      );
      // Berth stores a schema 1 manifest without its signatures and signs it on every GET
      // (core/bridge/schema1.ts), so imgadm always receives a signature it can verify.
      return { kind: 'schema1', fsLayers, v1Compatibility, signed: true };
    }
    if (parsed.kind !== 'image' || parsed.config === undefined) throw new TranslationError('not an image manifest');
    const config = await blobs.getSmall(parsed.config.digest);
    if (config === undefined) throw new RegistryError('BLOB_UNKNOWN', { message: 'the image config blob is missing', detail: { digest: parsed.config.digest.digest } });
    return {
      kind: 'schema2',
      manifestMediaType: parsed.mediaType,
      configMediaType: parsed.config.mediaType,
      config,
      layers: parsed.layers.map((l) => ({
        mediaType: l.mediaType,
        digest: l.digest.digest,
        size: l.size,
        ...(l.urls !== undefined ? { urls: l.urls } : {}),
      })),
    };
  }

  /** translate(), memoised by everything it depends on. */
  translateMemo(host: string, name: string, tag: string, loaded: LoadedImage): Translation {
    const key = `${host}\n${name}\n${tag}\n${loaded.digest.digest}`;
    const memo = this.translations.get(key);
    if (memo instanceof TranslationError) throw memo;
    if (memo !== undefined) return memo;
    try {
      const result = translate({ registry: host, repository: name, tag, image: loaded.source });
      this.translations.set(key, result);
      return result;
    } catch (error) {
      if (error instanceof TranslationError) this.translations.set(key, error);
      throw error;
    }
  }

  // ---- the IMGAPI image index

  /**
   * The index for GetImage/GetImageFile: an index built in the last few seconds for the same host
   * and principal is reused (an import asks for every layer's manifest and file in a row), and a
   * UUID missing from it triggers a fresh build, so a new push is seen at once.
   */
  async lookup(req: Request, principal: Principal, uuid: string): Promise<IndexEntry | undefined> {
    const key = `${this.registryHost(req)}\n${principal.subject}`;
    const recent = this.recent.get(key);
    if (recent !== undefined && Date.now() - recent.at < INDEX_REUSE_MS) {
      const hit = recent.index.get(uuid);
      if (hit !== undefined) return hit;
    }
    return (await this.index(req, principal)).get(uuid);
  }

  /** Every IMGAPI image the caller may see, by UUID (see the module comment for the rules). */
  async index(req: Request, principal: Principal): Promise<Map<string, IndexEntry>> {
    const index = await this.buildIndex(req, principal);
    const key = `${this.registryHost(req)}\n${principal.subject}`;
    this.recent.set(key, { at: Date.now(), index });
    if (this.recent.size > 64) this.recent.delete(this.recent.keys().next().value ?? key);
    return index;
  }

  private async buildIndex(req: Request, principal: Principal): Promise<Map<string, IndexEntry>> {
    const { registry, access, logger } = this.deps;
    const host = this.registryHost(req);
    const repos: string[] = [];
    for (const repo of await registry.catalog.all()) if (await access.canPull(principal, repo)) repos.push(repo);
    const perRepo = await mapLimit(repos, 4, async (repo) => {
      const tags = await registry.tags.list(repo);
      const found: { tag: string; translation: Translation }[] = [];
      for (const tag of tags) {
        const digest = await registry.tags.resolve(repo, tag);
        if (digest === undefined) continue;
        try {
          const loaded = await this.load(repo, digest);
          const translation = this.translateMemo(host, repo, tag, loaded);
          if (translation.layers.some((l) => l.compression === undefined || (l.blob.urls !== undefined && l.blob.urls.length > 0))) continue;
          found.push({ tag, translation });
        } catch (error) {
          if (!(error instanceof TranslationError || (error instanceof RegistryError && error.status === 404))) throw error;
          logger.debug({ repo, tag, reason: (error as Error).message }, 'imgapi: tag skipped');
        }
      }
      return { repo, found };
    });
    const chosen = new Map<string, { entry: IndexEntry; rank: readonly [number, string, string] }>();
    for (const { repo, found } of perRepo) {
      for (const { tag, translation } of found) {
        translation.layers.forEach((layer, i) => {
          const top = i === translation.layers.length - 1;
          const rank = [top ? 0 : 1, repo, tag] as const;
          const uuid = layer.manifest.uuid;
          const current = chosen.get(uuid);
          if (current !== undefined && compareRank(current.rank, rank) <= 0) {
            if (top && current.rank[0] === 0 && current.entry.repo === repo) current.entry.tags.push(tag);
            return;
          }
          chosen.set(uuid, { entry: { uuid, repo, layer, tags: top ? [tag] : [] }, rank });
        });
      }
    }
    return new Map([...chosen].map(([uuid, c]) => [uuid, c.entry]));
  }

  /** The IMGAPI form of an entry (manifest + state + files); undefined when its blob is gone. */
  async imgapiImage(entry: IndexEntry): Promise<ImgapiImage | undefined> {
    const info = await this.fileInfo(entry.layer.blob.digest).catch((error: unknown) => {
      if (error instanceof RegistryError && error.status === 404) return undefined;
      throw error;
    });
    if (info === undefined || entry.layer.compression === undefined) return undefined;
    return imgapiImageOf(withTags(entry.layer.manifest, entry.tags), { sha1: info.sha1, size: info.size, compression: entry.layer.compression });
  }

  // ---- per-blob file info (size, SHA-1, MD5), cached in storage

  async fileInfo(digestText: string): Promise<FileInfo> {
    const memo = this.files.get(digestText);
    if (memo !== undefined) return memo;
    const running = this.computing.get(digestText);
    if (running !== undefined) return running;
    const task = this.loadOrComputeFileInfo(digestText).finally(() => this.computing.delete(digestText));
    this.computing.set(digestText, task);
    const info = await task;
    this.files.set(digestText, info);
    return info;
  }

  private async loadOrComputeFileInfo(digestText: string): Promise<FileInfo> {
    const { registry, config } = this.deps;
    const digest = parseDigest(digestText);
    const path = fileInfoPath(digest);
    const stored = await getOrUndefined(registry.driver, path);
    const parsed = stored === undefined ? undefined : parseFileInfo(stored, digest.digest);
    if (parsed !== undefined) return parsed;
    const size = await registry.blobs.globalSize(digest);
    if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', { detail: { digest: digest.digest } });
    const info = await this.withHashSlot(() => this.hashBlob(digest));
    if (info.size !== size) throw new Error(`internal: blob ${digest.digest} read ${info.size} bytes, stat says ${size}`);
    if (!config.storage.readOnly) {
      await registry.driver.putContent(path, Buffer.from(JSON.stringify(info))).catch((error: unknown) => {
        this.deps.logger.warn({ err: error, digest: digest.digest }, 'imgapi: could not cache file info');
      });
    }
    return info;
  }

  private async hashBlob(digest: ParsedDigest): Promise<FileInfo> {
    const sha1 = createHash('sha1');
    const md5 = createHash('md5');
    let size = 0;
    const stream = await this.deps.registry.blobs.open(digest);
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      sha1.update(buf);
      md5.update(buf);
      size += buf.length;
    }
    return { digest: digest.digest, size, sha1: sha1.digest('hex'), md5: md5.digest('base64') };
  }

  private async withHashSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.hashSlots === 0) await new Promise<void>((resolve) => this.hashQueue.push(resolve));
    else this.hashSlots--;
    try {
      return await fn();
    } finally {
      const next = this.hashQueue.shift();
      if (next !== undefined) next();
      else this.hashSlots++;
    }
  }
}

interface IndexEntry {
  readonly uuid: string;
  readonly repo: string;
  readonly layer: TranslatedLayer;
  /** Tags of `repo` naming this chain when it is a top image (docker:tag:*), first one first. */
  readonly tags: string[];
}

interface FileInfo {
  readonly digest: string;
  readonly size: number;
  readonly sha1: string;
  /** base64, as Content-MD5 wants it. */
  readonly md5: string;
}

function compareRank(a: readonly [number, string, string], b: readonly [number, string, string]): number {
  for (let i = 0; i < 3; i++) {
    const x = a[i] as number | string;
    const y = b[i] as number | string;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

export function fileInfoPath(digest: ParsedDigest): string {
  return `${ROOT}/smartos/blobs/${digest.algorithm}/${digest.hex.slice(0, 2)}/${digest.hex}/file.json`;
}

function parseFileInfo(bytes: Buffer, digest: string): FileInfo | undefined {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    const { size, sha1, md5 } = v;
    if (v['digest'] !== digest || typeof size !== 'number' || typeof sha1 !== 'string' || !/^[0-9a-f]{40}$/.test(sha1) || typeof md5 !== 'string') {
      return undefined;
    }
    return { digest, size, sha1, md5 };
  } catch {
    return undefined;
  }
}

/** The manifest with the top image's docker:tag keys replaced by `tags` (kept in imgadm's key order). */
function withTags(manifest: SmartOsImageManifest, tags: readonly string[]): SmartOsImageManifest {
  const current = Object.keys(manifest.tags).filter((k) => k.startsWith('docker:tag:'));
  if (tags.length === current.length && tags.every((t, i) => current[i] === `docker:tag:${t}`)) return manifest;
  const out: Record<string, unknown> = {};
  let placed = false;
  const place = (): void => {
    for (const t of tags) out[`docker:tag:${t}`] = true;
    placed = true;
  };
  for (const [k, v] of Object.entries(manifest.tags)) {
    if (k.startsWith('docker:tag:')) continue;
    if (k === 'docker:config' && !placed) place();
    out[k] = v;
  }
  if (!placed) place();
  return { ...manifest, tags: out as unknown as SmartOsImageManifest['tags'] };
}

/** IMGAPI's serialisation order: v, uuid, owner, name, version, state, disabled, public, published_at, type, os, files, … */
function imgapiImageOf(m: SmartOsImageManifest, file: ImgapiFile): ImgapiImage {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === 'disabled') out['state'] = 'active';
    if (k === 'description') out['files'] = [file];
    out[k] = v;
  }
  return out as unknown as ImgapiImage;
}

// ---- /smartos

function translationRouter(service: SmartOsService): Router {
  const router = Router();
  router.use(async (req: Request, res: Response) => {
    const m = /^\/v1\/images\/(.+)$/.exec(req.path);
    if (m === null || (req.method !== 'GET' && req.method !== 'HEAD')) {
      throw new RegistryError('UNSUPPORTED', { status: 404, message: 'not found', detail: { path: req.originalUrl.slice(0, 200) } });
    }
    const text = (m[1] ?? '').split('/').map(decodeSegment).join('/');
    const { name, ref } = parseImageReference(text);
    const schemeText = firstQuery(req, 'uuids') ?? 'v2';
    if (schemeText !== 'v1' && schemeText !== 'v2') {
      throw new RegistryError('UNSUPPORTED', { status: 400, message: 'uuids must be v2 (imgadm ≥ 3.8) or v1 (imgadm 3.5–3.7)' });
    }
    const scheme: UuidScheme = schemeText;
    const { registry, access, config } = service.deps;
    await access.authorize(req, [{ type: 'repository', name, actions: ['pull'] }]);
    const host = service.registryHost(req);
    const digest = ref.kind === 'digest' ? ref.digest : await registry.tags.resolve(name, ref.tag);
    if (digest === undefined || !(await registry.manifests.has(name, digest))) {
      throw new RegistryError('MANIFEST_UNKNOWN', { detail: { name, reference: ref.kind === 'tag' ? ref.tag : ref.digest.digest } });
    }
    const tag = ref.kind === 'tag' ? ref.tag : undefined;
    let result: Translation;
    let loaded: LoadedImage;
    try {
      loaded = await service.load(name, digest);
      if (scheme === 'v2' && tag !== undefined) result = service.translateMemo(host, name, tag, loaded);
      else {
        const v1Tags = scheme === 'v1' && tag !== undefined ? await sameImageTags(registry, name, digest, tag) : undefined;
        result = translate({
          registry: host,
          repository: name,
          ...(tag !== undefined ? { tag } : {}),
          digest: loaded.digest.digest,
          image: loaded.source,
          scheme,
          ...(v1Tags !== undefined ? { v1Tags } : {}),
          ...(scheme === 'v1' ? { v1Chain: v1ChainOf(loaded) } : {}),
        });
      }
    } catch (error) {
      if (error instanceof TranslationError) {
        throw new RegistryError('MANIFEST_INVALID', { status: 422, message: `imgadm cannot import this image: ${error.message}` });
      }
      throw error;
    }
    const warnings = [...loaded.notes, ...result.warnings];
    if (config.http.prefix !== '') {
      warnings.push(`Berth is served under the path prefix ${config.http.prefix}: imgadm only talks to /v2/ at the root of a host`);
    }
    if (scheme === 'v1' && !config.berth.v1Enabled) warnings.push('the v1 API is disabled (berth.v1.enabled), so imgadm 3.5–3.7 cannot pull from Berth');
    const body: TranslationResponse & { readonly index?: string } = {
      ref: result.ref,
      repo: result.repo,
      ...(result.tag !== undefined ? { tag: result.tag } : {}),
      digest: loaded.digest.digest,
      ...(loaded.index !== undefined ? { index: loaded.index.digest } : {}),
      uuids: scheme,
      uuid: result.uuid,
      images: result.layers.map((l) => l.manifest),
      warnings,
    };
    sendJson(req, res, 200, body);
  });
  return router;
}

/** v1 era: every tag of the repository pointing at the same stored manifest, sorted. */
async function sameImageTags(registry: Registry, name: string, digest: ParsedDigest, tag: string): Promise<string[]> {
  const tags = await registry.tags.tagsOf(name, digest);
  return tags.includes(tag) ? tags : [tag, ...tags];
}

// ---- /imgapi

const IMGAPI_CODES: Readonly<Record<number, string>> = {
  400: 'InvalidParameter',
  401: 'UnauthorizedError',
  403: 'NotAuthorized',
  404: 'ResourceNotFound',
  405: 'BadMethod',
  413: 'PayloadTooLarge',
  503: 'ServiceUnavailable',
};

function imgapiNotFound(uuid: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', { message: `image "${uuid}" was not found` });
}

const LIST_FILTERS = ['name', 'version', 'type', 'os', 'owner'] as const;

function imgapiRouter(service: SmartOsService): Router {
  const router = Router();
  const { access, registry } = service.deps;

  router.get('/ping', async (req: Request, res: Response) => {
    sendJson(req, res, 200, { ping: 'pong', version: await service.serviceVersion(), imgapi: true, service: 'berth' });
  });

  router.get('/images', async (req: Request, res: Response) => {
    const principal = await access.authorize(req, []);
    const index = await service.index(req, principal);
    const state = firstQuery(req, 'state') ?? 'active';
    const publicFilter = firstQuery(req, 'public');
    const limitText = firstQuery(req, 'limit');
    const limit = limitText === undefined ? 1000 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RegistryError('UNSUPPORTED', { status: 400, message: 'limit must be 1..1000' });
    const tagFilters = Object.keys(req.query)
      .filter((k) => k.startsWith('tag.'))
      .map((k) => [k.slice(4), firstQuery(req, k)] as const);
    let entries = [...index.values()].filter((e) => {
      const m = e.layer.manifest as unknown as Record<string, unknown>;
      if (state !== 'active' && state !== 'all') return false;
      for (const key of LIST_FILTERS) {
        const want = firstQuery(req, key);
        if (want !== undefined && m[key] !== want) return false;
      }
      if (publicFilter !== undefined && String(e.layer.manifest.public) !== publicFilter) return false;
      const tags = withTags(e.layer.manifest, e.tags).tags as unknown as Record<string, unknown>;
      return tagFilters.every(([k, v]) => v === undefined || (typeof tags[k] === 'boolean' ? String(tags[k]) === v : tags[k] === v));
    });
    entries.sort((a, b) => {
      const x = a.layer.manifest.published_at;
      const y = b.layer.manifest.published_at;
      return x < y ? -1 : x > y ? 1 : a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0;
    });
    const marker = firstQuery(req, 'marker');
    if (marker !== undefined) {
      const at = entries.findIndex((e) => e.uuid === marker);
      entries = at === -1 ? [] : entries.slice(at);
    }
    const images: ImgapiImage[] = [];
    for (const entry of entries) {
      if (images.length >= limit) break;
      const image = await service.imgapiImage(entry);
      if (image !== undefined) images.push(image);
    }
    sendJson(req, res, 200, images);
  });

  const findEntry = async (req: Request): Promise<IndexEntry> => {
    const uuid = String(req.params['uuid'] ?? '');
    if (!UUID_RE.test(uuid)) throw imgapiNotFound(uuid.slice(0, 64));
    const principal = await access.authorize(req, []);
    const entry = await service.lookup(req, principal, uuid);
    if (entry === undefined) throw imgapiNotFound(uuid);
    await access.authorize(req, [{ type: 'repository', name: entry.repo, actions: ['pull'] }]);
    return entry;
  };

  router.get('/images/:uuid', async (req: Request, res: Response) => {
    const entry = await findEntry(req);
    const image = await service.imgapiImage(entry);
    if (image === undefined) throw imgapiNotFound(entry.uuid);
    sendJson(req, res, 200, image);
  });

  router.get('/images/:uuid/file', async (req: Request, res: Response) => {
    const index = firstQuery(req, 'index');
    if (index !== undefined && index !== '0') throw new RegistryError('MANIFEST_UNKNOWN', { message: `image file ${index.slice(0, 10)} not found` });
    const entry = await findEntry(req);
    const digest = tryParseDigest(entry.layer.blob.digest);
    if (digest === undefined) throw imgapiNotFound(entry.uuid);
    const info = await service.fileInfo(digest.digest).catch((error: unknown) => {
      if (error instanceof RegistryError && error.status === 404) throw imgapiNotFound(entry.uuid);
      throw error;
    });
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', info.size);
    res.setHeader('Content-MD5', info.md5);
    res.setHeader('ETag', info.sha1);
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    if (req.method === 'HEAD' || info.size === 0) {
      res.end();
      return;
    }
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('client disconnected'));
    });
    const stream = await registry.blobs.open(digest, { signal: controller.signal });
    res.flushHeaders();
    await sendStream(stream, res);
  });

  router.use((req: Request) => {
    throw new RegistryError('UNSUPPORTED', { status: 404, message: `${req.method} ${req.path.slice(0, 100)} does not exist` });
  });

  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const err = toRegistryError(error);
    const { logger } = service.deps;
    if (err.status >= 500) logger.error({ method: req.method, url: req.originalUrl, err: err.cause ?? err }, 'imgapi request failed');
    else logger.debug({ method: req.method, url: req.originalUrl, msg: err.message }, 'imgapi request rejected');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    const code = IMGAPI_CODES[err.status] ?? (err.status >= 500 ? 'InternalError' : 'InvalidParameter');
    sendJson(req, res, err.status, { code, message: err.status >= 500 && err.code === 'UNKNOWN' ? 'internal error' : err.message });
  });
  return router;
}

export function createSmartOsRouter(deps: SmartOsDeps): Router {
  const service = new SmartOsService(deps);
  const router = Router();
  router.use('/smartos', translationRouter(service));
  router.use('/imgapi', imgapiRouter(service));
  return router;
}
