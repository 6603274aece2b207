/**
 * Runs upload purging periodically (`storage.maintenance.uploadpurging`): the first pass a minute
 * after start, then every `interval`. Disabled in read-only mode. Errors are logged, never fatal.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { purgeUploads } from '../core/purge-uploads.js';
import type { Registry } from '../core/registry.js';

export interface Purger {
  stop(): void;
}

export function startUploadPurger(registry: Registry, config: Config, logger: Logger, firstDelayMs = 60_000): Purger {
  const settings = config.storage.uploadPurging;
  if (!settings.enabled || config.storage.readOnly) return { stop: () => undefined };
  const run = async (): Promise<void> => {
    try {
      const cutoff = new Date(Date.now() - settings.ageMs);
      const result = await purgeUploads(registry.driver, cutoff, settings.dryRun);
      logger.info({ scanned: result.scanned, purged: result.purged.length, dryRun: settings.dryRun }, 'upload purge finished');
    } catch (error) {
      logger.error({ err: error }, 'upload purge failed');
    }
  };
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    void run();
    interval = setInterval(() => void run(), settings.intervalMs);
    interval.unref();
  }, firstDelayMs);
  first.unref();
  return {
    stop: () => {
      clearTimeout(first);
      if (interval !== undefined) clearInterval(interval);
    },
  };
}
