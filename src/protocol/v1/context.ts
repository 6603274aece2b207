/**
 * What every v1 handler receives (request, response, parsed query, an AbortSignal that fires when
 * the client goes away, the v1 store and the injected dependencies), and the access checks v1
 * makes through the one access controller: repository actions for repository paths; for image
 * paths, which carry no repository, pull access on a repository the image is tagged in (or just an
 * authenticated principal for an image not tagged anywhere yet, as during a push).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Action, Principal, AccessController } from '../../auth/access.js';
import type { Audit } from '../../auth/audit.js';
import type { PullThrough } from '../../core/pull-through.js';
import type { Config } from '../../config/schema.js';
import type { Registry } from '../../core/registry.js';
import type { V1Store } from '../../core/v1/store.js';
import { RegistryError } from '../../errors/registry-error.js';

export interface V1Deps {
  readonly registry: Registry;
  readonly config: Config;
  readonly access: AccessController;
  readonly logger: Logger;
  readonly audit: Audit;
  /** The pull-through cache: its names take no pushes (v2 refuses them too). */
  readonly proxy?: PullThrough;
}

export interface V1Context {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly deps: V1Deps;
  readonly store: V1Store;
  readonly query: URLSearchParams;
  readonly signal: AbortSignal;
  readonly now: () => Date;
}

export async function authorizeRepository(ctx: V1Context, repository: string, actions: readonly Action[]): Promise<Principal> {
  return ctx.deps.access.authorize(ctx.req, [{ type: 'repository', name: repository, actions }]);
}

/** Pull access to an image: through any repository it is known in. */
export async function authorizeImage(ctx: V1Context, repositories: readonly string[]): Promise<Principal> {
  // An image tagged nowhere yet (a push in progress) is visible to signed-in users only.
  if (repositories.length === 0) return ctx.deps.access.authorize(ctx.req, []);
  const principal = await ctx.deps.access.identify(ctx.req);
  for (const repository of repositories) {
    if (await ctx.deps.access.canPull(principal, repository)) return principal;
  }
  return authorizeRepository(ctx, repositories[0] ?? '', ['pull']);
}

export function assertWritable(ctx: V1Context): void {
  if (ctx.deps.config.storage.readOnly) throw new RegistryError('UNSUPPORTED', { message: 'registry is in read-only mode' });
}

export function assertDeletable(ctx: V1Context): void {
  if (!ctx.deps.config.storage.deleteEnabled) throw new RegistryError('UNSUPPORTED', { message: 'deletes are disabled (storage.delete.enabled)' });
  assertWritable(ctx);
}

/** Pushes into a name the pull-through cache mirrors are refused, as over v2. */
export function assertNotProxied(ctx: V1Context, repository: string): void {
  if (ctx.deps.proxy?.handles(repository) === true) {
    throw new RegistryError('UNSUPPORTED', { message: `${repository} is a pull-through cache of another registry: pushes are not accepted` });
  }
}
