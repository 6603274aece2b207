/**
 * `berth serve [config.yml]`: load the config, build the dependencies (logger, storage driver,
 * app), listen, and shut down gracefully on SIGTERM/SIGINT.
 */
import { createDriver } from '../../storage-drivers/index.js';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../logging/logger.js';
import { createApp } from '../server/create-app.js';
import { listen } from '../server/http-server.js';
import { startUploadPurger } from '../server/upload-purger.js';

export async function serve(configPath: string | undefined, env: NodeJS.ProcessEnv): Promise<void> {
  const { config, warnings, legacy } = await loadConfigFile(configPath, env);
  const logger = createLogger(config);
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
  const app = createApp({ config, logger, driver });
  const running = await listen(config, app.handle);
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
    void running.close().then(() => {
      logger.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
