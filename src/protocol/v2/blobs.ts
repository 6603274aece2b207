/**
 * Blob endpoints: HEAD/GET (with single Range, optional redirect to the backend) and DELETE.
 * Bytes are streamed from the driver to the socket, never buffered.
 */
import { parseDigest } from '../../core/digest.js';
import type { ColdBlob } from '../../core/pull-through.js';
import { RegistryError } from '../../errors/registry-error.js';
import type { RepoContext } from './context.js';
import { blobTarget, emitEvent } from './events.js';
import { parseByteRange } from '../../http/byte-range.js';
import { sendContent } from '../../http/send-stream.js';
import { endEmpty } from './headers.js';

export async function headOrGetBlob(ctx: RepoContext, digestText: string): Promise<void> {
  const { req, res, deps, name } = ctx;
  const digest = parseDigest(digestText);
  let size = await deps.registry.blobs.sizeInRepo(name, digest);
  let cold: ColdBlob | undefined;
  if (size === undefined && deps.proxy?.handles(name) === true) {
    // Pull-through: fetched from the upstream (a live stream of the whole blob when no range is asked).
    const head = req.method === 'HEAD';
    cold = await deps.proxy.blob(name, digest, { head, live: !head && req.headers.range === undefined });
    size = cold?.size;
  }
  if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', { detail: { digest: digest.digest } });

  if (deps.config.storage.redirect && cold === undefined) {
    const method = req.method === 'HEAD' ? 'HEAD' : 'GET';
    const url = await deps.registry.blobs.redirectUrl(digest, method, 1200);
    if (url !== undefined) {
      res.statusCode = 307;
      res.setHeader('Location', url);
      res.setHeader('Docker-Content-Digest', digest.digest);
      res.setHeader('Content-Length', 0);
      res.end();
      if (method === 'GET') emitEvent(ctx, 'pull', blobTarget(ctx, digest.digest, size));
      return;
    }
  }

  res.setHeader('Docker-Content-Digest', digest.digest);
  res.setHeader('ETag', `"${digest.digest}"`);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Cache-Control', 'max-age=31536000');
  res.setHeader('Content-Type', 'application/octet-stream');
  if (cold?.stream !== undefined) {
    const stream = cold.stream;
    await sendContent(req, res, size, undefined, () => Promise.resolve(stream), deps.registry.onBufferBytes);
    emitEvent(ctx, 'pull', blobTarget(ctx, digest.digest, size));
    return;
  }
  const range = parseByteRange(req.headers.range, size);
  if (range === 'invalid') {
    res.setHeader('Content-Range', `bytes */${size}`);
    endEmpty(res, 416);
    return;
  }
  await sendContent(
    req,
    res,
    size,
    range,
    (offset, length) => deps.registry.blobs.open(digest, { offset, length, signal: ctx.signal }),
    deps.registry.onBufferBytes,
  );
  if (req.method === 'GET') emitEvent(ctx, 'pull', blobTarget(ctx, digest.digest, size));
}

export async function deleteBlob(ctx: RepoContext, digestText: string): Promise<void> {
  const { deps, name, res } = ctx;
  if (!deps.config.storage.deleteEnabled) throw new RegistryError('UNSUPPORTED', { message: 'deletes are disabled (storage.delete.enabled)' });
  const digest = parseDigest(digestText);
  if (!(await deps.registry.blobs.unlink(name, digest))) throw new RegistryError('BLOB_UNKNOWN', { detail: { digest: digest.digest } });
  deps.audit(ctx.req, ctx.principal, { api: 'v2', action: 'delete', repository: name, digest: digest.digest });
  endEmpty(res, 202, { 'Docker-Content-Digest': digest.digest });
  emitEvent(ctx, 'delete', { digest: digest.digest });
}
