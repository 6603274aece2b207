/**
 * Blob upload endpoints: POST (session, monolithic `?digest=`, cross-repository `?mount=&from=`
 * and automatic content discovery), PATCH (chunked with Content-Range, or streamed without),
 * PUT (finish, digest verified), GET (status) and DELETE (cancel). State lives in storage (see
 * core/uploads.ts); the Location URL is signed when `http.secret` is set.
 */
import { assertName } from '../../core/reference.js';
import { parseDigest } from '../../core/digest.js';
import { UPLOAD_ID, type UploadSession } from '../../core/uploads.js';
import { RegistryError } from '../../errors/registry-error.js';
import type { RepoContext } from './context.js';
import { blobTarget, emitEvent } from './events.js';
import { contentLength, endEmpty, hasBody, parseContentRange } from './headers.js';

function rangeHeader(size: number): string {
  return `0-${Math.max(size - 1, 0)}`;
}

function sessionHeaders(ctx: RepoContext, session: UploadSession, size: number): Record<string, string> {
  return {
    Location: ctx.urls.upload(ctx.name, session.id, ctx.deps.tokens.sign(ctx.name, session.id)),
    Range: rangeHeader(size),
    'Docker-Upload-UUID': session.id,
  };
}

function blobCreated(ctx: RepoContext, digest: string): void {
  endEmpty(ctx.res, 201, { Location: ctx.urls.blob(ctx.name, digest), 'Docker-Content-Digest': digest });
}

function assertWritable(ctx: RepoContext): void {
  if (ctx.deps.config.storage.readOnly) {
    throw new RegistryError('UNSUPPORTED', { message: 'registry is in read-only mode (storage.maintenance.readonly)' });
  }
}

export async function startUpload(ctx: RepoContext): Promise<void> {
  assertWritable(ctx);
  const { deps, name, query, req } = ctx;
  const { registry } = deps;
  const mount = query.get('mount');
  if (mount !== null) {
    const digest = parseDigest(mount);
    // Touch before checking the blob exists, so a concurrent garbage collection keeps it.
    await registry.blobs.touch(digest);
    const from = query.get('from');
    if (from !== null && from !== '') {
      assertName(from);
      if ((await deps.access.canPull(ctx.principal, from)) && (await registry.blobs.sizeInRepo(from, digest)) !== undefined) {
        await registry.blobs.link(name, digest);
        blobCreated(ctx, digest.digest);
        emitEvent(ctx, 'mount', { ...blobTarget(ctx, digest.digest), fromRepository: from });
        return;
      }
    } else if ((await registry.blobs.globalSize(digest)) !== undefined) {
      // Automatic content discovery: the blob is already in the store, so mount it.
      await registry.blobs.link(name, digest);
      blobCreated(ctx, digest.digest);
      emitEvent(ctx, 'mount', blobTarget(ctx, digest.digest));
      return;
    }
  }
  const digestParam = query.get('digest');
  const session = await registry.uploads.start(name);
  if (digestParam !== null && mount === null) {
    const digest = parseDigest(digestParam);
    const length = contentLength(req);
    const { size } = await registry.uploads.complete(name, session.id, digest, hasBody(req) ? req : undefined, {
      ...(length !== undefined ? { length } : {}),
      signal: ctx.signal,
    });
    blobCreated(ctx, digest.digest);
    emitEvent(ctx, 'push', blobTarget(ctx, digest.digest, size));
    return;
  }
  endEmpty(ctx.res, 202, sessionHeaders(ctx, session, 0));
}

async function session(ctx: RepoContext, id: string): Promise<UploadSession> {
  if (!UPLOAD_ID.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', { detail: { uuid: id.slice(0, 100) } });
  const state = ctx.query.get('_state') ?? undefined;
  if (!ctx.deps.tokens.verify(ctx.name, id, state)) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', { message: 'upload URL is not valid for this registry (bad _state)' });
  }
  return ctx.deps.registry.uploads.get(ctx.name, id);
}

/** Reads Content-Range/Content-Length into append options, checking they agree. */
function chunkOptions(ctx: RepoContext): { start?: number; length?: number; signal: AbortSignal } {
  const range = parseContentRange(ctx.req.headers['content-range']);
  const length = contentLength(ctx.req);
  if (range !== undefined && length !== undefined && length !== range.end - range.start + 1) {
    throw new RegistryError('SIZE_INVALID', { message: 'Content-Length does not match Content-Range' });
  }
  const declared = length ?? (range !== undefined ? range.end - range.start + 1 : undefined);
  return {
    ...(range !== undefined ? { start: range.start } : {}),
    ...(declared !== undefined ? { length: declared } : {}),
    signal: ctx.signal,
  };
}

export async function patchUpload(ctx: RepoContext, id: string): Promise<void> {
  assertWritable(ctx);
  const s = await session(ctx, id);
  const size = await ctx.deps.registry.uploads.append(ctx.name, s.id, ctx.req, chunkOptions(ctx));
  endEmpty(ctx.res, 202, sessionHeaders(ctx, s, size));
}

export async function putUpload(ctx: RepoContext, id: string): Promise<void> {
  assertWritable(ctx);
  const digestParams = ctx.query.getAll('digest');
  if (digestParams.length === 0) throw new RegistryError('DIGEST_INVALID', { message: 'digest query parameter is required' });
  const digests = digestParams.map(parseDigest);
  const s = await session(ctx, id);
  const primary = digests[0];
  if (primary === undefined) throw new RegistryError('DIGEST_INVALID');
  const { size } = await ctx.deps.registry.uploads.complete(ctx.name, s.id, primary, hasBody(ctx.req) ? ctx.req : undefined, chunkOptions(ctx));
  blobCreated(ctx, primary.digest);
  emitEvent(ctx, 'push', blobTarget(ctx, primary.digest, size));
}

export async function uploadStatus(ctx: RepoContext, id: string): Promise<void> {
  const s = await session(ctx, id);
  const size = await ctx.deps.registry.uploads.size(ctx.name, s.id);
  endEmpty(ctx.res, 204, sessionHeaders(ctx, s, size));
}

export async function cancelUpload(ctx: RepoContext, id: string): Promise<void> {
  const s = await session(ctx, id);
  await ctx.deps.registry.uploads.cancel(ctx.name, s.id);
  endEmpty(ctx.res, 204);
}
