/**
 * v1 image endpoints (`/v1/images/<id>/…`): GET json (with `X-Docker-Size` and
 * `X-Docker-Checksum-Payload`), ancestry and layer (fixed `Content-Length`, single Range, a 302
 * to the storage backend when redirects are on — imgadm follows 302 only), and the push side:
 * PUT json, layer (streamed) and checksum. An image is pullable only once its checksum verified.
 */
import { Readable } from 'node:stream';
import { EMPTY_GZIP_TAR } from '../../core/bridge/v1-chain.js';
import { notFound } from '../../core/v1/images.js';
import type { V1ImageView } from '../../core/v1/store.js';
import { RegistryError } from '../../errors/registry-error.js';
import { assertWritable, authorizeImage, type V1Context } from './context.js';
import { immutable, isDockerBefore010, notModified, readBody, sendBytes, sendJson, sendTrue } from './http.js';
import { parseByteRange } from '../../http/byte-range.js';
import { sendContent } from '../../http/send-stream.js';

/** A pullable image (complete), after the access check. */
async function pullable(ctx: V1Context, id: string): Promise<V1ImageView> {
  const view = await ctx.store.image(id);
  if (view === undefined) throw notFound(id);
  await authorizeImage(ctx, view.repositories);
  if (!view.complete) throw new RegistryError('V1_IMAGE_IN_PROGRESS');
  return view;
}

async function layerSize(ctx: V1Context, view: V1ImageView): Promise<number | undefined> {
  if (view.layer === undefined) return undefined;
  if (view.layer.empty) return EMPTY_GZIP_TAR.length;
  return view.layer.size ?? (await ctx.deps.registry.blobs.globalSize(view.layer.digest));
}

export async function getImageJson(ctx: V1Context, id: string): Promise<void> {
  const { req, res } = ctx;
  const view = await pullable(ctx, id);
  immutable(res, ctx.now());
  if (notModified(req, res)) return;
  const size = await layerSize(ctx, view);
  if (size !== undefined) res.setHeader('X-Docker-Size', size);
  if (view.checksums.length > 0) res.setHeader('X-Docker-Checksum-Payload', [...view.checksums]);
  sendBytes(req, res, 200, view.json);
}

export async function getImageAncestry(ctx: V1Context, id: string): Promise<void> {
  await pullable(ctx, id);
  const ancestry = await ctx.store.ancestry(id);
  if (ancestry === undefined) throw notFound(id);
  immutable(ctx.res, ctx.now());
  if (notModified(ctx.req, ctx.res)) return;
  sendJson(ctx.req, ctx.res, 200, ancestry, 'keep');
}

export async function getImageLayer(ctx: V1Context, id: string): Promise<void> {
  const { req, res, deps } = ctx;
  const view = await pullable(ctx, id);
  const layer = view.layer;
  const size = await layerSize(ctx, view);
  if (layer === undefined || size === undefined) throw notFound(id);
  immutable(res, ctx.now());
  if (notModified(req, res)) return;
  if (deps.config.storage.redirect && !layer.empty) {
    const url = await deps.registry.blobs.redirectUrl(layer.digest, req.method === 'HEAD' ? 'HEAD' : 'GET', 1200);
    if (url !== undefined) {
      res.statusCode = 302;
      res.setHeader('Location', url);
      res.setHeader('Content-Length', 0);
      res.end();
      return;
    }
  }
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Accept-Ranges', 'bytes');
  const range = parseByteRange(req.headers.range, size);
  if (range === 'invalid') {
    throw new RegistryError('RANGE_INVALID', { message: 'Invalid range', headers: { 'Content-Range': `bytes */${size}` } });
  }
  await sendContent(req, res, size, range, async (offset, length) =>
    layer.empty
      ? Readable.from([EMPTY_GZIP_TAR.subarray(offset, offset + length)])
      : deps.registry.blobs.open(layer.digest, { offset, length, signal: ctx.signal }),
    deps.registry.onBufferBytes,
  );
}

export async function putImageJson(ctx: V1Context, id: string): Promise<void> {
  assertWritable(ctx);
  await ctx.deps.access.authorize(ctx.req, []);
  const body = await readBody(ctx.req, ctx.deps.config.berth.maxManifestBytes);
  await ctx.store.putJson(id, body);
  sendTrue(ctx.req, ctx.res);
}

export async function putImageLayer(ctx: V1Context, id: string): Promise<void> {
  assertWritable(ctx);
  await ctx.deps.access.authorize(ctx.req, []);
  if (isDockerBefore010(ctx.req.headers['user-agent'])) {
    throw new RegistryError('V1_INVALID', { status: 412, message: 'Docker clients older than 0.10 cannot push layers to this registry' });
  }
  await ctx.store.images.putLayer(id, ctx.req, ctx.signal);
  sendTrue(ctx.req, ctx.res);
}

export async function putImageChecksum(ctx: V1Context, id: string): Promise<void> {
  assertWritable(ctx);
  await ctx.deps.access.authorize(ctx.req, []);
  const header = ctx.req.headers['x-docker-checksum-payload'];
  if (header === undefined) {
    throw new RegistryError('V1_CHECKSUM_INVALID', { status: 412, message: 'Missing X-Docker-Checksum-Payload header' });
  }
  const payload = (Array.isArray(header) ? (header[0] ?? '') : header).split(',')[0]?.trim() ?? '';
  if (payload === '') throw new RegistryError('V1_CHECKSUM_INVALID', { message: "Missing Image's checksum" });
  const tarsum = ctx.req.headers['x-docker-checksum'];
  await ctx.store.images.putChecksum(id, payload, typeof tarsum === 'string' ? tarsum : undefined);
  sendTrue(ctx.req, ctx.res);
}
