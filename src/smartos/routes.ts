/**
 * The SmartOS front end, mounted at the root of the express app but answering only under its own
 * prefixes: `/smartos/v1/images/…` (translation-route.ts: `repo:tag` → the SmartOS image manifests
 * imgadm would compute) and `/imgapi/…` (imgapi-routes.ts: the IMGAPI subset imgadm imports from).
 * Both share one {@link SmartOsService} (service.ts) and its per-blob file-info cache
 * (file-info-cache.ts).
 */
import { Router } from 'express';
import { imgapiRouter } from './imgapi-routes.js';
import { SmartOsService, type SmartOsDeps } from './service.js';
import { translationRouter } from './translation-route.js';

export type { SmartOsDeps };
export { fileInfoPath } from './file-info-cache.js';
export { parseImageReference } from './service.js';

export function createSmartOsRouter(deps: SmartOsDeps): Router {
  const service = new SmartOsService(deps);
  const router = Router();
  router.use('/smartos', translationRouter(service));
  router.use('/imgapi', imgapiRouter(service));
  return router;
}
