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

export interface ServeOptions {
  /** Cluster worker number (1…N) when started by `cluster-primary.ts`; in every log line. */
  readonly worker?: number;
  /** Called with the size of every upload body chunk (heap-settings.ts: paced young GCs). */
  readonly onUploadBytes?: (bytes: number) => void;
}

export async function serve(configPath: string | undefined, env: NodeJS.ProcessEnv, options: ServeOptions = {}): Promise<void> {
  const { config, warnings } = await loadConfigFile(configPath, env);
  const logger = options.worker === undefined ? createLogger(config) : createLogger(config).child({ worker: options.worker });
  /** Background loops (upload purging, …) run in one process only: the single one or worker 1. */
  const runsBackground = options.worker === undefined || options.worker === 1;
  for (const w of warnings) logger.warn({ warning: w }, 'configuration warning');
  const driver = createDriver(config.storage.driver, config.storage.params, {
    observe: (op, ms, error) => {
      if (error !== undefined) logger.debug({ op, ms, err: error }, 'storage operation failed');
    },
  });
  const app = createApp({ config, logger, driver, ...(options.onUploadBytes === undefined ? {} : { onUploadBytes: options.onUploadBytes }) });
  const running = await listen(config, app.handle);
  const purger = runsBackground ? startUploadPurger(app.registry, config, logger) : { stop: () => undefined };
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
