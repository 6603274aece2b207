/**
 * Health endpoints for load balancers and orchestrators: `GET /healthz` probes the storage
 * backend (200 `{"status":"ok"}` or 503 with the reason; a backend that does not answer within
 * {@link PROBE_TIMEOUT_MS} counts as down, so a hung backend never hangs the health check),
 * `GET /livez` only says the process runs.
 */
import { Router, type Request, type Response } from 'express';
import type { Registry } from '../core/registry.js';
import { PathNotFoundError } from '../../storage-drivers/errors.js';

export const PROBE_TIMEOUT_MS = 5000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('storage probe timed out'), { name: 'TimeoutError' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createHealthRouter(registry: Registry, probeTimeoutMs = PROBE_TIMEOUT_MS): Router {
  const router = Router();
  router.get('/livez', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  router.get('/healthz', async (_req: Request, res: Response) => {
    const started = Date.now();
    try {
      await withTimeout(
        registry.driver.stat('/').catch((error: unknown) => {
          if (!(error instanceof PathNotFoundError)) throw error;
        }),
        probeTimeoutMs,
      );
      res.json({ status: 'ok', storage: { driver: registry.driver.name, ms: Date.now() - started } });
    } catch (error) {
      res.status(503).json({ status: 'unavailable', storage: { driver: registry.driver.name, error: (error as Error).name } });
    }
  });
  return router;
}
