/**
 * Shared by the GC, scrub and repository-delete tests: a store populated through the real APIs
 * (v2 images with shared layers, a multi-platform index, a referrer, a v1 push, a v2 image seen
 * through the v1 bridge, deleted images and an orphan blob), byte-exact pulls back through the v2
 * and v1 APIs, and views of the storage itself (blob digests, bytes, a whole-tree snapshot).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { PathNotFoundError } from '../../storage-drivers/errors.js';
import { binary, pushBlob, type TestApp } from '../helpers/build-app.js';
import { buildImage, buildMultiPlatform, MediaType, type Blob, type BuiltImage } from '../helpers/oci-image.js';
import { pushBuiltV2, pushV1, v1Chain, DOCKER_UA, type V1Fixture } from '../protocol/v1-fixtures.js';

const ACCEPT = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerList].join(', ');

/** What must pull back byte-identical: a manifest under a reference and the blobs it needs. */
export interface Expected {
  readonly repo: string;
  readonly ref: string;
  readonly manifest: Buffer;
  readonly blobs: readonly Buffer[];
}

/** What a populated store holds and what its GC must remove. */
export interface Population {
  readonly keep: Expected[];
  /** Blobs only deleted images referenced (digest → size). */
  readonly garbage: Map<string, number>;
  readonly v1: { repo: string; tag: string; chain: V1Fixture[] };
  readonly bridged: { repo: string; tag: string };
  /** Untagged manifests (kept without --delete-untagged). */
  readonly untagged: Expected[];
  /** A referrer of an untagged image: goes with it under --delete-untagged. */
  readonly orphanReferrer: Expected;
  /** An untagged image whose tagged signature keeps it under --delete-untagged. */
  readonly signedUntagged: Expected;
}

export function sha(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function imageExpected(repo: string, ref: string, img: BuiltImage): Expected {
  return { repo, ref, manifest: img.manifest.bytes, blobs: [...img.layers.map((l) => l.bytes), img.config.bytes] };
}

async function putManifest(t: TestApp, repo: string, ref: string, blob: Blob): Promise<void> {
  const res = await t.http.put(`/v2/${repo}/manifests/${ref}`).set('Content-Type', blob.mediaType).send(blob.bytes.toString());
  assert.equal(res.status, 201, res.text);
}

/** An OCI artifact (one layer) whose subject is `subject`. */
async function pushReferrer(t: TestApp, repo: string, subject: Blob, ref?: string): Promise<Expected> {
  const empty = Buffer.from('{}');
  const payload = randomBytes(300);
  await pushBlob(t, repo, empty);
  await pushBlob(t, repo, payload);
  const json = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: 'application/vnd.example.signature',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: 2 },
    layers: [{ mediaType: 'application/octet-stream', digest: sha(payload), size: payload.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  const bytes = Buffer.from(JSON.stringify(json));
  const digest = sha(bytes);
  await putManifest(t, repo, ref ?? digest, { mediaType: MediaType.ociManifest, digest, size: bytes.length, bytes });
  return { repo, ref: digest, manifest: bytes, blobs: [empty, payload] };
}

export async function populate(t: TestApp): Promise<Population> {
  const keep: Expected[] = [];
  const garbage = new Map<string, number>();
  const untagged: Expected[] = [];
  // Two images in "app" sharing a layer with an image in "other".
  const a1 = buildImage({ layers: 2 });
  const a2 = buildImage({ layers: 1 });
  await pushBuiltV2(t, 'team/app', '1', a1);
  await pushBuiltV2(t, 'team/app', '2', a2);
  keep.push(imageExpected('team/app', '1', a1));
  const sharedLayer = a1.layers[0];
  assert.ok(sharedLayer !== undefined);
  const b = buildImage({ layers: 1, format: 'docker' });
  const bLayers = [sharedLayer, ...b.layers];
  const bManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, digest: b.config.digest, size: b.config.size },
    layers: bLayers.map((l) => ({ mediaType: MediaType.dockerLayerGzip, digest: l.digest, size: l.size })),
  };
  const bManifest = Buffer.from(JSON.stringify(bManifestJson));
  for (const blob of [...bLayers.map((l) => l.bytes), b.config.bytes]) await pushBlob(t, 'other', blob);
  await putManifest(t, 'other', 'latest', { mediaType: MediaType.dockerManifest, digest: sha(bManifest), size: bManifest.length, bytes: bManifest });
  keep.push({ repo: 'other', ref: 'latest', manifest: bManifest, blobs: [...bLayers.map((l) => l.bytes), b.config.bytes] });
  // A multi-platform index: children pushed by digest (untagged), the index tagged.
  const multi = buildMultiPlatform();
  for (const img of multi.images) await pushBuiltV2(t, 'multi', img.manifest.digest, img);
  await putManifest(t, 'multi', 'v1', multi.index);
  keep.push({ repo: 'multi', ref: 'v1', manifest: multi.index.bytes, blobs: [] });
  for (const img of multi.images) keep.push(imageExpected('multi', img.manifest.digest, img));
  // A referrer (signature) of a1, untagged: kept with its subject.
  keep.push(await pushReferrer(t, 'team/app', a1.manifest));
  // An untagged image with a tagged signature, and an untagged image with an untagged referrer.
  const signed = buildImage({ layers: 1 });
  await pushBuiltV2(t, 'team/app', signed.manifest.digest, signed);
  const signedExpected = imageExpected('team/app', signed.manifest.digest, signed);
  keep.push(await pushReferrer(t, 'team/app', signed.manifest, `sha256-${signed.manifest.digest.slice(7)}.sig`));
  const loose = buildImage({ layers: 1 });
  await pushBuiltV2(t, 'team/app', loose.manifest.digest, loose);
  const looseExpected = imageExpected('team/app', loose.manifest.digest, loose);
  untagged.push(looseExpected, signedExpected);
  const orphanReferrer = await pushReferrer(t, 'team/app', loose.manifest);
  // v1 push (2 images) and a v2 image seen through the v1 bridge.
  const chain = v1Chain(2);
  await pushV1(t, 'legacy', 'old', chain);
  const bridgedImage = buildImage({ layers: 2, format: 'docker' });
  await pushBuiltV2(t, 'bridged', 'latest', bridgedImage);
  keep.push(imageExpected('bridged', 'latest', bridgedImage));
  const tags = await t.http.get('/v1/repositories/bridged/tags').set('User-Agent', DOCKER_UA).expect(200);
  assert.ok(typeof (tags.body as Record<string, unknown>)['latest'] === 'string');
  // Garbage: a2 deleted by digest (its layer and config are unique to it), a deleted repository's
  // worth of blobs, and an orphan blob never referenced.
  const a2Digest = a2.manifest.digest;
  await t.http.delete(`/v2/team/app/manifests/${a2Digest}`).expect(202);
  for (const blob of [...a2.layers, a2.config, a2.manifest]) garbage.set(blob.digest, blob.size);
  const orphan = randomBytes(5000);
  await pushBlob(t, 'scratch', orphan);
  garbage.set(sha(orphan), orphan.length);
  return { keep, garbage, v1: { repo: 'legacy', tag: 'old', chain }, bridged: { repo: 'bridged', tag: 'latest' }, untagged, orphanReferrer, signedUntagged: signedExpected };
}

/** Pulls through the v2 API and compares every byte. */
export async function pullBack(t: TestApp, e: Expected): Promise<void> {
  const res = await t.http.get(`/v2/${e.repo}/manifests/${e.ref}`).set('Accept', ACCEPT).buffer(true).parse(binary);
  assert.equal(res.status, 200, `${e.repo}:${e.ref} manifest: ${res.status}`);
  assert.ok((res.body as Buffer).equals(e.manifest), `${e.repo}:${e.ref} manifest bytes`);
  for (const blob of e.blobs) {
    const got = await t.http.get(`/v2/${e.repo}/blobs/${sha(blob)}`).buffer(true).parse(binary);
    assert.equal(got.status, 200, `${e.repo} blob ${sha(blob)}: ${got.status}`);
    assert.ok((got.body as Buffer).equals(blob), `${e.repo} blob ${sha(blob)} bytes`);
  }
}

/** The v1 image pulls back over v1 (every layer) and its tag over v2 (the synthesized image). */
export async function pullV1(t: TestApp, p: Population): Promise<void> {
  const { repo, tag, chain } = p.v1;
  for (const image of chain) {
    const layer = await t.http.get(`/v1/images/${image.id}/layer`).set('User-Agent', DOCKER_UA).buffer(true).parse(binary);
    assert.equal(layer.status, 200, `v1 layer ${image.id}`);
    assert.ok((layer.body as Buffer).equals(image.layer));
  }
  const manifest = await t.http.get(`/v2/${repo}/manifests/${tag}`).set('Accept', ACCEPT).buffer(true).parse(binary);
  assert.equal(manifest.status, 200);
  const json = JSON.parse((manifest.body as Buffer).toString()) as { config: { digest: string }; layers: { digest: string }[] };
  const layers = chain.map((i) => sha(i.layer));
  assert.deepEqual(json.layers.map((l) => l.digest), layers);
  for (const d of [json.config.digest, ...layers]) await t.http.get(`/v2/${repo}/blobs/${d}`).expect(200);
  const tags = await t.http.get(`/v1/repositories/${p.bridged.repo}/tags`).set('User-Agent', DOCKER_UA).expect(200);
  const top = String((tags.body as Record<string, unknown>)[p.bridged.tag]);
  await t.http.get(`/v1/images/${top}/json`).set('User-Agent', DOCKER_UA).expect(200);
  await t.http.get(`/v1/images/${top}/layer`).set('User-Agent', DOCKER_UA).expect(200);
}

async function walk(driver: StorageDriver, dir: string, visit: (path: string) => Promise<void>): Promise<void> {
  let children: string[];
  try {
    children = await driver.list(dir);
  } catch (error) {
    if (error instanceof PathNotFoundError) return;
    throw error;
  }
  for (const child of children.sort()) {
    const info = await driver.stat(child);
    if (info.isDir) await walk(driver, child, visit);
    else await visit(child);
  }
}

/** Digest → size of every blob with data in the content store. */
export async function storedBlobs(driver: StorageDriver): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await walk(driver, '/docker/registry/v2/blobs', async (path) => {
    const m = /\/blobs\/(sha256|sha512)\/[0-9a-f]{2}\/([0-9a-f]+)\/data$/.exec(path);
    if (m !== null) out.set(`${m[1]}:${m[2]}`, (await driver.stat(path)).size);
  });
  return out;
}

/** Every file of the store with the hash of its content (a dry run must leave this unchanged). */
export async function snapshot(driver: StorageDriver): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await walk(driver, '/', async (path) => {
    const stream = await driver.reader(path);
    const hash = createHash('sha256');
    for await (const chunk of stream) hash.update(chunk as Buffer);
    out.set(path, hash.digest('hex'));
  });
  return out;
}

export function total(sizes: Map<string, number>): number {
  let n = 0;
  for (const v of sizes.values()) n += v;
  return n;
}

/**
 * Config for a test app that must see, at once, changes another process makes behind its back
 * (a CLI garbage collection, scrub or repository delete on the same storage): its link cache is
 * off. The staleness bound itself (`berth.cache.linkttl`) is tested by the multi-node tests.
 */
export const SEES_OUT_OF_BAND: Record<string, unknown> = { berth: { cache: { linkttl: 0 } } };
