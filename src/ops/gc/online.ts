/**
 * Online garbage collection (`berth.gc`): while Berth serves, every `interval` each node tries to
 * take the GC lease and, if it gets it, runs a collection with the configured grace period (never
 * `deleteUntagged`: pushes upload untagged children and referrers before tagging). Nodes that find
 * the lease taken skip that round. One summary line per run in the log. Off in read-only mode.
 */
import type { Logger } from 'pino';
import type { StorageDriver } from '../../../storage-drivers/driver.js';
import type { Config } from '../../config/schema.js';
import { LeaseBusyError, type LeaseOptions } from './lease.js';
import { garbageCollect, type GcReport } from './run.js';

export interface OnlineGcDeps {
  readonly driver: StorageDriver;
  readonly config: Config;
  readonly logger: Logger;
  /** Delay before the first run (default: one interval). */
  readonly firstDelayMs?: number;
  readonly leaseOptions?: LeaseOptions;
  /** Test hook (see GcOptions.sweepDelayMs). */
  readonly sweepDelayMs?: number;
  /** Called after each finished run (metrics). */
  readonly onRun?: (run: { readonly durationMs: number; readonly bytesFreed: number; readonly blobsDeleted: number }) => void;
}

export interface OnlineGc {
  /** Runs one collection now (undefined when another node holds the lease). */
  runOnce(): Promise<GcReport | undefined>;
  /** Stops the loop and waits for a running collection to finish. */
  stop(): Promise<void>;
}

export function startOnlineGc(deps: OnlineGcDeps): OnlineGc {
  const { config, logger, driver } = deps;
  const settings = config.berth.gc;
  let running: Promise<GcReport | undefined> | undefined;
  const runOnce = async (): Promise<GcReport | undefined> => {
    running ??= (async () => {
      try {
        const report = await garbageCollect(driver, {
          gracePeriodMs: settings.gracePeriodMs,
          ...(deps.leaseOptions !== undefined ? { leaseOptions: deps.leaseOptions } : {}),
          ...(deps.sweepDelayMs !== undefined ? { sweepDelayMs: deps.sweepDelayMs } : {}),
        });
        logger.info(
          {
            repositories: report.repositories,
            manifests: report.manifests,
            markedBlobs: report.markedBlobs,
            blobsDeleted: report.blobsDeleted,
            bytesFreed: report.bytesDeleted,
            layerLinksDeleted: report.layerLinksDeleted,
            keptYoung: report.keptYoung,
            keptTouched: report.keptTouched,
            ms: report.durationMs,
          },
          'garbage collection finished',
        );
        deps.onRun?.({ durationMs: report.durationMs, bytesFreed: report.bytesDeleted, blobsDeleted: report.blobsDeleted });
        return report;
      } catch (error) {
        if (error instanceof LeaseBusyError) {
          logger.debug({ holder: error.holder?.host }, 'garbage collection skipped: another node holds the lease');
          return undefined;
        }
        logger.error({ err: error }, 'garbage collection failed');
        return undefined;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  if (!settings.enabled || config.storage.readOnly) return { runOnce, stop: () => Promise.resolve() };
  const interval = Math.max(100, settings.intervalMs);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().then(() => schedule(interval));
    }, ms);
    timer.unref();
  };
  schedule(deps.firstDelayMs ?? interval);
  return {
    runOnce,
    stop: async () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
