/**
 * The v1⇄v2 bridge through the HTTP API: images pushed over v2 (Docker schema 2, OCI, a list's
 * linux/amd64 image, empty-layer history steps, configs without history) are pulled over v1 with
 * the IDs distribution's algorithm gives (recomputed independently here), exact layer bytes and
 * count; images pushed over v1 are pulled over v2 as a synthesized schema2 manifest whose layers
 * are the v1 layers (right media types, diff_ids of the decompressed tars) and whose blobs the
 * repository serves; everything is deterministic across instances and restarts, and works from
 * any node on the same storage.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { binary, buildTestApp, pushBlob, pushImage, sha256, type TestApp } from '../helpers/build-app.js';
import { buildImage, buildMultiPlatform, MediaType, type BuiltImage } from '../helpers/oci-image.js';
import { pushBuiltV2, pushV1, pushV1Image, v1Chain, v1Image, type V1Fixture } from './v1-fixtures.js';

const EMPTY_GZ = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';

function hex(digest: string): string {
  return digest.slice('sha256:'.length);
}

function sha256hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

interface Step {
  readonly empty: boolean;
}

/** distribution's v1 IDs, written out independently of Berth's implementation. */
function expectedIds(layerDigests: readonly string[], history: readonly Step[], config: Buffer): string[] {
  const ids: string[] = [];
  let parent = '';
  let layer = 0;
  history.forEach((h, i) => {
    const blob = h.empty ? EMPTY_GZ : (layerDigests[layer++] ?? '');
    const id =
      i === history.length - 1
        ? createHash('sha256').update(`${hex(blob)} ${parent} `).update(config).digest('hex')
        : sha256hex(`${hex(blob)} ${parent}`);
    ids.push(id);
    parent = id;
  });
  return ids;
}

async function v1Tags(t: TestApp, repo: string): Promise<Record<string, string>> {
  return (await t.http.get(`/v1/repositories/${repo}/tags`).expect(200)).body as Record<string, string>;
}

async function layerBytes(t: TestApp, id: string): Promise<Buffer> {
  return (await t.http.get(`/v1/images/${id}/layer`).buffer(true).parse(binary).expect(200)).body as Buffer;
}

async function imageJson(t: TestApp, id: string): Promise<Record<string, unknown>> {
  const res = await t.http.get(`/v1/images/${id}/json`).buffer(true).parse(binary).expect(200);
  return JSON.parse((res.body as Buffer).toString()) as Record<string, unknown>;
}

/** An image whose history has empty steps between and after its layers. */
function imageWithEmptySteps(): { image: BuiltImage; history: Step[] } {
  const base = buildImage({ format: 'docker', layers: 2 });
  const created = '2024-05-01T12:00:00Z';
  const history = [
    { created, created_by: '/bin/sh -c #(nop) ADD file:x in /' },
    { created, created_by: '/bin/sh -c #(nop) ENV A=1', empty_layer: true },
    { created, created_by: '/bin/sh -c make', author: 'Dev <dev@example.test>', comment: 'build' },
    { created, created_by: '/bin/sh -c #(nop) CMD ["sh"]', empty_layer: true },
  ];
  const configJson = { ...base.configJson, history };
  const configBytes = Buffer.from(JSON.stringify(configJson, null, 2));
  const config = { mediaType: MediaType.dockerConfig, digest: sha256(configBytes), size: configBytes.length, bytes: configBytes };
  const manifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: base.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifestJson));
  const manifest = { mediaType: MediaType.dockerManifest, digest: sha256(manifestBytes), size: manifestBytes.length, bytes: manifestBytes };
  return {
    image: { ...base, config, configJson: configJson as BuiltImage['configJson'], manifest, blobs: [...base.layers, config, manifest] },
    history: history.map((h) => ({ empty: h.empty_layer === true })),
  };
}

describe('v2 → v1', () => {
  test('a Docker schema2 image: distribution IDs, ancestry, JSON, exact layers and count', async () => {
    const t = buildTestApp();
    const image = buildImage({ format: 'docker', layers: 2 });
    await pushBuiltV2(t, 'v2/docker', 'v1', image);
    const ids = expectedIds(image.layers.map((l) => l.digest), image.configJson.history.map(() => ({ empty: false })), image.config.bytes);
    const top = ids[ids.length - 1] as string;
    assert.deepEqual(await v1Tags(t, 'v2/docker'), { v1: top });
    assert.equal((await t.http.get('/v1/repositories/v2/docker/tags/v1').expect(200)).body, top);
    const ancestry = (await t.http.get(`/v1/images/${top}/ancestry`).expect(200)).body as string[];
    assert.deepEqual(ancestry, [...ids].reverse());

    const baseJson = await imageJson(t, ids[0] as string);
    assert.deepEqual(Object.keys(baseJson), ['id', 'comment', 'created', 'container_config']);
    assert.deepEqual(baseJson['container_config'], { Cmd: [image.configJson.history[0]?.created_by] });
    const topJson = await imageJson(t, top);
    assert.equal(topJson['id'], top);
    assert.equal(topJson['parent'], ids[0]);
    assert.equal(topJson['rootfs'], undefined);
    assert.equal(topJson['history'], undefined);
    assert.deepEqual(topJson['config'], image.configJson.config);
    assert.deepEqual(Object.keys(topJson), [...Object.keys(topJson)].sort(), 'top JSON keys sorted as Go marshals a map');

    const pulled = await Promise.all(ancestry.reverse().map((id) => layerBytes(t, id)));
    assert.equal(pulled.length, image.layers.length);
    pulled.forEach((bytes, i) => assert.ok(bytes.equals(image.layers[i]?.bytes ?? Buffer.alloc(0)), `layer ${i}`));
    const json = await t.http.get(`/v1/images/${top}/json`).expect(200);
    assert.equal(json.headers['x-docker-size'], String(image.layers[1]?.size));
    const layer = await t.http.get(`/v1/images/${top}/layer`).buffer(true).parse(binary).expect(200);
    assert.equal(layer.headers['content-length'], String(image.layers[1]?.size));
  });

  test('empty-layer history steps become throwaway images with the gzipped empty tar', async () => {
    const t = buildTestApp();
    const { image, history } = imageWithEmptySteps();
    await pushBuiltV2(t, 'v2/empty', 'latest', image);
    const ids = expectedIds(image.layers.map((l) => l.digest), history, image.config.bytes);
    const top = ids[3] as string;
    assert.deepEqual(await v1Tags(t, 'v2/empty'), { latest: top });
    assert.deepEqual((await t.http.get(`/v1/images/${top}/ancestry`).expect(200)).body, [...ids].reverse());
    const envStep = await imageJson(t, ids[1] as string);
    assert.equal(envStep['throwaway'], true);
    assert.equal(envStep['parent'], ids[0]);
    const makeStep = await imageJson(t, ids[2] as string);
    assert.equal(makeStep['author'], 'Dev <dev@example.test>');
    assert.equal(makeStep['comment'], 'build');
    const empty = await layerBytes(t, ids[1] as string);
    assert.equal(empty.length, 32);
    assert.equal(sha256(empty), EMPTY_GZ);
    assert.equal(gunzipSync(empty).length, 1024);
    assert.ok((await layerBytes(t, ids[2] as string)).equals(image.layers[1]?.bytes ?? Buffer.alloc(0)));
    assert.equal((await imageJson(t, top))['throwaway'], true);
  });

  test('OCI images, and a list/index through its linux/amd64 image', async () => {
    const t = buildTestApp();
    const oci = buildImage({ format: 'oci', layers: 1 });
    await pushBuiltV2(t, 'v2/oci', 'x', oci);
    const ociTop = expectedIds([oci.layers[0]?.digest ?? ''], [{ empty: false }], oci.config.bytes)[0];
    assert.deepEqual(await v1Tags(t, 'v2/oci'), { x: ociTop });

    const multi = buildMultiPlatform();
    for (const child of multi.images) await pushBuiltV2(t, 'v2/multi', child.manifest.digest, child);
    await t.http.put('/v2/v2/multi/manifests/all').set('Content-Type', MediaType.ociIndex).send(multi.index.bytes.toString()).expect(201);
    const amd = multi.images[0] as BuiltImage;
    const ids = expectedIds(amd.layers.map((l) => l.digest), amd.configJson.history.map(() => ({ empty: false })), amd.config.bytes);
    assert.equal((await v1Tags(t, 'v2/multi'))['all'], ids[ids.length - 1]);

    const armOnly = buildMultiPlatform([{ architecture: 'arm64', os: 'linux' }]);
    for (const child of armOnly.images) await pushBuiltV2(t, 'v2/arm', child.manifest.digest, child);
    await t.http.put('/v2/v2/arm/manifests/arm').set('Content-Type', MediaType.ociIndex).send(armOnly.index.bytes.toString()).expect(201);
    assert.deepEqual(await v1Tags(t, 'v2/arm'), {}, 'a list without linux/amd64 has no v1 view');
  });

  test('artifacts are not listed; configs without history still bridge (one step per layer)', async () => {
    const t = buildTestApp();
    const cfg = Buffer.from('{"artifact":true}');
    const cfgDigest = await pushBlob(t, 'v2/art', cfg);
    const layer = Buffer.from('chart bytes');
    const layerDigest = await pushBlob(t, 'v2/art', layer);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: cfgDigest, size: cfg.length },
      layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    };
    await t.http.put('/v2/v2/art/manifests/chart').set('Content-Type', MediaType.ociManifest).send(JSON.stringify(manifest)).expect(201);
    const img = await pushImage(t, 'v2/art', 'img', { layers: 2 });
    const tags = await v1Tags(t, 'v2/art');
    assert.deepEqual(Object.keys(tags), ['img']);
    const ancestry = (await t.http.get(`/v1/images/${tags['img']}/ancestry`).expect(200)).body as string[];
    assert.equal(ancestry.length, 2);
    assert.ok((await layerBytes(t, ancestry[1] as string)).length > 0);
    assert.equal(img.layerDigests.length, 2);
  });

  test('a bridged image is served from any node, and after a restart, without re-listing', async () => {
    const driver = checked(createInMemoryDriver());
    const a = buildTestApp({ driver });
    const image = buildImage({ format: 'docker', layers: 2 });
    await pushBuiltV2(a, 'v2/nodes', 'latest', image);
    const top = (await v1Tags(a, 'v2/nodes'))['latest'] as string;
    const b = buildTestApp({ driver });
    assert.equal((await imageJson(b, top))['id'], top);
    assert.ok((await layerBytes(b, top)).equals(image.layers[1]?.bytes ?? Buffer.alloc(0)));
  });

  test('a manifest deleted over v2 takes its v1 view with it', async () => {
    const t = buildTestApp();
    const image = buildImage({ format: 'docker', layers: 1 });
    const digest = await pushBuiltV2(t, 'v2/gone', 'latest', image);
    const top = (await v1Tags(t, 'v2/gone'))['latest'] as string;
    await t.http.get(`/v1/images/${top}/json`).expect(200);
    await t.http.delete(`/v2/v2/gone/manifests/${digest}`).expect(202);
    await t.http.get(`/v1/images/${top}/json`).expect(404);
    assert.deepEqual(await v1Tags(t, 'v2/gone'), {});
  });

  test('zstd (or encrypted) layers have no v1 view', async () => {
    const t = buildTestApp();
    const image = buildImage({ format: 'oci', layers: 1 });
    await pushBlob(t, 'v2/zstd', image.config.bytes);
    const layer = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]);
    const layerDigest = await pushBlob(t, 'v2/zstd', layer);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: image.config.digest, size: image.config.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: layerDigest, size: layer.length }],
    };
    await t.http.put('/v2/v2/zstd/manifests/z').set('Content-Type', MediaType.ociManifest).send(JSON.stringify(manifest)).expect(201);
    assert.deepEqual(await v1Tags(t, 'v2/zstd'), {});
  });

  test('read-only storage: IDs are listed; only IDs recorded before can be fetched', async () => {
    const driver = checked(createInMemoryDriver());
    const writable = buildTestApp({ driver });
    const readOnly = buildTestApp({ driver, config: { storage: { inmemory: {}, maintenance: { readonly: { enabled: true } } } } });
    const image = buildImage({ format: 'docker', layers: 1 });
    await pushBuiltV2(writable, 'v2/ro', 'latest', image);
    const top = (await v1Tags(readOnly, 'v2/ro'))['latest'] as string;
    await readOnly.http.get(`/v1/images/${top}/json`).expect(404);
    assert.deepEqual(await v1Tags(writable, 'v2/ro'), { latest: top });
    await readOnly.http.get(`/v1/images/${top}/json`).expect(200);
  });

  test('one-component v2 names are library/<name> over v1', async () => {
    const t = buildTestApp();
    const image = buildImage({ format: 'docker', layers: 1 });
    await pushBuiltV2(t, 'alpine', '3', image);
    const viaLibrary = await v1Tags(t, 'library/alpine');
    assert.deepEqual(viaLibrary, await v1Tags(t, 'alpine'));
    assert.equal(Object.keys(viaLibrary).length, 1);
  });
});

describe('v1 → v2', () => {
  test('a v1 push is a schema2 manifest: layers as pushed (gzip and plain tar), diff_ids, history, blobs', async () => {
    const t = buildTestApp();
    const chain = v1Chain(3, { gzip: (i) => i !== 1 });
    await pushV1(t, 'ns/bridge', 'latest', chain);
    const res = await t.http.get('/v2/ns/bridge/manifests/latest').set('Accept', MediaType.dockerManifest).buffer(true).parse(binary).expect(200);
    const bytes = res.body as Buffer;
    assert.equal(res.headers['content-type'], MediaType.dockerManifest);
    assert.equal(res.headers['docker-content-digest'], sha256(bytes));
    const manifest = JSON.parse(bytes.toString()) as {
      config: { digest: string; mediaType: string };
      layers: { mediaType: string; digest: string; size: number }[];
    };
    assert.ok(bytes.toString().startsWith('{\n   "schemaVersion": 2,\n   "mediaType"'), 'laid out as docker marshals it');
    assert.equal(manifest.config.mediaType, MediaType.dockerConfig);
    assert.deepEqual(
      manifest.layers.map((l) => [l.digest, l.size, l.mediaType]),
      chain.map((c) => [sha256(c.layer), c.layer.length, c.gzip ? MediaType.dockerLayerGzip : 'application/vnd.docker.image.rootfs.diff.tar']),
    );
    for (const [i, layer] of manifest.layers.entries()) {
      const blob = await t.http.get(`/v2/ns/bridge/blobs/${layer.digest}`).buffer(true).parse(binary).expect(200);
      assert.ok((blob.body as Buffer).equals(chain[i]?.layer ?? Buffer.alloc(0)));
    }
    const configRes = await t.http.get(`/v2/ns/bridge/blobs/${manifest.config.digest}`).buffer(true).parse(binary).expect(200);
    const config = JSON.parse((configRes.body as Buffer).toString()) as Record<string, unknown>;
    assert.equal(sha256(configRes.body as Buffer), manifest.config.digest);
    assert.deepEqual(config['rootfs'], { type: 'layers', diff_ids: chain.map((c) => c.diffId) });
    const history = config['history'] as { created_by?: string; author?: string }[];
    assert.deepEqual(history.map((h) => h.created_by), chain.map((_, i) => `/bin/sh -c step ${i}`));
    assert.equal(config['id'], undefined);
    assert.equal(config['parent'], undefined);
    assert.equal(config['Size'], undefined);
    assert.deepEqual(config['config'], { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'], WorkingDir: '' });
    assert.equal(config['architecture'], 'amd64');
    // …while v1 keeps the pushed IDs.
    assert.deepEqual(await v1Tags(t, 'ns/bridge'), { latest: chain[2]?.id });
  });

  test('a v2 re-push of the tag wins over v1; v1 then sees the bridge ID', async () => {
    const t = buildTestApp();
    await pushV1(t, 'ns/swap', 'latest', [v1Image()]);
    const image = buildImage({ format: 'docker', layers: 1 });
    await pushBuiltV2(t, 'ns/swap', 'latest', image);
    const top = expectedIds([image.layers[0]?.digest ?? ''], [{ empty: false }], image.config.bytes)[0];
    assert.deepEqual(await v1Tags(t, 'ns/swap'), { latest: top });
  });

  test('a v1 image built on a bridged v2 image: its v2 manifest reuses the v2 layers', async () => {
    const t = buildTestApp();
    const { image } = imageWithEmptySteps();
    await pushBuiltV2(t, 'ns/base', 'latest', image);
    const baseTop = (await v1Tags(t, 'ns/base'))['latest'] as string;
    const child = v1Image({ parent: baseTop });
    await pushV1(t, 'ns/child', 'latest', [child]);
    const ancestry = (await t.http.get(`/v1/images/${child.id}/ancestry`).expect(200)).body as string[];
    assert.equal(ancestry.length, 5);
    assert.equal(ancestry[1], baseTop);
    const res = await t.http.get('/v2/ns/child/manifests/latest').set('Accept', MediaType.dockerManifest).expect(200);
    const manifest = JSON.parse(res.text) as { layers: { digest: string }[] };
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      [...image.layers.map((l) => l.digest), sha256(child.layer)],
      'empty steps dropped again, v2 layers and the new v1 layer',
    );
    for (const l of manifest.layers) await t.http.head(`/v2/ns/child/blobs/${l.digest}`).expect(200);
  });

  test('v2 → v1 → v2: pulling over v1 and pushing back keeps the layers and the v1 IDs', async () => {
    const t = buildTestApp();
    const { image } = imageWithEmptySteps();
    await pushBuiltV2(t, 'rt/src', 'latest', image);
    const top = (await v1Tags(t, 'rt/src'))['latest'] as string;
    const ancestry = ((await t.http.get(`/v1/images/${top}/ancestry`).expect(200)).body as string[]).reverse();
    const fixtures: V1Fixture[] = [];
    for (const id of ancestry) {
      const json = (await t.http.get(`/v1/images/${id}/json`).buffer(true).parse(binary).expect(200)).body as Buffer;
      const layer = await layerBytes(t, id);
      fixtures.push({ id, json, layer, diffId: '', gzip: true });
    }
    const other = buildTestApp();
    await pushV1(other, 'rt/dst', 'latest', fixtures);
    assert.deepEqual(await v1Tags(other, 'rt/dst'), { latest: top });
    const res = await other.http.get('/v2/rt/dst/manifests/latest').set('Accept', MediaType.dockerManifest).expect(200);
    const manifest = JSON.parse(res.text) as { layers: { digest: string }[] };
    assert.deepEqual(manifest.layers.map((l) => l.digest), image.layers.map((l) => l.digest));
  });
});

describe('determinism', () => {
  test('two instances and a restart give the same v1 IDs and the same synthesized digests', async () => {
    const image = buildImage({ format: 'docker', layers: 3 });
    const chain = v1Chain(2);
    const results: { ids: Record<string, string>; v2: string; config: string }[] = [];
    for (let i = 0; i < 2; i++) {
      const t = buildTestApp();
      await pushBuiltV2(t, 'det/v2', 'latest', image);
      await pushV1(t, 'det/v1', 'latest', chain);
      const res = await t.http.get('/v2/det/v1/manifests/latest').set('Accept', MediaType.dockerManifest).expect(200);
      const config = (JSON.parse(res.text) as { config: { digest: string } }).config.digest;
      results.push({ ids: await v1Tags(t, 'det/v2'), v2: String(res.headers['docker-content-digest']), config });
      // restart: a new app on the same storage
      const again = buildTestApp({ driver: t.driver });
      assert.deepEqual(await v1Tags(again, 'det/v2'), results[i]?.ids);
      const head = await again.http.head('/v2/det/v1/manifests/latest').set('Accept', MediaType.dockerManifest).expect(200);
      assert.equal(head.headers['docker-content-digest'], results[i]?.v2);
    }
    assert.deepEqual(results[0], results[1]);
  });

  test('tagging the same v1 image twice gives one manifest', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await pushV1Image(t, image);
    await t.http.put('/v1/repositories/d/x/tags/a').send(JSON.stringify(image.id)).expect(200);
    await t.http.put('/v1/repositories/d/x/tags/b').send(JSON.stringify(image.id)).expect(200);
    const a = await t.http.head('/v2/d/x/manifests/a').set('Accept', MediaType.dockerManifest).expect(200);
    const b = await t.http.head('/v2/d/x/manifests/b').set('Accept', MediaType.dockerManifest).expect(200);
    assert.equal(a.headers['docker-content-digest'], b.headers['docker-content-digest']);
  });
});
