/**
 * The v2 dispatcher. Express path strings cannot express multi-segment repository names, so the
 * path after `/v2` is matched here against the route shapes, every name, digest and upload id is
 * validated before any storage access, the required access is checked with the one access
 * controller, and the request goes to the handler for its method. Unknown routes and methods get
 * JSON errors (never an HTML page).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access, Principal } from '../../auth/access.js';
import { assertName } from '../../core/reference.js';
import { RegistryError } from '../../errors/registry-error.js';
import { deleteBlob, headOrGetBlob } from './blobs.js';
import type { RepoContext, V2Context, V2Deps } from './context.js';
import { sendJson } from './headers.js';
import { catalog, listReferrers, listTags } from './listings.js';
import { deleteManifest, headOrGetManifest, putManifest } from './manifests.js';
import { cancelUpload, patchUpload, putUpload, startUpload, uploadStatus } from './uploads.js';
import { UrlBuilder } from './urls.js';

const ROUTE = /^\/(.+)\/(tags\/list|manifests\/([^/]+)|blobs\/uploads\/?([^/]*)|blobs\/([^/]+)|referrers\/([^/]+))$/;

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
type RepoHandler = (ctx: RepoContext) => Promise<void>;

interface Matched {
  readonly name: string;
  readonly methods: Partial<Record<Method, RepoHandler>>;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RegistryError('NAME_INVALID', { message: 'malformed percent-encoding in path' });
  }
}

function match(path: string): Matched | undefined {
  const m = ROUTE.exec(path);
  if (m === null) return undefined;
  const name = decode(m[1] ?? '');
  const [, , kind = '', manifestRef, uploadId, blobDigest, referrerDigest] = m;
  if (kind === 'tags/list') return { name, methods: { GET: listTags, HEAD: listTags } };
  if (manifestRef !== undefined) {
    const ref = decode(manifestRef);
    const get: RepoHandler = (c) => headOrGetManifest(c, ref);
    return { name, methods: { GET: get, HEAD: get, PUT: (c) => putManifest(c, ref), DELETE: (c) => deleteManifest(c, ref) } };
  }
  if (uploadId !== undefined) {
    if (uploadId === '') return { name, methods: { POST: startUpload } };
    const id = decode(uploadId);
    return {
      name,
      methods: {
        GET: (c) => uploadStatus(c, id),
        HEAD: (c) => uploadStatus(c, id),
        PATCH: (c) => patchUpload(c, id),
        PUT: (c) => putUpload(c, id),
        DELETE: (c) => cancelUpload(c, id),
      },
    };
  }
  if (blobDigest !== undefined) {
    const d = decode(blobDigest);
    const get: RepoHandler = (c) => headOrGetBlob(c, d);
    return { name, methods: { GET: get, HEAD: get, DELETE: (c) => deleteBlob(c, d) } };
  }
  if (referrerDigest !== undefined) {
    const d = decode(referrerDigest);
    return { name, methods: { GET: (c) => listReferrers(c, d) } };
  }
  return undefined;
}

function requiredAccess(name: string, method: string): Access[] {
  if (method === 'GET' || method === 'HEAD') return [{ type: 'repository', name, actions: ['pull'] }];
  if (method === 'DELETE') return [{ type: 'repository', name, actions: ['delete'] }];
  // A mount also needs pull on `from`; the handler checks that with canPull and falls back to a
  // plain upload session, so a mount never reveals a repository the caller cannot read.
  return [{ type: 'repository', name, actions: ['pull', 'push'] }];
}

/** An AbortSignal that fires when the client goes away; created on first use (hot paths skip it). */
function lazySignal(res: ServerResponse): () => AbortSignal {
  let signal: AbortSignal | undefined;
  return () => {
    if (signal === undefined) {
      const controller = new AbortController();
      signal = controller.signal;
      if (res.destroyed) controller.abort(new Error('client disconnected'));
      else
        res.once('close', () => {
          if (!res.writableFinished) controller.abort(new Error('client disconnected'));
        });
    }
    return signal;
  };
}

export function createV2Handler(deps: V2Deps) {
  const urlOptions = {
    ...(deps.config.http.baseUrl !== undefined ? { baseUrl: deps.config.http.baseUrl } : {}),
    prefix: deps.config.http.prefix,
    relative: deps.config.http.relativeUrls,
  };
  /** `path` is the request path after `/v2`, still percent-encoded. */
  return async function handleV2(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const method = req.method ?? 'GET';
    const signal = lazySignal(res);
    // Built without object spread: spreading would evaluate the lazy `signal` getter.
    const context = (principal: Principal, name: string): RepoContext => ({
      req,
      res,
      deps,
      query,
      urls: new UrlBuilder(req, urlOptions),
      principal,
      name,
      get signal(): AbortSignal {
        return signal();
      },
    });
    if (path === '' || path === '/') {
      if (method !== 'GET' && method !== 'HEAD') throw new RegistryError('UNSUPPORTED', { message: `${method} not allowed on /v2/` });
      await deps.access.authorize(req, []);
      sendJson(req, res, 200, {});
      return;
    }
    if (path === '/_catalog') {
      if (method !== 'GET') throw new RegistryError('UNSUPPORTED', { message: `${method} not allowed on /v2/_catalog` });
      const principal = await deps.access.authorize(req, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
      const ctx: V2Context = context(principal, '');
      await catalog(ctx);
      return;
    }
    const matched = match(path);
    if (matched === undefined) {
      throw new RegistryError('UNSUPPORTED', { status: 404, message: 'unknown API endpoint', detail: { path: path.slice(0, 200) } });
    }
    const name = assertName(matched.name);
    const handler = matched.methods[method as Method];
    if (handler === undefined) {
      res.setHeader('Allow', Object.keys(matched.methods).join(', '));
      throw new RegistryError('UNSUPPORTED', { message: `${method} not allowed here` });
    }
    const principal = await deps.access.authorize(req, requiredAccess(name, method));
    if ((method === 'POST' || method === 'PUT' || method === 'PATCH') && deps.proxy?.handles(name) === true) {
      // As distribution: a pull-through cache takes no pushes (deletes only evict the local copy).
      throw new RegistryError('UNSUPPORTED', { message: 'pushing to a pull-through cache repository is not supported', detail: { name } });
    }
    await handler(context(principal, name));
  };
}

export type V2Handler = ReturnType<typeof createV2Handler>;
