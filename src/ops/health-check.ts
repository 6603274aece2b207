/**
 * Storage health: `probeStorage` (one `stat('/')` with a timeout; PathNotFound counts as healthy,
 * as in distribution) and `startStorageHealthCheck`, distribution's `health.storagedriver`: a
 * probe every `interval`, unhealthy after `threshold` consecutive failures, healthy again after
 * one success. Healthy until the first probe (which runs one interval after start). The timer is
 * unref'd and never overlaps probes.
 */
import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { PathNotFoundError } from '../../storage-drivers/errors.js';

export class ProbeTimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(ms: number) {
    super(`storage probe did not answer within ${ms} ms`);
  }
}

/** Resolves when the backend answers `stat('/')` (found or not found) within `timeoutMs`. */
export async function probeStorage(driver: StorageDriver, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeoutError(timeoutMs)), timeoutMs);
  });
  const probe = driver.stat('/').then(
    () => undefined,
    (error: unknown) => {
      if (!(error instanceof PathNotFoundError)) throw error;
    },
  );
  try {
    await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface StorageHealthState {
  readonly healthy: boolean;
  readonly consecutiveFailures: number;
  /** Error class of the last failed probe, while unhealthy. */
  readonly error?: string;
  /** Name of the check as distribution reports it (`storagedriver_<driver>`). */
  readonly check: string;
}

export interface StorageHealth {
  state(): StorageHealthState;
  /** Runs one probe now (tests, and the first probe). */
  checkNow(): Promise<StorageHealthState>;
  stop(): void;
}

export interface StorageHealthOptions {
  readonly intervalMs: number;
  readonly threshold: number;
  /** Per-probe timeout (default: the interval, at most 5 s). */
  readonly timeoutMs?: number;
}

export function startStorageHealthCheck(driver: StorageDriver, options: StorageHealthOptions, logger: Logger): StorageHealth {
  const check = `storagedriver_${driver.name}`;
  const timeoutMs = options.timeoutMs ?? Math.min(options.intervalMs, 5000);
  let failures = 0;
  let lastError: string | undefined;
  let running: Promise<StorageHealthState> | undefined;
  const state = (): StorageHealthState => {
    const healthy = failures < options.threshold;
    return { healthy, consecutiveFailures: failures, check, ...(!healthy && lastError !== undefined ? { error: lastError } : {}) };
  };
  const checkNow = (): Promise<StorageHealthState> => {
    running ??= probeStorage(driver, timeoutMs)
      .then(
        () => {
          if (failures >= options.threshold) logger.info({ check }, 'storage health check recovered');
          failures = 0;
          lastError = undefined;
        },
        (error: unknown) => {
          failures += 1;
          lastError = error instanceof Error ? error.name : 'Error';
          if (failures === options.threshold) logger.warn({ check, failures, error: lastError }, 'storage health check failing');
        },
      )
      .then(() => {
        running = undefined;
        return state();
      });
    return running;
  };
  const timer = setInterval(() => void checkNow(), options.intervalMs);
  timer.unref();
  return { state, checkNow, stop: () => clearInterval(timer) };
}
