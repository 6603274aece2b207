/**
 * SmartOS endpoints: the repo:tag → SmartOS image manifests translation under `/smartos/` and the
 * IMGAPI subset under `/imgapi/`. Placeholder until the SmartOS issue lands.
 */
import { Router } from 'express';
import type { Logger } from 'pino';
import type { AccessController } from '../auth/access.js';
import type { Config } from '../config/schema.js';
import type { Registry } from '../core/registry.js';

export interface SmartOsDeps {
  readonly registry: Registry;
  readonly config: Config;
  readonly access: AccessController;
  readonly logger: Logger;
}

export function createSmartOsRouter(_deps: SmartOsDeps): Router {
  return Router();
}
