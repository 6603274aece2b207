/**
 * `berth serve [config.yml]`: load the config, build the dependencies (logger, storage driver,
 * authentication services, metrics registry with the process metrics, app), listen (and on
 * `http.debug.addr` when set), reload the TLS certificate on SIGHUP, and shut down gracefully on
 * SIGTERM/SIGINT (queued notifications get the drain timeout to go out).
 */
import { Registry as MetricsRegistry } from 'prom-client';
import { createDriver } from '../../storage-drivers/index.js';
import { createAudit } from '../auth/audit.js';
import { createClientAddress } from '../auth/client-address.js';
import { createAuth } from '../auth/create-auth.js';
import { parseAuthSettings } from '../auth/settings.js';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../logging/logger.js';
import { createApp } from '../server/create-app.js';
import { collectProcessMetrics } from '../ops/metrics/metrics.js';
import { startDebugServer, type DebugServer } from '../server/debug-server.js';
import { listen } from '../server/http-server.js';
import { startUploadPurger } from '../server/upload-purger.js';
import { startOnlineGc } from '../ops/gc/online.js';
import { gcStatus } from '../ops/gc/status.js';

export interface ServeOptions {
  /** Cluster worker number (1…N) when started by `cluster-primary.ts`; in every log line. */
  readonly worker?: number;
  /** Called with the size of every fresh body buffer, both directions (heap-settings.ts: paced young GCs). */
  readonly onBufferBytes?: (bytes: number) => void;
}

export async function serve(configPath: string | undefined, env: NodeJS.ProcessEnv, options: ServeOptions = {}): Promise<void> {
  const { config, warnings, legacy } = await loadConfigFile(configPath, env);
  const logger = options.worker === undefined ? createLogger(config) : createLogger(config).child({ worker: options.worker });
  /** Background loops (upload purging, …) run in one process only: the single one or worker 1. */
  const runsBackground = options.worker === undefined || options.worker === 1;
  for (const w of warnings) logger.warn({ warning: w }, 'configuration warning');
  if (legacy !== undefined) {
    // Names only (legacy variable → modern key), never values: OS_PASSWORD/AWS_SECRET stay out of logs.
    const mapped = Object.fromEntries(legacy.keys.filter((k) => k.applied).map((k) => [k.legacy, k.key]));
    const shadowed = legacy.keys.filter((k) => !k.applied).map((k) => `${k.legacy}: ${k.key} is set by the configuration`);
    logger.info({ flavor: legacy.flavor, mapped, shadowed, notes: legacy.notes }, 'old docker-registry environment mapped to configuration keys');
  }
  const driver = createDriver(config.storage.driver, config.storage.params, {
    observe: (op, ms, error) => {
      if (error !== undefined) logger.debug({ op, ms, err: error }, 'storage operation failed');
    },
  });
  const metricsRegistry = new MetricsRegistry();
  if (config.ops.metrics.enabled) collectProcessMetrics(metricsRegistry);
  const settings = parseAuthSettings(config.authSections);
  const auth = await createAuth({
    settings,
    driver,
    logger,
    urls: { ...(config.http.baseUrl !== undefined ? { baseUrl: config.http.baseUrl } : {}), prefix: config.http.prefix, relative: false },
  });
  if (auth.mode === 'none' && !isLoopback(config.http.host)) {
    logger.warn({ addr: config.http.host }, 'no auth section: every request is allowed, and Berth listens beyond loopback; configure auth.htpasswd or auth.token');
  }
  const app = createApp({
    config,
    logger,
    driver,
    access: auth.access,
    ...(auth.tokenRouter !== undefined ? { tokenRouter: auth.tokenRouter } : {}),
    ...(auth.sessionKey !== undefined ? { sessionKey: auth.sessionKey } : {}),
    gcStatus: () => gcStatus(driver, { online: config.berth.gc.enabled }),
    audit: createAudit(logger, createClientAddress(settings.trustedProxies)),
    metricsRegistry,
    ...(options.onBufferBytes === undefined ? {} : { onBufferBytes: options.onBufferBytes }),
  });
  const running = await listen(config, app.handle);
  const debugAddr = config.ops.debug;
  let debug: DebugServer | undefined;
  if (debugAddr !== undefined) {
    debug = await startDebugServer({
      ...debugAddr,
      ...(app.metrics !== undefined && config.ops.metrics.onDebugListener ? { metrics: { register: metricsRegistry, path: config.ops.metrics.path } } : {}),
      ...(app.health !== undefined ? { health: app.health } : {}),
    });
    logger.info({ addr: `${debug.address.host}:${debug.address.port}`, metrics: config.ops.metrics.onDebugListener }, 'debug listener');
  }
  const purger = runsBackground ? startUploadPurger(app.registry, config, logger) : { stop: () => undefined };
  const gc = runsBackground
    ? startOnlineGc({
        driver,
        config,
        logger,
        onRun: (run) => {
          app.gcMetrics.observeRun(run);
          // What this node cached about deleted data goes at once (other nodes: within berth.cache.linkttl).
          if (run.blobsDeleted > 0) app.registry.links.clear();
        },
      })
    : { stop: () => Promise.resolve() };
  logger.info(
    { addr: `${running.address.host}:${running.address.port}`, storage: config.storage.driver, tls: config.http.tls !== undefined },
    'berth listening',
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    purger.stop();
    void Promise.all([gc.stop(), running.close(), debug?.close(), app.close(config.http.drainTimeoutMs)]).then(() => {
      logger.info('stopped');
      process.exit(0);
    });
  };
  if (config.http.tls !== undefined) {
    // SIGHUP re-reads the certificate, key and client CAs (e.g. after a renewal); open connections stay.
    process.on('SIGHUP', () => {
      try {
        running.reloadTls();
        logger.info('TLS certificate reloaded');
      } catch (error) {
        logger.error({ err: error }, 'TLS reload failed; keeping the current certificate');
      }
    });
  }
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
