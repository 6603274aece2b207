/**
 * Emits registry events (core/events.ts) from v2 handlers in one call, after the operation
 * succeeded: fills in the repository, the request (id, client address, host, method, user agent)
 * and the actor. Does nothing, and builds nothing, when no sink listens.
 */
import type { EventAction, EventTarget } from '../../core/events.js';
import type { RepoContext } from './context.js';

export const BLOB_MEDIA_TYPE = 'application/octet-stream';

export function emitEvent(ctx: RepoContext, action: EventAction, target: Omit<EventTarget, 'repository'>): void {
  const events = ctx.deps.events;
  if (events === undefined || !events.active) return;
  const { req, res } = ctx;
  const id = res.getHeader('x-request-id');
  events.emit({
    action,
    target: { repository: ctx.name, ...target },
    request: {
      id: typeof id === 'string' ? id : '',
      addr: `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`,
      host: req.headers.host ?? '',
      method: req.method ?? '',
      useragent: req.headers['user-agent'] ?? '',
    },
    ...(ctx.principal.subject !== '' ? { actor: ctx.principal.subject } : {}),
  });
}

/** A blob event's target (distribution gives blobs the octet-stream media type). */
export function blobTarget(ctx: RepoContext, digest: string, size?: number): Omit<EventTarget, 'repository'> {
  return { mediaType: BLOB_MEDIA_TYPE, digest, ...(size !== undefined ? { size } : {}), url: ctx.urls.blob(ctx.name, digest) };
}

/** A manifest event's target; `reference` is a tag unless it is a digest (tags contain no colon). */
export function manifestTarget(
  ctx: RepoContext,
  mediaType: string,
  digest: string,
  size: number,
  reference?: string,
): Omit<EventTarget, 'repository'> {
  const tag = reference !== undefined && !reference.includes(':') ? { tag: reference } : {};
  return { mediaType, digest, size, url: ctx.urls.manifest(ctx.name, digest), ...tag };
}
