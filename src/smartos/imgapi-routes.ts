/**
 * `/imgapi/…` — the IMGAPI subset `imgadm sources -a http://<host>/imgapi -t imgapi` uses (imgadm
 * ≥ 3.0 keeps a source URL's path as a prefix; 2.x ignored it, but 2.x cannot install docker
 * images at all): `GET /imgapi/ping`, `GET /imgapi/images` (filters `state`, `name`, `version`,
 * `type`, `os`, `owner`, `public`, `tag.<key>`; `marker`/`limit` paging; `channel` and
 * `Accept-Version` tolerated and ignored), `GET /imgapi/images/:uuid` and
 * `GET /imgapi/images/:uuid/file` (200 with the layer blob, never a redirect, exact
 * Content-Length, Content-MD5). Errors are IMGAPI-shaped `{"code","message"}`. The images listed
 * are those of repositories the caller may pull.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { tryParseDigest } from '../core/digest.js';
import { RegistryError } from '../errors/registry-error.js';
import { toRegistryError } from '../errors/translate.js';
import { sendStream } from '../http/send-stream.js';
import { firstQuery, sendJson } from './http.js';
import type { ImgapiImage } from './schema.js';
import { withTags, type IndexEntry, type SmartOsService } from './service.js';

/** imgadm's UUID_RE: lower-case only. */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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

export function imgapiRouter(service: SmartOsService): Router {
  const router = Router();
  const { access, registry } = service.deps;

  router.get('/ping', async (req: Request, res: Response) => {
    sendJson(req, res, 200, { ping: 'pong', version: await service.serviceVersion(), imgapi: true, service: 'berth' });
  });

  router.get('/images', async (req: Request, res: Response) => {
    const principal = await access.identify(req);
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
    const principal = await access.identify(req);
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
    const info = await service.files.get(digest.digest).catch((error: unknown) => {
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
    await sendStream(stream, res, registry.onBufferBytes);
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
