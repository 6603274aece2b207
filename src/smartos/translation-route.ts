/**
 * `GET /smartos/v1/images/<name>[:<tag>|@<digest>]`: the SmartOS image manifests
 * `imgadm import <host>/<name>:<tag>` would create, base layer first (translate.ts). The reference
 * is written as in a docker pull argument, without the host: the tag follows the last `:` after
 * the last `/` (default `latest`), a digest the last `@`; `:`, `@` and `/` may be percent-encoded.
 * Query: `uuids=v2` (default; imgadm ≥ 3.8) or `uuids=v1` (imgadm 3.5–3.7.4, over the v1 API);
 * `registry=<host[:port]>`, the host exactly as written in the import argument (default:
 * `http.host`'s host, else X-Forwarded-Host, else Host). The v1 UUIDs hash that string, so it must
 * match what users type. Pull access on the repository is required.
 */
import { Router, type Request, type Response } from 'express';
import type { ParsedDigest } from '../core/digest.js';
import type { Registry } from '../core/registry.js';
import { RegistryError } from '../errors/registry-error.js';
import { decodeSegment, firstQuery, sendJson } from './http.js';
import type { Translation, TranslationResponse, UuidScheme } from './schema.js';
import { parseImageReference, v1ChainOf, type LoadedImage, type SmartOsService } from './service.js';
import { TranslationError, translate } from './translate.js';

export function translationRouter(service: SmartOsService): Router {
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
