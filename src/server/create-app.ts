/**
 * Assembles Berth's request handler from injected dependencies: request-target normalisation
 * (absolute-form URLs, as Joyent's docker-registry-client sends), access log, configured response
 * headers, then the protocol front ends (v2 through its own dispatcher for speed and for
 * multi-segment names; everything else through express), and the one error writer. No I/O at
 * import time; nothing global.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { anonymousAccess, type AccessController } from '../auth/access.js';
import { createAudit, type Audit } from '../auth/audit.js';
import { createClientAddress } from '../auth/client-address.js';
import type { Config } from '../config/schema.js';
import { createRegistry, type Registry } from '../core/registry.js';
import { UploadTokens } from '../core/upload-token.js';
import { RegistryError } from '../errors/registry-error.js';
import { createV1Router } from '../protocol/v1/router.js';
import { createV2Handler } from '../protocol/v2/router.js';
import { createSmartOsRouter } from '../smartos/routes.js';
import { createAccessLog } from './access-log.js';
import { sendError } from '../http/error-response.js';
import { createHealthRouter } from './health.js';

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly driver: StorageDriver;
  readonly access?: AccessController;
  /** Berth's token server (auth/token-server.ts), mounted on the express side when given. */
  readonly tokenRouter?: express.Router;
  /** Where audit lines go (default: the logger, client addresses without trusted proxies). */
  readonly audit?: Audit;
  readonly now?: () => Date;
}

export interface App {
  readonly handle: RequestListener;
  readonly registry: Registry;
  readonly express: express.Express;
}

/** Rewrites an absolute-form request target (`GET http://host/v2/...`) to origin form. */
function normaliseTarget(req: IncomingMessage): string {
  const url = req.url ?? '/';
  if (url.startsWith('/')) return url;
  try {
    const parsed = new URL(url);
    req.url = parsed.pathname + parsed.search;
  } catch {
    req.url = '/';
  }
  return req.url;
}

export function createApp(deps: AppDeps): App {
  const { config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const registry = createRegistry(deps.driver, {
    maxBlobBytes: config.berth.maxBlobBytes,
    manifestCacheBytes: config.berth.manifestCacheBytes,
    linkTtlMs: config.berth.linkTtlMs,
    now,
  });
  const access = deps.access ?? anonymousAccess;
  const audit = deps.audit ?? createAudit(logger, createClientAddress([]));
  const v2 = createV2Handler({ registry, config, access, tokens: new UploadTokens(config.http.secret), logger, audit });
  const accessLog = createAccessLog(logger, config.log.accessLog);
  const prefix = config.http.prefix;
  const extraHeaders = Object.entries(config.http.headers);

  const web = express();
  web.disable('x-powered-by');
  web.set('etag', false);
  web.use(createHealthRouter(registry));
  if (deps.tokenRouter !== undefined) web.use(deps.tokenRouter);
  if (config.berth.v1Enabled) {
    const v1 = createV1Router({ registry, config, access, logger, audit });
    web.use('/v1', v1);
    // The Python registry also answered its ping at the root; some v1 clients probe it there.
    web.get('/_ping', (req: Request, res: Response, next: NextFunction) => {
      req.url = '/_ping';
      v1(req, res, next);
    });
  }
  web.use(createSmartOsRouter({ registry, config, access, logger }));
  web.use((req: Request) => {
    throw new RegistryError('UNSUPPORTED', { status: 404, message: 'not found', detail: { path: req.path.slice(0, 200) } });
  });
  web.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    sendError(req, res, error, logger, 'plain');
  });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = normaliseTarget(req);
    accessLog(req, res);
    for (const [k, v] of extraHeaders) res.setHeader(k, [...v]);
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    if (prefix !== '') {
      if (path !== prefix && !path.startsWith(`${prefix}/`)) {
        sendError(req, res, new RegistryError('UNSUPPORTED', { status: 404, message: 'not found' }), logger, 'plain');
        return;
      }
      path = path.slice(prefix.length);
    }
    if (path === '/v2' || path.startsWith('/v2/')) {
      const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
      v2(req, res, path.slice(3), query).catch((error: unknown) => sendError(req, res, error, logger, 'v2'));
      return;
    }
    if (prefix !== '') req.url = url.slice(prefix.length) || '/';
    web(req, res);
  };
  return { handle, registry, express: web };
}
