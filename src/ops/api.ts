/**
 * Berth's own HTTP API for operations (mounted by the server): `DELETE
 * /berth/api/v1/repositories/<name>` deletes a repository (delete-repository.ts) after
 * `access.authorize` grants `repository:<name>:delete`. 202 on success (blobs go at the next
 * garbage collection), 404 NAME_UNKNOWN, 405 UNSUPPORTED when deletes are disabled, 400
 * NAME_INVALID. Errors go to the app's error handler through `next`.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import type { AccessController } from '../auth/access.js';
import type { Audit } from '../auth/audit.js';
import type { Config } from '../config/schema.js';
import { assertName } from '../core/reference.js';
import { deleteRepository } from './delete-repository.js';

export interface OpsRouterDeps {
  readonly driver: StorageDriver;
  readonly config: Config;
  readonly access: AccessController;
  /** One audit line per repository deleted. */
  readonly audit?: Audit;
  /** Called after a delete (the server drops this node's cached links, so it answers 404 at once). */
  readonly onDeleted?: (name: string) => void;
}

export function createOpsRouter(deps: OpsRouterDeps): Router {
  const router = Router();
  router.delete('/berth/api/v1/repositories/*name', (req: Request, res: Response, next: NextFunction) => {
    const segments = (req.params as Record<string, unknown>)['name'];
    const name = Array.isArray(segments) ? segments.join('/') : String(segments);
    (async () => {
      assertName(name);
      const principal = await deps.access.authorize(req, [{ type: 'repository', name, actions: ['delete'] }]);
      await deleteRepository(deps.driver, name, { deleteEnabled: deps.config.storage.deleteEnabled, readOnly: deps.config.storage.readOnly });
      deps.onDeleted?.(name);
      deps.audit?.(req, principal, { api: 'berth', action: 'delete', repository: name });
      res.status(202).setHeader('Content-Length', 0);
      res.end();
    })().catch(next);
  });
  return router;
}
