/**
 * `berth serve [config.yml]`: load the config, build the dependencies (logger, storage driver,
 * metrics registry with the process metrics, app), listen (and on `http.debug.addr` when set),
 * and shut down gracefully on SIGTERM/SIGINT (queued notifications get the drain timeout to go out).
 */
import { Registry as MetricsRegistry } from 'prom-client';
import { createDriver } from '../../storage-drivers/index.js';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../logging/logger.js';
import { createApp } from '../server/create-app.js';
import { collectProcessMetrics } from '../ops/metrics/metrics.js';
import { startDebugServer, type DebugServer } from '../server/debug-server.js';
import { listen } from '../server/http-server.js';
import { startUploadPurger } from '../server/upload-purger.js';

export async function serve(configPath: string | undefined, env: NodeJS.ProcessEnv): Promise<void> {
  const { config, warnings } = await loadConfigFile(configPath, env);
  const logger = createLogger(config);
  for (const w of warnings) logger.warn({ warning: w }, 'configuration warning');
  const driver = createDriver(config.storage.driver, config.storage.params, {
    observe: (op, ms, error) => {
      if (error !== undefined) logger.debug({ op, ms, err: error }, 'storage operation failed');
    },
  });
  const metricsRegistry = new MetricsRegistry();
  if (config.ops.metrics.enabled) collectProcessMetrics(metricsRegistry);
  const app = createApp({ config, logger, driver, metricsRegistry });
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
  const purger = startUploadPurger(app.registry, config, logger);
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
    void Promise.all([running.close(), debug?.close(), app.close(config.http.drainTimeoutMs)]).then(() => {
      logger.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
