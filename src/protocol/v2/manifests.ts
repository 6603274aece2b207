/**
 * Manifest endpoints: HEAD/GET (content negotiation, ETag/304, the linux/amd64 child for clients
 * that accept no list type), PUT (size-capped, byte-exact, `?tag=` extra tags, OCI-Subject) and
 * DELETE (by tag: the tag only; by digest: the manifest and every tag on it).
 */
import type { IncomingMessage } from 'node:http';
import type { ParsedDigest } from '../../core/digest.js';
import type { CachedManifest } from '../../core/manifest-cache.js';
import { convertToSchema1, signedForServing, wantsSchema1 } from '../../core/bridge/schema1.js';
import { bareMediaType, MediaTypes } from '../../core/manifests/media-types.js';
import { isLinuxAmd64, type Descriptor, type ParsedManifest } from '../../core/manifests/parse.js';
import { assertTag, parseReference, type Reference } from '../../core/reference.js';
import { readAllCapped } from '../../core/storage-helpers.js';
import { RegistryError } from '../../errors/registry-error.js';
import type { RepoContext } from './context.js';
import { emitEvent, manifestTarget } from './events.js';
import { acceptedTypes, contentLength, endEmpty } from './headers.js';

const LIST_TYPES = [MediaTypes.dockerManifestList, MediaTypes.ociIndex] as const;
const IMAGE_TYPES: readonly string[] = [MediaTypes.dockerSchema2, MediaTypes.ociManifest];

function manifestUnknown(reference: string, message?: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', {
    ...(message !== undefined ? { message } : {}),
    detail: { reference: reference.slice(0, 200) },
  });
}

interface Resolved {
  readonly digest: ParsedDigest;
  readonly manifest: CachedManifest;
}

/**
 * GET/HEAD: a reference that is neither a tag nor a digest names no manifest, so it is 404
 * MANIFEST_UNKNOWN (the OCI conformance suite probes `.INVALID_MANIFEST_NAME` and expects 404);
 * PUT and DELETE keep 400 TAG_INVALID / DIGEST_INVALID.
 */
function referenceForRead(reference: string): Reference {
  try {
    return parseReference(reference);
  } catch (error) {
    if (error instanceof RegistryError) throw manifestUnknown(reference);
    throw error;
  }
}

async function resolve(ctx: RepoContext, reference: string): Promise<Resolved & { byTag: boolean }> {
  const ref = referenceForRead(reference);
  const { registry, proxy } = ctx.deps;
  const mirrored = proxy?.handles(ctx.name) === true;
  const digest =
    ref.kind === 'digest' ? ref.digest : mirrored ? await proxy?.resolveTag(ctx.name, ref.tag) : await registry.tags.resolve(ctx.name, ref.tag);
  if (digest === undefined) throw manifestUnknown(reference);
  const manifest = await getManifest(ctx, digest);
  if (manifest === undefined) throw manifestUnknown(reference);
  return { digest, manifest, byTag: ref.kind === 'tag' };
}

/** The manifest if the repository has it; for a pull-through repository, fetched on a miss. */
async function getManifest(ctx: RepoContext, digest: ParsedDigest): Promise<CachedManifest | undefined> {
  const { registry, proxy } = ctx.deps;
  const local = await registry.manifests.get(ctx.name, digest);
  if (local !== undefined || proxy?.handles(ctx.name) !== true) return local;
  return (await proxy.ensureManifest(ctx.name, digest)) ? registry.manifests.get(ctx.name, digest) : undefined;
}

/**
 * A client that accepts specific types but no list type gets the linux/amd64 child of a list
 * (what distribution does, and what imgadm and old docker need). Otherwise the stored manifest.
 * Schema1 (bridge/schema1.ts): a stored schema1 manifest is served signed; a schema1-only client
 * (`wantsSchema1`) asking by tag gets the image converted to a signed schema1 manifest.
 */
async function negotiate(ctx: RepoContext, found: Resolved & { byTag: boolean }, reference: string): Promise<Resolved> {
  const accepted = acceptedTypes(ctx.req);
  const stored = found.manifest.parsed;
  const secret = ctx.deps.config.http.secret;
  if (stored.kind === 'schema1') return { digest: found.digest, manifest: signedForServing(found.manifest, found.digest, secret) };
  if (found.byTag && wantsSchema1(accepted, ctx.req.headers['user-agent'])) {
    const image = stored.kind === 'index' ? await linuxAmd64Child(ctx, stored.manifests) : stored;
    const converted =
      image === undefined
        ? undefined
        : await convertToSchema1(ctx.deps.registry.blobs, ctx.name, reference, image, { secret, readOnly: ctx.deps.config.storage.readOnly });
    if (converted === undefined) throw manifestUnknown(reference, 'the client accepts only schema1 and this manifest cannot be converted');
    return converted;
  }
  if (stored.kind !== 'index' || !found.byTag || accepted.size === 0 || accepted.has('*/*')) return found;
  if (accepted.has(stored.mediaType) || LIST_TYPES.some((t) => accepted.has(t))) return found;
  // A client that takes any image manifest type takes the other one too in practice: imgadm
  // 3.8–3.9.4 accepts only Docker schema2 but parses OCI image manifests, and most multi-arch
  // images today are OCI indexes of OCI manifests.
  const acceptsImages = IMAGE_TYPES.some((t) => accepted.has(t));
  const child = stored.manifests.find(
    (m) => isLinuxAmd64(m) && (accepted.has(m.mediaType) || (acceptsImages && IMAGE_TYPES.includes(m.mediaType))),
  );
  if (child === undefined) {
    throw manifestUnknown(found.digest.digest, 'manifest list found, but the client accepts no list type and no linux/amd64 image matches');
  }
  const manifest = await getManifest(ctx, child.digest);
  if (manifest === undefined) throw manifestUnknown(child.digest.digest);
  return { digest: child.digest, manifest };
}

async function linuxAmd64Child(ctx: RepoContext, children: readonly Descriptor[]): Promise<ParsedManifest | undefined> {
  const child = children.find(isLinuxAmd64);
  if (child === undefined) return undefined;
  return (await getManifest(ctx, child.digest))?.parsed;
}

export async function headOrGetManifest(ctx: RepoContext, reference: string): Promise<void> {
  const { req, res } = ctx;
  const chosen = await negotiate(ctx, await resolve(ctx, reference), reference);
  const etag = `"${chosen.digest.digest}"`;
  res.setHeader('Docker-Content-Digest', chosen.digest.digest);
  res.setHeader('ETag', etag);
  res.setHeader('Content-Type', chosen.manifest.parsed.mediaType);
  const inm = req.headers['if-none-match'];
  if (inm !== undefined && inm.split(',').some((t) => t.trim() === etag || t.trim() === chosen.digest.digest)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Length', chosen.manifest.bytes.length);
  res.end(req.method === 'HEAD' ? undefined : chosen.manifest.bytes);
  if (req.method === 'GET') emitEvent(ctx, 'pull', manifestTarget(ctx, chosen.manifest.parsed.mediaType, chosen.digest.digest, chosen.manifest.bytes.length, reference));
}

/**
 * The Content-Type the manifest is checked against. Joyent's docker-registry-client (2.x–3.x,
 * `putManifest`) labels every schemaVersion 2 manifest it pushes — OCI manifests, lists and
 * indexes too — as Docker schema2; for that client alone the body's `mediaType` decides, so its
 * pushes keep working while any other mismatch is MANIFEST_INVALID.
 */
function manifestContentType(req: IncomingMessage): string | undefined {
  const contentType = req.headers['content-type'];
  const agent = req.headers['user-agent'];
  if (agent?.startsWith('node-docker-registry-client/') === true && bareMediaType(contentType) === MediaTypes.dockerSchema2) return undefined;
  return contentType;
}

export async function putManifest(ctx: RepoContext, reference: string): Promise<void> {
  const { req, res, deps, name } = ctx;
  if (deps.config.storage.readOnly) throw new RegistryError('UNSUPPORTED', { message: 'registry is in read-only mode' });
  const ref = parseReference(reference);
  const extraTags = ctx.query.getAll('tag').map(assertTag);
  if (extraTags.length > 100) throw new RegistryError('TAG_INVALID', { message: 'too many tag parameters (max 100)' });
  const max = deps.config.berth.maxManifestBytes;
  const declared = contentLength(req);
  const tooLarge = (): RegistryError =>
    new RegistryError('SIZE_INVALID', { status: 413, message: `manifest exceeds the ${max} byte limit`, detail: { limit: max } });
  if (declared !== undefined && declared > max) {
    req.resume();
    throw tooLarge();
  }
  const bytes = await readAllCapped(req, max, tooLarge);
  if (declared !== undefined && bytes.length !== declared) throw new RegistryError('SIZE_INVALID', { message: 'body shorter than Content-Length' });
  if (bytes.length === 0) throw new RegistryError('MANIFEST_INVALID', { message: 'empty manifest body' });
  const tags = ref.kind === 'tag' ? [ref.tag, ...extraTags] : extraTags;
  const result = await deps.registry.manifests.put(name, bytes, manifestContentType(req), ref.kind === 'digest' ? ref.digest : undefined, [
    ...new Set(tags),
  ]);
  const headers: Record<string, string> = {
    Location: ctx.urls.manifest(name, result.digest.digest),
    'Docker-Content-Digest': result.digest.digest,
  };
  if (result.parsed.subject !== undefined) headers['OCI-Subject'] = result.parsed.subject.digest.digest;
  if (extraTags.length > 0) res.setHeader('OCI-Tag', result.tags);
  deps.audit(req, ctx.principal, { api: 'v2', action: 'push', repository: name, reference: ref.kind === 'tag' ? ref.tag : result.digest.digest, digest: result.digest.digest });
  for (const tag of result.tags) deps.audit(req, ctx.principal, { api: 'v2', action: 'tag', repository: name, reference: tag, digest: result.digest.digest });
  endEmpty(res, 201, headers);
  for (const tag of result.tags.length > 0 ? result.tags : [undefined]) emitEvent(ctx, 'push', manifestTarget(ctx, result.parsed.mediaType, result.digest.digest, bytes.length, tag));
}

export async function deleteManifest(ctx: RepoContext, reference: string): Promise<void> {
  const { deps, name, res } = ctx;
  if (!deps.config.storage.deleteEnabled) throw new RegistryError('UNSUPPORTED', { message: 'deletes are disabled (storage.delete.enabled)' });
  if (deps.config.storage.readOnly) throw new RegistryError('UNSUPPORTED', { message: 'registry is in read-only mode' });
  const ref = parseReference(reference);
  const removed =
    ref.kind === 'tag' ? await deps.registry.tags.delete(name, ref.tag) : await deps.registry.manifests.delete(name, ref.digest);
  if (!removed) throw manifestUnknown(reference);
  deps.audit(ctx.req, ctx.principal, {
    api: 'v2',
    action: ref.kind === 'tag' ? 'untag' : 'delete',
    repository: name,
    reference,
    ...(ref.kind === 'digest' ? { digest: ref.digest.digest } : {}),
  });
  endEmpty(res, 202);
  emitEvent(ctx, 'delete', ref.kind === 'tag' ? { tag: ref.tag } : { digest: ref.digest.digest });
}
