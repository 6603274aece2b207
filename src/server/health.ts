/**
 * Health endpoints for load balancers and orchestrators: `GET /healthz` probes the storage
 * backend (200 `{"status":"ok"}` or 503 with the reason), `GET /livez` only says the process runs.
 */
import { Router, type Request, type Response } from 'express';
import type { Registry } from '../core/registry.js';
import { PathNotFoundError } from '../../storage-drivers/errors.js';

export function createHealthRouter(registry: Registry): Router {
  const router = Router();
  router.get('/livez', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  router.get('/healthz', async (_req: Request, res: Response) => {
    const started = Date.now();
    try {
      await registry.driver.stat('/').catch((error: unknown) => {
        if (!(error instanceof PathNotFoundError)) throw error;
      });
      res.json({ status: 'ok', storage: { driver: registry.driver.name, ms: Date.now() - started } });
    } catch (error) {
      res.status(503).json({ status: 'unavailable', storage: { driver: registry.driver.name, error: (error as Error).name } });
    }
  });
  return router;
}
