/**
 * v1 image endpoints: ping, the push sequence (json, layer, checksum) and the pull side (json
 * with X-Docker-Size / X-Docker-Checksum-Payload, ancestry, layer with Content-Length and
 * ranges, cache headers), and every error registry 0.9 gave (with its exact `{"error": ...}`
 * body): 409 "Image already exists", in-progress images, layer before json, unknown parent,
 * checksum mismatch (image discarded), malformed IDs (path traversal), unsupported layers,
 * limits, read-only mode, v1 switched off. Nothing is stored half.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { binary, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { DOCKER_UA, payloadChecksum, pushV1Image, randomId, sha256Hex, v1Chain, v1Image, type V1Fixture } from './v1-fixtures.js';

/** The first bytes of a bzip2 stream ("BZh9"). */
function bzip2Header(): Buffer {
  return Buffer.from('BZh91AY&SY', 'latin1');
}

async function listAll(t: TestApp, dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string): Promise<void> => {
    let children: string[];
    try {
      children = await t.driver.list(path);
    } catch {
      return;
    }
    for (const child of children) {
      const info = await t.driver.stat(child);
      if (info.isDir) await walk(child);
      else out.push(child);
    }
  };
  await walk(dir);
  return out.sort();
}

function putJson(t: TestApp, image: V1Fixture) {
  return t.http.put(`/v1/images/${image.id}/json`).set('Content-Type', 'application/json').send(image.json.toString());
}

function putLayer(t: TestApp, id: string, bytes: Buffer) {
  return t.http.put(`/v1/images/${id}/layer`).set('Content-Type', 'application/octet-stream').send(bytes);
}

function putChecksum(t: TestApp, id: string, checksum: string) {
  return t.http.put(`/v1/images/${id}/checksum`).set('X-Docker-Checksum-Payload', checksum);
}

function getLayer(t: TestApp, id: string) {
  return t.http.get(`/v1/images/${id}/layer`).buffer(true).parse(binary);
}

describe('v1 ping', () => {
  test('GET /v1/_ping: {} with X-Docker-Registry-Standalone: true and the version header', async () => {
    const t = buildTestApp();
    const res = await t.http.get('/v1/_ping').expect(200);
    assert.deepEqual(res.body, {});
    assert.equal(res.headers['x-docker-registry-standalone'], 'true');
    assert.equal(res.headers['x-docker-registry-version'], '0.9.1');
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.headers['cache-control'], 'no-cache');
  });

  test('every v1 response carries the registry headers, errors included', async () => {
    const t = buildTestApp();
    const res = await t.http.get(`/v1/images/${randomId()}/json`).expect(404);
    assert.equal(res.headers['x-docker-registry-standalone'], 'true');
    assert.deepEqual(res.body, { error: 'Image not found' });
  });

  test('berth.v1.enabled: false switches the whole API off', async () => {
    const t = buildTestApp({ config: { berth: { v1: { enabled: false } } } });
    const res = await t.http.get('/v1/_ping').expect(404);
    assert.equal(res.headers['x-docker-registry-standalone'], undefined);
    await t.http.get('/v2/').expect(200);
  });
});

describe('v1 image push and pull', () => {
  test('json, layer, checksum; then json byte for byte with size and checksum headers', async () => {
    const t = buildTestApp();
    const image = v1Image();
    assert.equal((await putJson(t, image)).text, 'true');
    assert.equal((await putLayer(t, image.id, image.layer)).status, 200);
    const sum = payloadChecksum(image.json, image.layer);
    const done = await putChecksum(t, image.id, sum).set('X-Docker-Checksum', 'tarsum+sha256:0000').expect(200);
    assert.equal(done.text, 'true');

    const res = await t.http.get(`/v1/images/${image.id}/json`).buffer(true).parse(binary).expect(200);
    assert.ok((res.body as Buffer).equals(image.json), 'image JSON is served exactly as pushed');
    assert.equal(res.headers['x-docker-size'], String(image.layer.length));
    assert.equal(res.headers['x-docker-checksum-payload'], sum);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000');
    assert.equal(res.headers['last-modified'], 'Thu, 01 Jan 1970 00:00:00 GMT');
    await t.http.get(`/v1/images/${image.id}/json`).set('If-Modified-Since', 'Thu, 01 Jan 1970 00:00:00 GMT').expect(304);

    const layer = await getLayer(t, image.id).expect(200);
    assert.ok((layer.body as Buffer).equals(image.layer));
    assert.equal(layer.headers['content-length'], String(image.layer.length));
    assert.equal(layer.headers['content-type'], 'application/octet-stream');
    assert.equal(layer.headers['accept-ranges'], 'bytes');
    assert.deepEqual((await t.http.get(`/v1/images/${image.id}/ancestry`).expect(200)).body, [image.id]);
  });

  test('the layer is a blob of the global store: the same bytes are one blob', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await pushV1Image(t, image);
    const hex = sha256Hex(image.layer);
    const blobs = (await listAll(t, '/docker/registry/v2/blobs')).filter((p) => p.endsWith('/data'));
    assert.deepEqual(blobs, [`/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`]);
    const again = v1Image({ extra: { note: 'other json, same layer' } });
    await pushV1Image(t, { ...again, layer: image.layer });
    assert.equal((await listAll(t, '/docker/registry/v2/blobs')).filter((p) => p.endsWith('/data')).length, 1);
    assert.deepEqual(await listAll(t, '/docker/registry/v1/_uploads'), [], 'no upload left behind');
  });

  test('ancestry is self first, then parent … base; layers of every image', async () => {
    const t = buildTestApp();
    const chain = v1Chain(3, { gzip: (i) => i !== 1 });
    for (const image of chain) await pushV1Image(t, image);
    const top = chain[2] as V1Fixture;
    const res = await t.http.get(`/v1/images/${top.id}/ancestry`).expect(200);
    assert.deepEqual(res.body, [...chain].reverse().map((i) => i.id));
    for (const image of chain) assert.ok(((await getLayer(t, image.id).expect(200)).body as Buffer).equals(image.layer));
  });

  test('layer ranges: 206 with Content-Range; unsatisfiable 416', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await pushV1Image(t, image);
    const part = await getLayer(t, image.id).set('Range', 'bytes=10-19').expect(206);
    assert.ok((part.body as Buffer).equals(image.layer.subarray(10, 20)));
    assert.equal(part.headers['content-range'], `bytes 10-19/${image.layer.length}`);
    assert.equal(part.headers['content-length'], '10');
    const tail = await getLayer(t, image.id).set('Range', 'bytes=100-').expect(206);
    assert.ok((tail.body as Buffer).equals(image.layer.subarray(100)));
    const bad = await t.http.get(`/v1/images/${image.id}/layer`).set('Range', `bytes=${image.layer.length + 5}-`).expect(416);
    assert.equal(bad.headers['content-range'], `bytes */${image.layer.length}`);
  });

  test('HEAD json and layer', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await pushV1Image(t, image);
    const head = await t.http.head(`/v1/images/${image.id}/layer`).expect(200);
    assert.equal(head.headers['content-length'], String(image.layer.length));
    await t.http.head(`/v1/images/${image.id}/json`).expect(200);
  });

  test('409 "Image already exists" for json and layer of a complete image', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await pushV1Image(t, image);
    const again = await putJson(t, image).expect(409);
    assert.deepEqual(JSON.parse(again.text), { error: 'Image already exists' });
    const layer = await putLayer(t, image.id, image.layer).expect(409);
    assert.deepEqual(layer.body, { error: 'Image already exists' });
    const sum = await putChecksum(t, image.id, payloadChecksum(image.json, image.layer)).expect(409);
    assert.deepEqual(sum.body, { error: 'Cannot set this image checksum' });
  });

  test('an image is not pullable before its checksum PUT', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await putJson(t, image).expect(200);
    const json = await t.http.get(`/v1/images/${image.id}/json`).expect(400);
    assert.deepEqual(json.body, { error: 'Image is being uploaded, retry later' });
    await putLayer(t, image.id, image.layer).expect(200);
    await t.http.get(`/v1/images/${image.id}/layer`).expect(400);
    await t.http.get(`/v1/images/${image.id}/ancestry`).expect(400);
    const tag = await t.http.put('/v1/repositories/p/q/tags/latest').send(JSON.stringify(image.id)).expect(400);
    assert.deepEqual(tag.body, { error: 'Image is being uploaded, retry later' });
    // …and JSON may be re-sent while the push is in progress (docker retries do this).
    await putJson(t, image).expect(200);
    await putLayer(t, image.id, image.layer).expect(200);
    await putChecksum(t, image.id, payloadChecksum(image.json, image.layer)).expect(200);
    await t.http.get(`/v1/images/${image.id}/json`).expect(200);
  });

  test('layer before json: 404 "Image not found", nothing stored', async () => {
    const t = buildTestApp();
    const image = v1Image();
    const res = await putLayer(t, image.id, image.layer).expect(404);
    assert.deepEqual(res.body, { error: 'Image not found' });
    assert.deepEqual(await listAll(t, '/docker/registry'), []);
    const sum = await putChecksum(t, image.id, payloadChecksum(image.json, image.layer)).expect(404);
    assert.deepEqual(sum.body, { error: 'Image not found' });
  });

  test('checksum before layer: 400', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await putJson(t, image).expect(200);
    const res = await putChecksum(t, image.id, payloadChecksum(image.json, image.layer)).expect(400);
    assert.match(res.body.error, /layer/i);
  });

  test('wrong checksum: 400 "Checksum mismatch" and the image is discarded', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await putJson(t, image).expect(200);
    await putLayer(t, image.id, image.layer).expect(200);
    const res = await putChecksum(t, image.id, `sha256:${'0'.repeat(64)}`).expect(400);
    assert.deepEqual(res.body, { error: 'Checksum mismatch' });
    await t.http.get(`/v1/images/${image.id}/json`).expect(404);
    assert.deepEqual(await listAll(t, '/docker/registry/v1'), []);
    // A checksum over the layer alone (not json + "\n" + layer) is wrong too.
    await pushV1Image(t, image);
    const other = v1Image();
    await putJson(t, other).expect(200);
    await putLayer(t, other.id, other.layer).expect(200);
    await putChecksum(t, other.id, `sha256:${sha256Hex(other.layer)}`).expect(400);
  });

  test('checksum headers: missing 412, empty 400', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await putJson(t, image).expect(200);
    await putLayer(t, image.id, image.layer).expect(200);
    const missing = await t.http.put(`/v1/images/${image.id}/checksum`).expect(412);
    assert.deepEqual(missing.body, { error: 'Missing X-Docker-Checksum-Payload header' });
    const empty = await putChecksum(t, image.id, '').expect(400);
    assert.deepEqual(empty.body, { error: "Missing Image's checksum" });
  });

  test('unknown parent: 400, nothing stored', async () => {
    const t = buildTestApp();
    const image = v1Image({ parent: randomId() });
    const res = await putJson(t, image).expect(400);
    assert.deepEqual(res.body, { error: 'Image depends on a non existing parent' });
    assert.deepEqual(await listAll(t, '/docker/registry'), []);
    const self = v1Image({ id: randomId() });
    const selfParent = { ...self, json: Buffer.from(JSON.stringify({ id: self.id, parent: self.id })) };
    await putJson(t, selfParent).expect(400);
    const badParent = { ...self, json: Buffer.from(JSON.stringify({ id: self.id, parent: '../../x' })) };
    await putJson(t, badParent).expect(400);
  });

  test('a parent still being pushed is accepted (registry 0.9), the child waits for it to tag', async () => {
    const t = buildTestApp();
    const [base, child] = v1Chain(2) as [V1Fixture, V1Fixture];
    await putJson(t, base).expect(200);
    await pushV1Image(t, child);
    assert.deepEqual((await t.http.get(`/v1/images/${child.id}/ancestry`).expect(200)).body, [child.id, base.id]);
    await t.http.put('/v1/repositories/w/x/tags/t').send(JSON.stringify(child.id)).expect(400);
  });

  test('invalid JSON bodies: 400 with registry 0.9 messages', async () => {
    const t = buildTestApp();
    const id = randomId();
    const cases: [string, string][] = [
      ['not json', 'Invalid JSON'],
      ['[1,2]', 'Invalid JSON'],
      ['"x"', 'Invalid JSON'],
      [JSON.stringify({ parent: randomId() }), "Missing key `id' in JSON"],
      [JSON.stringify({ id: randomId() }), 'JSON data contains invalid id'],
    ];
    for (const [body, message] of cases) {
      const res = await t.http.put(`/v1/images/${id}/json`).set('Content-Type', 'application/json').send(body).expect(400);
      assert.deepEqual(res.body, { error: message }, body);
    }
    assert.deepEqual(await listAll(t, '/docker/registry'), []);
  });

  test('malformed and path-traversal image IDs: 404 "Invalid image ID" before any storage access', async () => {
    const t = buildTestApp();
    const ids = ['..', '..%2F..%2Fetc', '%2e%2e', 'ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789', 'a'.repeat(63), 'a'.repeat(65), 'zz', '%00'];
    for (const id of ids) {
      for (const kind of ['json', 'layer', 'ancestry']) {
        const get = await t.http.get(`/v1/images/${id}/${kind}`);
        assert.equal(get.status, 404, `${id}/${kind}`);
        assert.deepEqual(get.body, { error: 'Invalid image ID' });
      }
      const put = await t.http.put(`/v1/images/${id}/json`).send(JSON.stringify({ id }));
      assert.equal(put.status, 404, id);
      await t.http.put(`/v1/images/${id}/layer`).send('x').expect(404);
      await t.http.put(`/v1/images/${id}/checksum`).set('X-Docker-Checksum-Payload', 'sha256:00').expect(404);
    }
    const traversal = await t.http.get('/v1/images/../../docker/registry/v2/json');
    assert.equal(traversal.status, 404);
    assert.deepEqual(await listAll(t, '/docker/registry'), []);
  });

  test('16-hex short IDs (registry 0.9) are accepted', async () => {
    const t = buildTestApp();
    const image = v1Image({ id: 'abcdef0123456789' });
    await pushV1Image(t, image);
    await t.http.get('/v1/images/abcdef0123456789/json').expect(200);
  });

  test('unsupported layer compression and corrupt gzip: 400, nothing stored', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await putJson(t, image).expect(200);
    const before = await listAll(t, '/docker/registry');
    const bz = await putLayer(t, image.id, Buffer.concat([bzip2Header(), Buffer.alloc(5000, 7)])).expect(400);
    assert.match(bz.body.error, /Layer format not supported: bzip2/);
    const corrupt = Buffer.from(image.layer);
    corrupt.fill(0x55, 20, 200);
    const gz = await putLayer(t, image.id, corrupt).expect(400);
    assert.match(gz.body.error, /not a valid gzip stream/);
    assert.deepEqual(await listAll(t, '/docker/registry'), before, 'no blob, no layer record, no upload left');
    await putLayer(t, image.id, image.layer).expect(200);
    await putChecksum(t, image.id, payloadChecksum(image.json, image.layer)).expect(200);
  });

  test('uncompressed and empty layers are accepted', async () => {
    const t = buildTestApp();
    const plain = v1Image({ gzip: false });
    await pushV1Image(t, plain);
    assert.ok(((await getLayer(t, plain.id).expect(200)).body as Buffer).equals(plain.layer));
    const empty = { ...v1Image(), layer: Buffer.alloc(0) };
    await pushV1Image(t, empty);
    const res = await getLayer(t, empty.id).expect(200);
    assert.equal(res.headers['content-length'], '0');
  });

  test('layers over berth.limits.blobbytes: 413, nothing stored', async () => {
    const t = buildTestApp({ config: { berth: { limits: { blobbytes: 1000 } } } });
    const image = v1Image();
    await putJson(t, image).expect(200);
    const before = await listAll(t, '/docker/registry');
    const res = await putLayer(t, image.id, image.layer);
    assert.equal(res.status, 413);
    assert.deepEqual(await listAll(t, '/docker/registry'), before);
  });

  test('docker older than 0.10 cannot push layers (412)', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await putJson(t, image).expect(200);
    await putLayer(t, image.id, image.layer).set('User-Agent', 'docker/0.9.1 go/go1.2').expect(412);
    await putLayer(t, image.id, image.layer).set('User-Agent', DOCKER_UA).expect(200);
  });

  test('read-only mode refuses every v1 write', async () => {
    const t = buildTestApp({ config: { storage: { inmemory: {}, maintenance: { readonly: { enabled: true } } } } });
    const image = v1Image();
    const res = await putJson(t, image).expect(405);
    assert.deepEqual(res.body, { error: 'registry is in read-only mode' });
    await putLayer(t, image.id, image.layer).expect(405);
    await t.http.put('/v1/repositories/a/b/').send('[]').expect(405);
    await t.http.put('/v1/repositories/a/b/tags/x').send(JSON.stringify(image.id)).expect(405);
  });

  test('a v1 image pushed on one node is pulled from another on the same storage', async () => {
    const a = buildTestApp();
    const b = buildTestApp({ driver: a.driver });
    const [base, top] = v1Chain(2) as [V1Fixture, V1Fixture];
    await pushV1Image(a, base);
    await t2(b, top);
    const res = await b.http.get(`/v1/images/${top.id}/ancestry`).expect(200);
    assert.deepEqual(res.body, [top.id, base.id]);
    assert.ok(((await getLayer(a, top.id).expect(200)).body as Buffer).equals(top.layer));

    async function t2(app: TestApp, image: V1Fixture): Promise<void> {
      await putJson(app, image).expect(200);
      await putLayer(a, image.id, image.layer).expect(200);
      await putChecksum(app, image.id, payloadChecksum(image.json, image.layer)).expect(200);
    }
  });
});
