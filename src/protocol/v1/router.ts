/**
 * The legacy v1 registry API (registry and standalone-index roles), mounted under `/v1`.
 * Placeholder until the v1 issue lands: every v1 path answers 404 in v1's `{"error": ...}` shape.
 */
import { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { AccessController } from '../../auth/access.js';
import type { Config } from '../../config/schema.js';
import type { Registry } from '../../core/registry.js';

export interface V1Deps {
  readonly registry: Registry;
  readonly config: Config;
  readonly access: AccessController;
  readonly logger: Logger;
}

export function createV1Router(_deps: V1Deps): Router {
  const router = Router();
  router.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'v1 API not available' });
  });
  return router;
}
