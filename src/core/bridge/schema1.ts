/**
 * Docker schema1 manifests for old v2 clients (docker 1.6–1.9 accept nothing else), as
 * distribution 2.x handled them:
 *
 * - push: a signed manifest (`…v1+prettyjws`) must verify; what is stored is its canonical
 *   payload (the document without `signatures`), and the digest is computed over that payload,
 *   so re-signing never changes it. An unsigned one (`…v1+json`) is stored as sent.
 * - pull: a stored schema1 manifest is re-signed with the registry's key on the way out; a
 *   schema2/OCI image (or the linux/amd64 image of a list) asked for by tag by a schema1-only
 *   client is converted with the v1 bridge (`v1-chain.ts`: the same v1 IDs distribution gave) and
 *   signed. The digest sent is that of the converted payload.
 *
 * Negotiation rule ({@link wantsSchema1}): schema1 is served when the Accept header lists a
 * schema1 type (`…v1+json`, `…v1+prettyjws`, or plain `application/json`, which docker 1.x and
 * some clients send) but no schema2, OCI, list or `*∕*` type; or when there is no Accept header at
 * all and the User-Agent is docker older than 1.10 (docker 1.6–1.9 send no Accept) or Joyent's
 * `node-docker-registry-client` (it sends no Accept exactly when limited to schema1,
 * `maxSchemaVersion: 1`, and asks with schema2/OCI types otherwise). Any other client — curl
 * without Accept included — gets what negotiation without schema1 gives.
 */
import type { BlobStore } from '../blob-store.js';
import { digestOf, tryParseDigest, type ParsedDigest } from '../digest.js';
import type { CachedManifest } from '../manifest-cache.js';
import { MediaTypes } from '../manifests/media-types.js';
import { parseManifest, type ParsedManifest } from '../manifests/parse.js';
import { goIndent, type GoValue } from './go-json.js';
import { JwsError, signPretty, signingKeyFor, verifyPretty } from './jws.js';
import { BridgeError, EMPTY_GZIP_TAR, EMPTY_GZIP_TAR_DIGEST, v1ChainFromImage, type V1Image } from './v1-chain.js';
import { isRecord } from '../json.js';

const SCHEMA1_TYPES = [MediaTypes.dockerSchema1, MediaTypes.dockerSchema1Signed, 'application/json'];
const MODERN_TYPES = [MediaTypes.dockerSchema2, MediaTypes.ociManifest, MediaTypes.dockerManifestList, MediaTypes.ociIndex, '*/*', 'application/*'];

/** A User-Agent that sends no Accept header only when it can take nothing but schema1. */
export function isSchema1OnlyAgent(userAgent: string | undefined): boolean {
  const ua = userAgent ?? '';
  if (/^node-docker-registry-client\//i.test(ua)) return true;
  const m = /(?:^|[\s(])docker\/(\d+)\.(\d+)/i.exec(ua);
  if (m === null) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major === 0 || (major === 1 && minor < 10);
}

/** The negotiation rule (see the module comment). `accepted` are bare media types, lowercased. */
export function wantsSchema1(accepted: ReadonlySet<string>, userAgent: string | undefined): boolean {
  if (accepted.size === 0) return isSchema1OnlyAgent(userAgent);
  if (MODERN_TYPES.some((t) => accepted.has(t))) return false;
  return SCHEMA1_TYPES.some((t) => accepted.has(t));
}

export class Schema1Error extends Error {
  override readonly name = 'Schema1Error';
  constructor(
    message: string,
    readonly unverified: boolean,
  ) {
    super(message);
  }
}

/**
 * The bytes to store for a pushed schema1 manifest: the verified canonical payload of a signed
 * one, the bytes as sent for an unsigned one. Throws Schema1Error (unverified = true) when a
 * signature is present but does not verify.
 */
export function canonicalSchema1(bytes: Buffer, json: Readonly<Record<string, unknown>>): Buffer {
  if (json['signatures'] === undefined) return bytes;
  try {
    return verifyPretty(bytes).payload;
  } catch (error) {
    if (error instanceof JwsError) throw new Schema1Error(error.message, true);
    throw error;
  }
}

/** A schema1 manifest payload (unsigned) for a v1 chain, laid out as distribution's `Sign` input. */
export function schema1FromChain(name: string, tag: string, architecture: string, chain: readonly V1Image[]): Buffer {
  const topFirst = [...chain].reverse();
  const doc: GoValue = {
    schemaVersion: 1,
    name,
    tag,
    architecture,
    fsLayers: topFirst.map((image) => ({ blobSum: image.blobSum.digest })),
    history: topFirst.map((image) => ({ v1Compatibility: image.json.toString('utf8') })),
  };
  return Buffer.from(goIndent(doc, '', '   '));
}

interface SignedEntry {
  readonly bytes: Buffer;
  readonly parsed: ParsedManifest;
}

/** Signed output per (key, payload digest); signatures stay valid, so caching them is safe. */
const signedCache = new Map<string, SignedEntry>();
const SIGNED_CACHE_MAX = 512;

function remember(key: string, entry: SignedEntry): SignedEntry {
  signedCache.set(key, entry);
  if (signedCache.size > SIGNED_CACHE_MAX) {
    const oldest = signedCache.keys().next();
    if (oldest.done !== true) signedCache.delete(oldest.value);
  }
  return entry;
}

/** A stored schema1 manifest as served: re-signed with the registry key unless it carries signatures. */
export function signedForServing(manifest: CachedManifest, digest: ParsedDigest, secret: string | undefined): CachedManifest {
  if (manifest.parsed.json['signatures'] !== undefined) return manifest;
  const key = signingKeyFor(secret);
  const cacheKey = `${key.jwk.kid}\u0000${digest.digest}`;
  const hit = signedCache.get(cacheKey);
  if (hit !== undefined) return hit;
  const bytes = signPretty(manifest.bytes, key);
  return remember(cacheKey, { bytes, parsed: { ...manifest.parsed, mediaType: MediaTypes.dockerSchema1Signed } });
}

export interface ConvertedSchema1 {
  readonly digest: ParsedDigest;
  readonly manifest: CachedManifest;
}

/**
 * Converts a schema2/OCI image manifest (already picked from a list if it was one) to a signed
 * schema1 manifest for `name:tag`. Makes sure the gzipped empty tar its empty steps reference is
 * a blob of the repository (as distribution did), unless the registry is read-only. Returns
 * undefined when the image cannot be expressed as schema1 (no config, foreign layers, a config
 * that is not JSON).
 */
export async function convertToSchema1(
  blobs: BlobStore,
  name: string,
  tag: string,
  image: ParsedManifest,
  options: { readonly secret: string | undefined; readonly readOnly: boolean },
): Promise<ConvertedSchema1 | undefined> {
  if (image.kind !== 'image' || image.config === undefined) return undefined;
  const configBytes = await blobs.getSmall(image.config.digest);
  if (configBytes === undefined) return undefined;
  let chain: V1Image[];
  try {
    chain = v1ChainFromImage(image.layers, configBytes);
  } catch (error) {
    if (error instanceof BridgeError) return undefined;
    throw error;
  }
  const config: unknown = JSON.parse(configBytes.toString('utf8'));
  const architecture = isRecord(config) && typeof config['architecture'] === 'string' ? config['architecture'] : '';
  const payload = schema1FromChain(name, tag, architecture, chain);
  const digest = tryParseDigest(digestOf(payload));
  if (digest === undefined) throw new Error('internal: bad digest');
  if (chain.some((c) => c.throwaway) && !options.readOnly) await ensureEmptyTar(blobs, name);
  const key = signingKeyFor(options.secret);
  const cacheKey = `${key.jwk.kid}\u0000${digest.digest}`;
  const hit = signedCache.get(cacheKey);
  if (hit !== undefined) return { digest, manifest: hit };
  const bytes = signPretty(payload, key);
  const parsed = { ...parseManifest(payload), mediaType: MediaTypes.dockerSchema1Signed };
  return { digest, manifest: remember(cacheKey, { bytes, parsed }) };
}

/** Stores and links the gzipped empty tar into the repository (idempotent). */
export async function ensureEmptyTar(blobs: BlobStore, name: string): Promise<void> {
  const digest = tryParseDigest(EMPTY_GZIP_TAR_DIGEST);
  if (digest === undefined) throw new Error('internal: empty tar digest');
  if ((await blobs.sizeInRepo(name, digest)) !== undefined) return;
  await blobs.putSmall(digest, EMPTY_GZIP_TAR);
  await blobs.link(name, digest);
}
