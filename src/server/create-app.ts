/**
 * Assembles Berth's request handler from injected dependencies: request-target normalisation
 * (absolute-form URLs, as Joyent's docker-registry-client sends), access log, configured response
 * headers, then the protocol front ends (v2 through its own dispatcher for speed and for
 * multi-segment names; everything else through express), and the one error writer. No I/O at
 * import time; nothing global.
 *
 * Operations (src/ops): with `berth.metrics.enabled` (default) the driver is wrapped with
 * metrics, every request is counted, and `/metrics` is served here unless the debug listener
 * serves it; notifications go to `deps.events` or, when `notifications.endpoints` are configured,
 * to a webhook notifier built here; `health.storagedriver` starts the background storage check.
 * `App.close()` stops those background parts. With `proxy` / `berth.proxy.upstreams` the v2
 * dispatcher gets the pull-through cache (src/proxy).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { anonymousAccess, type AccessController } from '../auth/access.js';
import { createAudit, type Audit } from '../auth/audit.js';
import { createClientAddress } from '../auth/client-address.js';
import { sessionKeyFromSecret } from '../auth/session.js';
import type { Config } from '../config/schema.js';
import { noEvents, type RegistryEvents } from '../core/events.js';
import { createRegistry, type Registry } from '../core/registry.js';
import { UploadTokens } from '../core/upload-token.js';
import { RegistryError } from '../errors/registry-error.js';
import { createV1Router } from '../protocol/v1/router.js';
import { createV2Handler } from '../protocol/v2/router.js';
import { createOpsRouter } from '../ops/api.js';
import { createSmartOsRouter } from '../smartos/routes.js';
import { createUiRouter, type GcStatus } from '../ui/router.js';
import { createAccessLog } from './access-log.js';
import { sendError } from '../http/error-response.js';
import { createHealthRouter } from './health.js';
import { startStorageHealthCheck, type StorageHealth } from '../ops/health-check.js';
import { createHttpMetrics } from '../ops/metrics/http.js';
import { createMetrics, noGcMetrics, type BerthMetrics, type GcMetrics } from '../ops/metrics/metrics.js';
import { instrumentDriver } from '../ops/metrics/storage-driver.js';
import { createNotifier, type Notifier } from '../ops/notifications/notifier.js';
import { createPullThrough } from '../proxy/pull-through.js';

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly driver: StorageDriver;
  readonly access?: AccessController;
  /** Berth's token server (auth/token-server.ts), mounted on the express side when given. */
  readonly tokenRouter?: express.Router;
  /** Where audit lines go (default: the logger, client addresses without trusted proxies). */
  readonly audit?: Audit;
  /**
   * Key for the web UI's session cookies and CSRF tokens, the same on every node: createAuth's
   * `sessionKey` (from the token-signing key). Default: derived from http.secret, else random
   * per process (then a form is only accepted by the node that rendered it).
   */
  readonly sessionKey?: Buffer;
  /** Garbage-collection status shown by the UI (src/ops, once it exists). */
  readonly gcStatus?: () => Promise<GcStatus | undefined>;
  readonly now?: () => Date;
  /** Where Berth's metrics are registered (a fresh registry when absent); never the global one. */
  readonly metricsRegistry?: MetricsRegistry;
  /** Event sink; default: a webhook notifier when `notifications.endpoints` are configured. */
  readonly events?: RegistryEvents;
  /** Called with the size of every fresh body buffer: uploads and blobs sent from non-pooled readers (the process paces young GCs with it). */
  readonly onBufferBytes?: (bytes: number) => void;
}

export interface App {
  readonly handle: RequestListener;
  readonly registry: Registry;
  readonly express: express.Express;
  /** Undefined when `berth.metrics.enabled` is false. */
  readonly metrics?: BerthMetrics;
  /** For the garbage collector: `gcMetrics.observeRun({durationMs, bytesFreed, blobsDeleted})`. */
  readonly gcMetrics: GcMetrics;
  /** The background storage check (`health.storagedriver`), when enabled. */
  readonly health?: StorageHealth;
  /** The webhook notifier built from the config, when endpoints are configured. */
  readonly notifier?: Notifier;
  /** Stops background work; gives queued notifications up to `graceMs` to be delivered. */
  close(graceMs?: number): Promise<void>;
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
  const ops = config.ops;
  const metrics = ops.metrics.enabled ? createMetrics(deps.metricsRegistry ?? new MetricsRegistry()) : undefined;
  const registry = createRegistry(metrics === undefined ? deps.driver : instrumentDriver(deps.driver, metrics), {
    maxBlobBytes: config.berth.maxBlobBytes,
    manifestCacheBytes: config.berth.manifestCacheBytes,
    linkTtlMs: config.berth.linkTtlMs,
    now,
    ...(metrics !== undefined ? { manifestCacheHooks: metrics.manifestCache } : {}),
    ...(deps.onBufferBytes === undefined ? {} : { onBufferBytes: deps.onBufferBytes }),
  });
  const notifier =
    deps.events === undefined && ops.notifications.endpoints.length > 0
      ? createNotifier(ops.notifications.endpoints, {
          logger,
          port: config.http.port,
          ...(metrics !== undefined ? { metrics: metrics.notifications } : {}),
        })
      : undefined;
  const events = deps.events ?? notifier ?? noEvents;
  const check = ops.health.storageDriver;
  const health = check.enabled ? startStorageHealthCheck(deps.driver, { intervalMs: check.intervalMs, threshold: check.threshold }, logger) : undefined;
  const metricsOnMain = metrics !== undefined && !ops.metrics.onDebugListener;
  const httpMetrics = metrics === undefined ? undefined : createHttpMetrics(metrics, metricsOnMain ? '/metrics' : ops.metrics.path);
  const access = deps.access ?? anonymousAccess;
  const audit = deps.audit ?? createAudit(logger, createClientAddress([]));
  const proxy = createPullThrough({ registry, config: config.proxy, logger, maxManifestBytes: config.berth.maxManifestBytes, ...(deps.now !== undefined ? { now: () => now().getTime() } : {}) });
  const v2 = createV2Handler({ registry, config, access, tokens: new UploadTokens(config.http.secret), logger, audit, events, ...(proxy !== undefined ? { proxy } : {}) });
  const accessLog = createAccessLog(logger, config.log.accessLog);
  const prefix = config.http.prefix;
  const extraHeaders = Object.entries(config.http.headers);

  const web = express();
  web.disable('x-powered-by');
  web.set('etag', false);
  if (deps.tokenRouter !== undefined) web.use(deps.tokenRouter);
  web.use(createHealthRouter({ driver: deps.driver }, undefined, health !== undefined ? { background: health } : {}));
  if (metricsOnMain) {
    const register = metrics.register;
    web.get('/metrics', async (_req: Request, res: Response) => {
      const text = await register.metrics();
      res.setHeader('Content-Type', register.contentType);
      res.end(text);
    });
  }
  if (config.berth.v1Enabled) {
    const v1 = createV1Router({ registry, config, access, logger, audit, ...(proxy !== undefined ? { proxy } : {}) });
    web.use('/v1', v1);
    // The Python registry also answered its ping at the root; some v1 clients probe it there.
    web.get('/_ping', (req: Request, res: Response, next: NextFunction) => {
      req.url = '/_ping';
      v1(req, res, next);
    });
  }
  web.use(createSmartOsRouter({ registry, config, access, logger }));
  web.use(createOpsRouter({ driver: registry.driver, config, access, audit, onDeleted: () => registry.links.clear() }));
  if (config.berth.uiEnabled) {
    // Browsers only: GET / asking for HTML, and /ui/… ; API clients asking for / still get the 404.
    const sessionKey = deps.sessionKey ?? (config.http.secret !== undefined ? sessionKeyFromSecret(config.http.secret) : randomBytes(32));
    web.use(createUiRouter({ registry, config, access, logger, audit, sessionKey, ...(deps.gcStatus !== undefined ? { gcStatus: deps.gcStatus } : {}) }));
  }
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
        httpMetrics?.track(req, res, '');
        sendError(req, res, new RegistryError('UNSUPPORTED', { status: 404, message: 'not found' }), logger, 'plain');
        return;
      }
      path = path.slice(prefix.length);
    }
    httpMetrics?.track(req, res, path);
    if (path === '/v2' || path.startsWith('/v2/')) {
      const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
      v2(req, res, path.slice(3), query).catch((error: unknown) => sendError(req, res, error, logger, 'v2'));
      return;
    }
    if (prefix !== '') req.url = url.slice(prefix.length) || '/';
    web(req, res);
  };
  return {
    handle,
    registry,
    express: web,
    ...(metrics !== undefined ? { metrics } : {}),
    gcMetrics: metrics?.gc ?? noGcMetrics,
    ...(health !== undefined ? { health } : {}),
    ...(notifier !== undefined ? { notifier } : {}),
    close: async (graceMs = 0) => {
      health?.stop();
      await notifier?.close(graceMs);
    },
  };
}
