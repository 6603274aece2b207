/**
 * What every v2 handler receives: the request/response, the validated repository name, the parsed
 * query, a URL builder, an AbortSignal that fires when the client goes away, and the injected
 * dependencies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Principal, AccessController } from '../../auth/access.js';
import type { Audit } from '../../auth/audit.js';
import type { Config } from '../../config/schema.js';
import type { RegistryEvents } from '../../core/events.js';
import type { PullThrough } from '../../core/pull-through.js';
import type { Registry } from '../../core/registry.js';
import type { UploadTokens } from '../../core/upload-token.js';
import type { UrlBuilder } from './urls.js';

export interface V2Deps {
  readonly registry: Registry;
  readonly config: Config;
  readonly access: AccessController;
  readonly tokens: UploadTokens;
  readonly logger: Logger;
  readonly audit: Audit;
  /** Where push/pull/delete events go (notifications); none when absent. */
  readonly events?: RegistryEvents;
  /** The pull-through cache (src/proxy): mirrors upstream repositories into storage on demand. */
  readonly proxy?: PullThrough;
}

export interface V2Context {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly deps: V2Deps;
  readonly query: URLSearchParams;
  readonly urls: UrlBuilder;
  readonly signal: AbortSignal;
  readonly principal: Principal;
}

export interface RepoContext extends V2Context {
  readonly name: string;
}

export type Handler<C> = (ctx: C) => Promise<void>;
