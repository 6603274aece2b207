/**
 * The legacy v1 registry API (registry and standalone-index roles, as docker-registry 0.9 served
 * them), mounted under `/v1` when `berth.v1.enabled`. Like the v2 dispatcher it matches paths
 * itself (repository names contain slashes), validates every name, tag and image ID before any
 * storage access, sets `X-Docker-Registry-Version` / `X-Docker-Registry-Standalone: true` on every
 * response, and writes every error in v1's own `{"error": "<message>"}` shape (so errors never
 * reach the app's generic handler). v2 never imports this module.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type Request, type Response } from 'express';
import { assertV1Id } from '../../core/v1/names.js';
import { V1Store } from '../../core/v1/store.js';
import { RegistryError } from '../../errors/registry-error.js';
import { sendError } from '../../http/error-response.js';
import type { V1Context, V1Deps } from './context.js';
import { setCommonHeaders } from './http.js';
import { checkLogin, createUser, ping, search, updateUser } from './index-role.js';
import { getImageAncestry, getImageJson, getImageLayer, putImageChecksum, putImageJson, putImageLayer } from './images.js';
import {
  deleteRepository,
  deleteRepositoryImages,
  deleteTag,
  getRepositoryImages,
  getRepositoryJson,
  getTag,
  getTagJson,
  getTags,
  putRepository,
  putRepositoryAuth,
  putRepositoryImages,
  putTag,
} from './repositories.js';

export type { V1Deps } from './context.js';

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
type Handler = (ctx: V1Context) => Promise<void>;
type Methods = Partial<Record<Method, Handler>>;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RegistryError('V1_INVALID', { message: 'malformed percent-encoding in path' });
  }
}

function readOnly(get: Handler): Methods {
  return { GET: get, HEAD: get };
}

interface Route {
  readonly pattern: RegExp;
  readonly methods: (m: RegExpExecArray) => Methods;
}

/** Most specific first: a repository name may itself end in `tags` or `images`. */
const ROUTES: readonly Route[] = [
  { pattern: /^\/_ping\/?$/, methods: () => readOnly(ping) },
  { pattern: /^\/users\/?$/, methods: () => ({ ...readOnly(checkLogin), POST: createUser }) },
  { pattern: /^\/users\/[^/]+\/?$/, methods: () => ({ PUT: updateUser }) },
  { pattern: /^\/search\/?$/, methods: () => readOnly(search) },
  {
    pattern: /^\/images\/([^/]+)\/(json|layer|ancestry|checksum)$/,
    methods: (m) => {
      const id = assertV1Id(decode(m[1] ?? ''));
      switch (m[2]) {
        case 'json':
          return { ...readOnly((c) => getImageJson(c, id)), PUT: (c) => putImageJson(c, id) };
        case 'layer':
          return { ...readOnly((c) => getImageLayer(c, id)), PUT: (c) => putImageLayer(c, id) };
        case 'ancestry':
          return readOnly((c) => getImageAncestry(c, id));
        default:
          return { PUT: (c) => putImageChecksum(c, id) };
      }
    },
  },
  {
    pattern: /^\/repositories\/(.+)\/tags\/([^/]+)\/json$/,
    methods: (m) => {
      const [name, tag] = [decode(m[1] ?? ''), decode(m[2] ?? '')];
      return readOnly((c) => getTagJson(c, name, tag));
    },
  },
  {
    pattern: /^\/repositories\/(.+)\/tags\/([^/]+)$/,
    methods: (m) => {
      const [name, tag] = [decode(m[1] ?? ''), decode(m[2] ?? '')];
      return { ...readOnly((c) => getTag(c, name, tag)), PUT: (c) => putTag(c, name, tag), DELETE: (c) => deleteTag(c, name, tag) };
    },
  },
  {
    pattern: /^\/repositories\/(.+)\/tags\/?$/,
    methods: (m) => {
      const name = decode(m[1] ?? '');
      return { ...readOnly((c) => getTags(c, name)), DELETE: (c) => deleteRepository(c, name) };
    },
  },
  {
    pattern: /^\/repositories\/(.+)\/images\/?$/,
    methods: (m) => {
      const name = decode(m[1] ?? '');
      return {
        ...readOnly((c) => getRepositoryImages(c, name)),
        PUT: (c) => putRepositoryImages(c, name),
        DELETE: (c) => deleteRepositoryImages(c, name),
      };
    },
  },
  {
    pattern: /^\/repositories\/(.+)\/json$/,
    methods: (m) => {
      const name = decode(m[1] ?? '');
      return readOnly((c) => getRepositoryJson(c, name));
    },
  },
  {
    pattern: /^\/repositories\/(.+)\/auth$/,
    methods: (m) => {
      const name = decode(m[1] ?? '');
      return { PUT: (c) => putRepositoryAuth(c, name) };
    },
  },
  {
    pattern: /^\/repositories\/(.+?)\/?$/,
    methods: (m) => {
      const name = decode(m[1] ?? '');
      return { PUT: (c) => putRepository(c, name), DELETE: (c) => deleteRepository(c, name) };
    },
  },
];

function match(path: string): Methods | undefined {
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (m !== null) return route.methods(m);
  }
  return undefined;
}

function signalFor(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}

export function createV1Router(deps: V1Deps, now: () => Date = () => new Date()): Router {
  const store = new V1Store(deps.registry, {
    maxLayerBytes: deps.config.berth.maxBlobBytes,
    now,
    recordBridge: !deps.config.storage.readOnly,
  });
  const handle = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> => {
    const methods = match(path);
    if (methods === undefined) throw new RegistryError('UNSUPPORTED', { status: 404, message: 'Not found', detail: { path: path.slice(0, 200) } });
    const method = (req.method ?? 'GET') as Method;
    const handler = methods[method];
    if (handler === undefined) {
      res.setHeader('Allow', Object.keys(methods).join(', '));
      throw new RegistryError('UNSUPPORTED', { message: `${req.method ?? ''} not allowed here` });
    }
    await handler({ req, res, deps, store, query, signal: signalFor(res), now });
  };
  const router = Router();
  router.use((req: Request, res: Response) => {
    setCommonHeaders(res);
    const url = req.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    handle(req, res, path, query).catch((error: unknown) => sendError(req, res, error, deps.logger, 'v1'));
  });
  return router;
}
