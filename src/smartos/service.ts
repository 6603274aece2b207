/**
 * What the SmartOS endpoints know about the registry's images, shared by the translation route and
 * the IMGAPI routes: loading an image the way imgadm receives it from Berth (a list resolved to its
 * linux/amd64 child), translate() memoised by everything it depends on, and the IMGAPI image index.
 *
 * The index is derived on every request from the registry itself (catalog → tags → manifests →
 * config blobs), so every node serves the same list with no state of its own. Each tag whose image
 * translates (v2 UUIDs) contributes one IMGAPI image per layer; a UUID reached from several tags or
 * repositories is served once, preferring the tag whose top layer it is, then the first repository
 * and tag in byte order, and a top image carries `docker:tag:<t>` for every tag of that repository
 * that names the same chain. Images with a layer imgadm cannot extract (zstd, foreign) or whose
 * config imgadm would reject are left out. Results are memoised by content address only (manifest
 * digest, blob digest), which can never go stale; GetImage and GetImageFile may reuse an index
 * built in the last 10 s when it has the UUID asked for.
 */
import { readFile } from 'node:fs/promises';
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { AccessController, Principal } from '../auth/access.js';
import type { Config } from '../config/schema.js';
import { BridgeError, v1ChainFromImage, v1ChainFromSchema1 } from '../core/bridge/v1-chain.js';
import { parseDigest, type ParsedDigest } from '../core/digest.js';
import { MediaTypes } from '../core/manifests/media-types.js';
import { isLinuxAmd64, type ParsedManifest } from '../core/manifests/parse.js';
import { assertName, assertTag } from '../core/reference.js';
import type { Registry } from '../core/registry.js';
import { RegistryError } from '../errors/registry-error.js';
import { requestBase } from '../http/request-base.js';
import { FileInfoCache } from './file-info-cache.js';
import { firstQuery } from './http.js';
import { Memo, mapLimit } from './memo.js';
import type {
  ImageSource,
  ImgapiFile,
  ImgapiImage,
  LayerDescriptor,
  SmartOsImageManifest,
  TranslatedLayer,
  Translation,
  V1ImageInput,
} from './schema.js';
import { TranslationError, translate } from './translate.js';

export interface SmartOsDeps {
  readonly registry: Registry;
  readonly config: Config;
  readonly access: AccessController;
  readonly logger: Logger;
}

/** How long an IMGAPI index may be reused for GetImage/GetImageFile lookups that hit it. */
const INDEX_REUSE_MS = 10_000;
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

// ---- loading an image the way imgadm receives it from Berth

export interface LoadedImage {
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
export function v1ChainOf(loaded: LoadedImage): V1ImageInput[] {
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

export type Reference = { readonly kind: 'tag'; readonly tag: string } | { readonly kind: 'digest'; readonly digest: ParsedDigest };

/** `name[:tag]` or `name@digest`, docker pull-argument style (without the host). */
export function parseImageReference(text: string): { readonly name: string; readonly ref: Reference } {
  const at = text.lastIndexOf('@');
  if (at !== -1) return { name: assertName(text.slice(0, at)), ref: { kind: 'digest', digest: parseDigest(text.slice(at + 1)) } };
  const colon = text.lastIndexOf(':');
  if (colon > text.lastIndexOf('/')) return { name: assertName(text.slice(0, colon)), ref: { kind: 'tag', tag: assertTag(text.slice(colon + 1)) } };
  return { name: assertName(text), ref: { kind: 'tag', tag: 'latest' } };
}

export class SmartOsService {
  private readonly sources = new Memo<LoadedImage | TranslationError>(4096);
  private readonly translations = new Memo<Translation | TranslationError>(8192);
  private readonly recent = new Map<string, { readonly at: number; readonly index: Map<string, IndexEntry> }>();
  private version: string | undefined;

  readonly files: FileInfoCache;

  constructor(readonly deps: SmartOsDeps) {
    this.files = new FileInfoCache({ registry: deps.registry, logger: deps.logger, readOnly: deps.config.storage.readOnly });
  }

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
    const info = await this.files.get(entry.layer.blob.digest).catch((error: unknown) => {
      if (error instanceof RegistryError && error.status === 404) return undefined;
      throw error;
    });
    if (info === undefined || entry.layer.compression === undefined) return undefined;
    return imgapiImageOf(withTags(entry.layer.manifest, entry.tags), { sha1: info.sha1, size: info.size, compression: entry.layer.compression });
  }
}

export interface IndexEntry {
  readonly uuid: string;
  readonly repo: string;
  readonly layer: TranslatedLayer;
  /** Tags of `repo` naming this chain when it is a top image (docker:tag:*), first one first. */
  readonly tags: string[];
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


/** The manifest with the top image's docker:tag keys replaced by `tags` (kept in imgadm's key order). */
export function withTags(manifest: SmartOsImageManifest, tags: readonly string[]): SmartOsImageManifest {
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
