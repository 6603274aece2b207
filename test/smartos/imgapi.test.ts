/**
 * The SmartOS endpoints of the in-process app (supertest): images are pushed over v2, then
 * - the IMGAPI subset imgadm uses for `-t imgapi` sources: ping, list (filters, channel, paging),
 *   get, file (200, exact Content-Length, SHA-1 = files[0].sha1, Content-MD5), the per-blob
 *   SHA-1/size cache in storage (computed once, reused by another node, not written read-only),
 *   IMGAPI-shaped errors;
 * - the translation endpoint `/smartos/v1/images/<name>[:tag|@digest]` (v2 and v1 UUIDs, lists,
 *   percent-encoding, registry host, errors), and that it agrees with the IMGAPI images.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { tryParseDigest } from '../../src/core/digest.js';
import { fileInfoPath } from '../../src/smartos/routes.js';
import { imgapiImageSchema, smartOsManifestSchema, type ImgapiImage, type SmartOsImageManifest } from '../../src/smartos/schema.js';
import { imgUuidFromDockerDigests, uuidChain } from '../../src/smartos/uuid.js';
import { binary, buildTestApp, pushBlob, pushImage, type TestApp } from '../helpers/build-app.js';
import { buildImage, buildMultiPlatform, MediaType, type BuiltImage, type BuiltIndex } from '../helpers/oci-image.js';

function sha1(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

async function pushBuilt(t: TestApp, name: string, tag: string, image: BuiltImage): Promise<void> {
  for (const blob of [...image.layers, image.config]) await pushBlob(t, name, blob.bytes);
  await t.http.put(`/v2/${name}/manifests/${tag}`).set('Content-Type', image.manifest.mediaType).send(image.manifest.bytes.toString()).expect(201);
}

async function pushIndex(t: TestApp, name: string, tag: string, built: BuiltIndex): Promise<void> {
  for (const [i, image] of built.images.entries()) await pushBuilt(t, name, `child-${i}`, image);
  await t.http.put(`/v2/${name}/manifests/${tag}`).set('Content-Type', built.index.mediaType).send(built.index.bytes.toString()).expect(201);
}

/** supertest listens on a new port per request, so the registry host is pinned with ?registry=. */
const HOST = 'reg.example.com';

async function listImages(t: TestApp, query = ''): Promise<ImgapiImage[]> {
  const q = query.includes('registry=') ? query : `${query}${query === '' ? '?' : '&'}registry=${HOST}`;
  const res = await t.http.get(`/imgapi/images${q}`).set('Accept', 'application/json').set('Accept-Version', '~2').expect(200);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.ok(Array.isArray(res.body));
  return (res.body as unknown[]).map((b) => imgapiImageSchema.parse(b) as unknown as ImgapiImage);
}

/** A driver wrapper that counts reader() calls per path. */
function countingDriver(inner: StorageDriver): { driver: StorageDriver; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const driver: StorageDriver = {
    name: inner.name,
    stat: (p) => inner.stat(p),
    getContent: (p, o) => inner.getContent(p, o),
    putContent: (p, c) => inner.putContent(p, c),
    reader: (p, o) => {
      reads.set(p, (reads.get(p) ?? 0) + 1);
      return inner.reader(p, o);
    },
    writer: (p, o) => inner.writer(p, o),
    list: (p) => inner.list(p),
    move: (a, b) => inner.move(a, b),
    delete: (p) => inner.delete(p),
  };
  return { driver, reads };
}

function blobDataPath(digest: string): string {
  const d = tryParseDigest(digest);
  assert.ok(d !== undefined);
  return `/docker/registry/v2/blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}/data`;
}

function stripImgapi(image: ImgapiImage): SmartOsImageManifest {
  const { state: _state, files: _files, ...rest } = image;
  return rest;
}

describe('IMGAPI subset', () => {
  test('ping answers as imgadm checks it', async () => {
    const t = buildTestApp();
    const res = await t.http.get('/imgapi/ping').set('Accept', 'application/json').expect(200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.body.imgapi, true);
    assert.equal(res.body.ping, 'pong');
    assert.equal(typeof res.body.version, 'string');
    assert.equal(res.headers['content-encoding'], undefined);
  });

  test('list, get and file of a pushed image: sha1 and size match the layer bytes', async () => {
    const t = buildTestApp();
    const image = buildImage({ format: 'docker', layers: 3, layerBytes: 4096, cmd: ['/bin/berth'] });
    await pushBuilt(t, 'smartos/app', 'v1', image);
    await t.http.put('/v2/smartos/app/manifests/latest').set('Content-Type', image.manifest.mediaType).send(image.manifest.bytes.toString()).expect(201);
    const uuids = uuidChain(image.layers.map((l) => l.digest));

    const listed = await listImages(t, '?channel=dev');
    assert.deepEqual(listed.map((i) => i.uuid).sort(), [...uuids].sort());
    for (const [i, layer] of image.layers.entries()) {
      const uuid = uuids[i] ?? '';
      const got = await t.http.get(`/imgapi/images/${uuid}?registry=${HOST}`).set('Accept', 'application/json').expect(200);
      assert.equal(got.headers['content-type'], 'application/json');
      const img = imgapiImageSchema.parse(got.body) as unknown as ImgapiImage;
      assert.deepEqual(img, listed.find((l) => l.uuid === uuid));
      assert.equal(img.state, 'active');
      assert.equal(img.type, 'docker');
      assert.equal(img.os, 'linux');
      assert.equal(img.version, layer.digest.slice(7, 19));
      assert.equal(img.tags['docker:id'], layer.digest);
      assert.equal(img.tags['docker:repo'], `${HOST}/smartos/app`);
      assert.deepEqual(img.files, [{ sha1: sha1(layer.bytes), size: layer.size, compression: 'gzip' }]);
      assert.equal(img.origin, i === 0 ? undefined : uuids[i - 1]);
      const top = i === image.layers.length - 1;
      assert.equal(img.tags['docker:tag:v1'], top ? true : undefined);
      assert.equal(img.tags['docker:tag:latest'], top ? true : undefined, 'both tags of the repository are on the top image');
      assert.deepEqual(img.tags['docker:config'], { Cmd: ['/bin/berth'], Env: image.configJson.config.Env, WorkingDir: '/' });

      const file = await t.http.get(`/imgapi/images/${uuid}/file`).buffer(true).parse(binary).expect(200);
      const bytes = file.body as Buffer;
      assert.equal(file.headers['content-length'], String(img.files[0].size));
      assert.equal(file.headers['content-type'], 'application/octet-stream');
      assert.equal(sha1(bytes), img.files[0].sha1);
      assert.ok(bytes.equals(layer.bytes));
      assert.equal(file.headers['content-md5'], createHash('md5').update(bytes).digest('base64'));
      const head = await t.http.head(`/imgapi/images/${uuid}/file`).expect(200);
      assert.equal(head.headers['content-length'], String(layer.size));
    }
    await t.http.get(`/imgapi/images/${uuids[0] ?? ''}/file?index=1`).expect(404);
  });

  test('SHA-1 and size are computed once and cached in storage for every node', async () => {
    const shared = checked(createInMemoryDriver());
    const first = countingDriver(shared);
    const t1 = buildTestApp({ driver: first.driver });
    const image = buildImage({ format: 'oci', layers: 2, layerBytes: 2048 });
    await pushBuilt(t1, 'cache/app', '1', image);
    const reads = (m: Map<string, number>, digest: string): number => m.get(blobDataPath(digest)) ?? 0;
    await listImages(t1);
    await listImages(t1);
    for (const l of image.layers) assert.equal(reads(first.reads, l.digest), 1, 'hashed exactly once');
    for (const l of image.layers) {
      const d = tryParseDigest(l.digest);
      assert.ok(d !== undefined);
      const cached = JSON.parse((await shared.getContent(fileInfoPath(d))).toString()) as Record<string, unknown>;
      assert.deepEqual(cached, { digest: l.digest, size: l.size, sha1: sha1(l.bytes), md5: createHash('md5').update(l.bytes).digest('base64') });
    }
    // Another node (a fresh app on the same storage) uses the cached values without reading blobs.
    const second = countingDriver(shared);
    const t2 = buildTestApp({ driver: second.driver });
    const listed = await listImages(t2);
    assert.equal(listed.length, 2);
    for (const l of image.layers) assert.equal(reads(second.reads, l.digest), 0);
    // A read-only node computes but does not write.
    const third = buildTestApp({ driver: shared, config: { storage: { inmemory: {}, maintenance: { readonly: { enabled: true } } } } });
    const other = buildImage({ format: 'oci', layers: 1, layerBytes: 1024 });
    await pushBuilt(t1, 'cache/other', '1', other);
    await listImages(third);
    const d = tryParseDigest(other.layers[0]?.digest ?? '');
    assert.ok(d !== undefined);
    await assert.rejects(shared.getContent(fileInfoPath(d)));
  });

  test('list filters, paging, shared layers served once, images imgadm cannot use left out', async () => {
    const t = buildTestApp();
    const a = buildImage({ format: 'docker', layers: 2, layerBytes: 1024, created: '2024-01-01T00:00:00Z' });
    const b = buildImage({ format: 'oci', layers: 1, layerBytes: 1024, created: '2024-02-01T00:00:00Z' });
    await pushBuilt(t, 'zz/second', 'x', a);
    await pushBuilt(t, 'aa/first', 'y', a);
    await pushBuilt(t, 'mm/other', 'latest', b);
    await pushImage(t, 'bad/config', 'v1'); // config without created/config: imgadm would crash
    const all = await listImages(t);
    assert.equal(all.length, 3);
    assert.deepEqual(
      all.map((i) => i.published_at),
      ['2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z'],
      'sorted by published_at',
    );
    const topA = all.find((i) => i.uuid === imgUuidFromDockerDigests(a.layers.map((l) => l.digest)));
    assert.equal(topA?.tags['docker:repo'].endsWith('/aa/first'), true, 'the first repository in byte order wins');
    assert.equal(topA?.tags['docker:tag:y'], true);
    assert.equal(topA?.tags['docker:tag:x'], undefined);
    assert.equal((await listImages(t, '?os=linux&type=docker&name=docker-layer')).length, 3);
    assert.equal((await listImages(t, '?state=all')).length, 3);
    assert.equal((await listImages(t, '?state=disabled')).length, 0);
    assert.equal((await listImages(t, '?os=smartos')).length, 0);
    const byRepo = await listImages(t, `?tag.docker:repo=${encodeURIComponent(topA?.tags['docker:repo'] ?? '')}`);
    assert.equal(byRepo.length, 2);
    assert.equal((await listImages(t, '?tag.docker:tag:y=true')).length, 1);
    // imgadm's paging: limit, then marker = last uuid, first element dropped when it is the marker.
    const page1 = await listImages(t, '?limit=2');
    assert.equal(page1.length, 2);
    const page2 = await listImages(t, `?limit=2&marker=${page1[1]?.uuid ?? ''}`);
    assert.equal(page2[0]?.uuid, page1[1]?.uuid);
    assert.deepEqual([...page1, ...page2.slice(1)].map((i) => i.uuid), all.map((i) => i.uuid));
    await t.http.get('/imgapi/images?limit=0').expect(400);
  });

  test('a multi-platform tag contributes its linux/amd64 image only', async () => {
    const t = buildTestApp();
    const multi = buildMultiPlatform(undefined, { layers: 1, layerBytes: 1024 });
    await pushIndex(t, 'multi/app', 'latest', multi);
    const listed = await listImages(t, '?tag.docker:tag:latest=true');
    const amd64 = multi.images.find((i) => i.platform.architecture === 'amd64');
    assert.ok(amd64 !== undefined);
    assert.deepEqual(listed.map((i) => i.uuid), [imgUuidFromDockerDigests(amd64.layers.map((l) => l.digest))]);
  });

  test('errors are IMGAPI-shaped; unknown UUIDs are 404 ResourceNotFound', async () => {
    const t = buildTestApp();
    for (const path of ['/imgapi/images/00000000-0000-0000-0000-000000000000', '/imgapi/images/not-a-uuid', '/imgapi/images/00000000-0000-0000-0000-000000000000/file', '/imgapi/nothing']) {
      const res = await t.http.get(path).expect(404);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.body.code, 'ResourceNotFound', path);
      assert.equal(typeof res.body.message, 'string');
    }
    // Other prefixes are not this router's business.
    await t.http.get('/imgapix/ping').expect(404);
    await t.http.get('/healthz').expect(200);
  });
});

describe('translation endpoint', () => {
  test('GET /smartos/v1/images/<name>:<tag> gives imgadm’s manifests, the same as IMGAPI serves', async () => {
    const t = buildTestApp();
    const image = buildImage({ format: 'docker', layers: 2, layerBytes: 1024, created: '2024-05-01T12:00:00.123456789Z' });
    await pushBuilt(t, 'tools/app', '1.0', image);
    const res = await t.http.get('/smartos/v1/images/tools/app:1.0?registry=reg.example.com:5000').expect(200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = res.body as { ref: string; repo: string; tag: string; digest: string; uuids: string; uuid: string; images: SmartOsImageManifest[]; warnings: string[] };
    assert.equal(body.ref, 'reg.example.com:5000/tools/app:1.0');
    assert.equal(body.repo, 'reg.example.com:5000/tools/app');
    assert.equal(body.digest, image.manifest.digest);
    assert.equal(body.uuids, 'v2');
    assert.deepEqual(body.warnings, []);
    const uuids = uuidChain(image.layers.map((l) => l.digest));
    assert.deepEqual(body.images.map((m) => m.uuid), uuids);
    assert.equal(body.uuid, uuids[1]);
    for (const m of body.images) smartOsManifestSchema.parse(m);
    assert.equal(body.images[0]?.published_at, '2024-05-01T12:00:00.123Z');
    assert.equal(body.images[1]?.tags['docker:tag:1.0'], true);
    // The same, as IMGAPI serves it for the same registry host.
    const listed = await listImages(t, '?registry=reg.example.com:5000');
    assert.deepEqual(
      uuids.map((u) => stripImgapi(listed.find((l) => l.uuid === u) as ImgapiImage)),
      body.images,
    );
    // Same answer by percent-encoded path, HEAD works, default tag is latest.
    const encoded = await t.http.get('/smartos/v1/images/tools%2Fapp%3A1.0?registry=reg.example.com:5000').expect(200);
    assert.deepEqual(encoded.body, body);
    await t.http.head('/smartos/v1/images/tools/app:1.0').expect(200);
    await t.http.get('/smartos/v1/images/tools/app').expect(404);
    // By digest: no docker:tag, and a warning that imgadm cannot import by digest.
    const byDigest = await t.http.get(`/smartos/v1/images/tools/app@${image.manifest.digest}`).expect(200);
    assert.match(byDigest.body.ref, /@sha256:/);
    assert.match(byDigest.body.warnings.join('\n'), /cannot import by digest/);
    // Default registry host: the request's Host header.
    const host = await t.http.get('/smartos/v1/images/tools/app:1.0').set('Host', 'berth.example.net:5000').expect(200);
    assert.equal(host.body.repo, 'berth.example.net:5000/tools/app');
  });

  test('?uuids=v1 gives the v1-era UUIDs (one image per history entry, every tag on the top)', async () => {
    const t = buildTestApp();
    const image = buildImage({ format: 'docker', layers: 2, layerBytes: 1024 });
    await pushBuilt(t, 'old/app', 'a', image);
    await t.http.put('/v2/old/app/manifests/b').set('Content-Type', image.manifest.mediaType).send(image.manifest.bytes.toString()).expect(201);
    const res = await t.http.get('/smartos/v1/images/old/app:b?uuids=v1&registry=localhost:5000').expect(200);
    assert.equal(res.body.uuids, 'v1');
    const images = res.body.images as SmartOsImageManifest[];
    assert.equal(images.length, image.configJson.history.length);
    for (const m of images) {
      smartOsManifestSchema.parse(m);
      assert.match(m.tags['docker:id'], /^[0-9a-f]{64}$/);
    }
    const top = images[images.length - 1];
    assert.deepEqual(Object.keys(top?.tags ?? {}).filter((k) => k.startsWith('docker:tag:')), ['docker:tag:a', 'docker:tag:b']);
    const v2 = await t.http.get('/smartos/v1/images/old/app:b').expect(200);
    assert.notEqual(v2.body.uuid, res.body.uuid);
    await t.http.get('/smartos/v1/images/old/app:b?uuids=v3').expect(400);
  });

  test('manifest lists, unusable images and bad references', async () => {
    const t = buildTestApp();
    const multi = buildMultiPlatform(undefined, { layers: 1, layerBytes: 1024 });
    await pushIndex(t, 'multi/app', 'latest', multi);
    const amd64 = multi.images.find((i) => i.platform.architecture === 'amd64');
    const res = await t.http.get('/smartos/v1/images/multi/app:latest').expect(200);
    assert.equal(res.body.digest, amd64?.manifest.digest);
    assert.equal(res.body.index, multi.index.digest);
    assert.match(res.body.warnings.join('\n'), /manifest list/);
    assert.match(res.body.warnings.join('\n'), /OCI manifest: imgadm 3\.8–3\.9\.4/);
    const arm = buildMultiPlatform([{ architecture: 'arm64', os: 'linux' }], { layers: 1, layerBytes: 512 });
    await pushIndex(t, 'multi/arm', 'latest', arm);
    const none = await t.http.get('/smartos/v1/images/multi/arm:latest').expect(422);
    assert.match(none.body.error, /linux\/amd64/);
    await pushImage(t, 'bad/config', 'v1');
    const bad = await t.http.get('/smartos/v1/images/bad/config:v1').expect(422);
    assert.match(bad.body.error, /imgadm cannot import this image/);
    await t.http.get('/smartos/v1/images/Bad/Name:v1').expect(400);
    await t.http.get('/smartos/v1/images/ok/name:v1?registry=a/b').expect(400);
    await t.http.get('/smartos/v1/images/nothing/here:v1').expect(404);
    await t.http.get('/smartos/v2/whatever').expect(404);
    await t.http.post('/smartos/v1/images/multi/app:latest').expect(404);
    const oci = buildImage({ format: 'oci', layers: 1, layerBytes: 512 });
    await pushBuilt(t, 'my.ns/app', 'v1', oci);
    const named = await t.http.get('/smartos/v1/images/my.ns/app:v1').expect(200);
    assert.match(named.body.warnings.join('\n'), /namespace/);
    assert.equal(MediaType.ociManifest, oci.manifest.mediaType);
  });
});
