/**
 * Health endpoints for load balancers and orchestrators:
 *
 * - `GET /livez`: the process runs (always 200);
 * - `GET /readyz`: probes the storage backend now (200, or 503 when it fails or does not answer
 *   within {@link READY_TIMEOUT_MS}), and is 503 too while the background check (below) says
 *   unhealthy;
 * - `GET /healthz`: with distribution's `health.storagedriver` enabled, the background check's
 *   verdict (unhealthy after `threshold` consecutive failed probes, one probe per `interval`);
 *   without it, a live probe like /readyz with {@link PROBE_TIMEOUT_MS}.
 *
 * A hung backend never hangs a health request. Probes use the driver without metrics
 * instrumentation, so health traffic does not show up as storage operations.
 */
import { Router, type Request, type Response } from 'express';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { probeStorage, type StorageHealth } from '../ops/health-check.js';

export const PROBE_TIMEOUT_MS = 5000;
export const READY_TIMEOUT_MS = 2000;

export interface HealthOptions {
  /** The background `health.storagedriver` check, when enabled. */
  readonly background?: StorageHealth;
  readonly readyTimeoutMs?: number;
}

export function createHealthRouter(target: { readonly driver: StorageDriver }, probeTimeoutMs = PROBE_TIMEOUT_MS, options: HealthOptions = {}): Router {
  const { driver } = target;
  const { background } = options;
  const readyTimeoutMs = options.readyTimeoutMs ?? Math.min(READY_TIMEOUT_MS, probeTimeoutMs);
  const live = async (res: Response, timeoutMs: number): Promise<void> => {
    const started = Date.now();
    try {
      await probeStorage(driver, timeoutMs);
    } catch (error) {
      res.status(503).json({ status: 'unavailable', storage: { driver: driver.name, error: (error as Error).name } });
      return;
    }
    const state = background?.state();
    if (state !== undefined && !state.healthy) {
      res.status(503).json({ status: 'unavailable', storage: { driver: driver.name, error: state.error ?? 'Error', check: state.check } });
      return;
    }
    res.json({ status: 'ok', storage: { driver: driver.name, ms: Date.now() - started } });
  };
  const router = Router();
  router.get('/livez', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req: Request, res: Response) => live(res, readyTimeoutMs));
  router.get('/healthz', async (_req: Request, res: Response) => {
    if (background === undefined) return live(res, probeTimeoutMs);
    const state = background.state();
    const storage = { driver: driver.name, check: state.check, consecutiveFailures: state.consecutiveFailures };
    if (state.healthy) res.json({ status: 'ok', storage });
    else res.status(503).json({ status: 'unavailable', storage: { ...storage, error: state.error ?? 'Error' } });
  });
  return router;
}
