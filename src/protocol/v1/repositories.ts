/**
 * v1 repository endpoints (`/v1/repositories/<name>/…`), registry and standalone-index roles:
 *
 * - tags: list (every v2 tag with a v1 view, mapped to its v1 top image ID), get, put (which
 *   makes the image pullable over v2 too), delete, tag metadata JSON, repository delete;
 * - index: `PUT /repositories/<name>/` (the push's first call: image list, token, endpoints),
 *   `PUT …/images` (the push's last call: 204), `GET …/images` (a pull's first call),
 *   `DELETE …/images`, `PUT …/auth`.
 *
 * Names: `library/x` ≡ `x` (core/v1/names.ts).
 */
import { assertV1Id, assertV1Tag, parseV1Name, type V1Name } from '../../core/v1/names.js';
import type { IndexImage, TagMetadata } from '../../core/v1/store.js';
import { RegistryError } from '../../errors/registry-error.js';
import type { Principal } from '../../auth/access.js';
import { assertDeletable, assertNotProxied, assertWritable, authorizeRepository, type V1Context } from './context.js';
import { indexHeaders, parseJsonBody, readBody, sendEmpty, sendJson, sendTrue, type TokenAccess } from './http.js';
import { isRecord } from '../../core/json.js';

const MAX_INDEX_BODY = 4 * 1024 * 1024;

function repositoryUnknown(name: V1Name): RegistryError {
  return new RegistryError('V1_REPOSITORY_UNKNOWN', { detail: { name: name.v1 } });
}

/** The existing v2 repository a v1 read names, after the pull check. */
async function readable(ctx: V1Context, raw: string): Promise<{ name: V1Name; repository: string }> {
  const name = parseV1Name(raw);
  const repository = await ctx.store.repositoryFor(name);
  await authorizeRepository(ctx, repository ?? name.v2, ['pull']);
  if (repository === undefined) throw repositoryUnknown(name);
  return { name, repository };
}

export async function getTags(ctx: V1Context, raw: string): Promise<void> {
  const { repository } = await readable(ctx, raw);
  const tags = await ctx.store.tagsIn(repository);
  const body: Record<string, string> = {};
  for (const tag of [...tags.keys()].sort()) body[tag] = tags.get(tag) ?? '';
  sendJson(ctx.req, ctx.res, 200, body);
}

export async function getTag(ctx: V1Context, raw: string, tag: string): Promise<void> {
  assertV1Tag(tag);
  const { repository } = await readable(ctx, raw);
  const id = await ctx.store.tagIn(repository, tag);
  if (id === undefined) throw new RegistryError('V1_TAG_UNKNOWN', { detail: { tag } });
  sendJson(ctx.req, ctx.res, 200, id);
}

function defaultMetadata(): Record<keyof TagMetadata, null> {
  return { last_update: null, docker_version: null, docker_go_version: null, arch: null, kernel: null, os: null };
}

export async function getTagJson(ctx: V1Context, raw: string, tag: string): Promise<void> {
  assertV1Tag(tag);
  const { repository } = await readable(ctx, raw);
  if ((await ctx.deps.registry.tags.resolve(repository, tag)) === undefined) throw new RegistryError('V1_TAG_UNKNOWN', { detail: { tag } });
  sendJson(ctx.req, ctx.res, 200, (await ctx.store.tagMetadata(repository, tag)) ?? defaultMetadata());
}

/** `GET /repositories/<name>/json`: the metadata of `latest` (deprecated in registry 0.9). */
export async function getRepositoryJson(ctx: V1Context, raw: string): Promise<void> {
  const { repository } = await readable(ctx, raw);
  sendJson(ctx.req, ctx.res, 200, (await ctx.store.tagMetadata(repository, 'latest')) ?? defaultMetadata());
}

export async function putTag(ctx: V1Context, raw: string, tag: string): Promise<void> {
  assertWritable(ctx);
  const name = parseV1Name(raw);
  assertNotProxied(ctx, name.v2);
  assertV1Tag(tag);
  const principal = await authorizeRepository(ctx, name.v2, ['pull', 'push']);
  const data = parseJsonBody(await readBody(ctx.req, 4096));
  if (typeof data !== 'string' || data === '') throw new RegistryError('V1_INVALID', { message: 'Invalid data' });
  const id = assertV1Id(data);
  await ctx.store.putTag(name.v2, tag, id, ctx.req.headers['user-agent'], ctx.now());
  ctx.deps.audit(ctx.req, principal, { api: 'v1', action: 'tag', repository: name.v2, reference: tag, digest: id });
  sendTrue(ctx.req, ctx.res);
}

export async function deleteTag(ctx: V1Context, raw: string, tag: string): Promise<void> {
  assertDeletable(ctx);
  const name = parseV1Name(raw);
  assertV1Tag(tag);
  const repository = (await ctx.store.repositoryFor(name)) ?? name.v2;
  const principal = await authorizeRepository(ctx, repository, ['delete']);
  if (!(await ctx.store.deleteTag(repository, tag))) throw new RegistryError('V1_TAG_UNKNOWN', { message: `Tag not found: ${tag}` });
  ctx.deps.audit(ctx.req, principal, { api: 'v1', action: 'untag', repository, reference: tag });
  sendTrue(ctx.req, ctx.res);
}

export async function deleteRepository(ctx: V1Context, raw: string): Promise<void> {
  assertDeletable(ctx);
  const name = parseV1Name(raw);
  const repository = (await ctx.store.repositoryFor(name)) ?? name.v2;
  const principal = await authorizeRepository(ctx, repository, ['delete']);
  if (!(await ctx.store.deleteRepository(name))) throw repositoryUnknown(name);
  ctx.deps.audit(ctx.req, principal, { api: 'v1', action: 'delete', repository });
  sendTrue(ctx.req, ctx.res);
}

// ---- index role

function indexAnswer(ctx: V1Context, principal: Principal, name: V1Name, access: TokenAccess): void {
  indexHeaders(ctx.req, ctx.res, ctx.deps.config, name.v1, access, ctx.deps.access.v1Token?.(principal, name.v1, access));
}

/** `[{"id": …, "Tag"?: …, "checksum"?: …}]` as docker sends it. */
async function imageList(ctx: V1Context): Promise<IndexImage[]> {
  const data = parseJsonBody(await readBody(ctx.req, MAX_INDEX_BODY));
  if (!Array.isArray(data)) throw new RegistryError('V1_INVALID', { message: 'Invalid data: expected a JSON list of images' });
  return data.map((entry: unknown) => {
    if (!isRecord(entry) || typeof entry['id'] !== 'string') throw new RegistryError('V1_INVALID', { message: 'Invalid data: image entries need an id' });
    const id = assertV1Id(entry['id']);
    const checksum = entry['checksum'];
    return { id, ...(typeof checksum === 'string' && checksum !== '' ? { checksum } : {}) };
  });
}

/** `PUT /repositories/<name>/`: a push starts; answers 200 `""` with token and endpoints. */
export async function putRepository(ctx: V1Context, raw: string): Promise<void> {
  assertWritable(ctx);
  const name = parseV1Name(raw);
  assertNotProxied(ctx, name.v2);
  const principal = await authorizeRepository(ctx, name.v2, ['pull', 'push']);
  await ctx.store.mergeIndexImages(name.v2, await imageList(ctx));
  indexAnswer(ctx, principal, name, 'write');
  sendJson(ctx.req, ctx.res, 200, '');
}

/** `PUT /repositories/<name>/images`: a push ends (docker requires exactly 204). */
export async function putRepositoryImages(ctx: V1Context, raw: string): Promise<void> {
  assertWritable(ctx);
  const name = parseV1Name(raw);
  assertNotProxied(ctx, name.v2);
  const principal = await authorizeRepository(ctx, name.v2, ['pull', 'push']);
  const images = await imageList(ctx);
  if (images.length > 0) await ctx.store.mergeIndexImages(name.v2, images);
  indexAnswer(ctx, principal, name, 'write');
  sendEmpty(ctx.res, 204);
}

/** `GET /repositories/<name>/images`: a pull starts (token, endpoints); the list as pushed. */
export async function getRepositoryImages(ctx: V1Context, raw: string): Promise<void> {
  const name = parseV1Name(raw);
  const repository = await ctx.store.repositoryFor(name);
  const principal = await authorizeRepository(ctx, repository ?? name.v2, ['pull']);
  const images = await ctx.store.indexImages(repository ?? name.v2);
  if (repository === undefined && images === undefined) throw repositoryUnknown(name);
  indexAnswer(ctx, principal, name, 'read');
  sendJson(ctx.req, ctx.res, 200, images ?? []);
}

export async function deleteRepositoryImages(ctx: V1Context, raw: string): Promise<void> {
  assertDeletable(ctx);
  const name = parseV1Name(raw);
  const principal = await authorizeRepository(ctx, name.v2, ['delete']);
  indexAnswer(ctx, principal, name, 'delete');
  sendEmpty(ctx.res, 204);
}

/** `PUT /repositories/<name>/auth`: the registry→index token check of the old delete flow. */
export async function putRepositoryAuth(ctx: V1Context, raw: string): Promise<void> {
  const name = parseV1Name(raw);
  await authorizeRepository(ctx, name.v2, ['pull']);
  sendJson(ctx.req, ctx.res, 200, 'OK');
}
