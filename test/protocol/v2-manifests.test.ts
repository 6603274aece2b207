/**
 * Manifests: PUT/GET/HEAD/DELETE by tag and digest for every media type, byte-exact storage,
 * ETag/304, reference checks (MANIFEST_BLOB_UNKNOWN), size limit (413), invalid bodies, content
 * negotiation for manifest lists, `?tag=` parameters, subject/OCI-Subject and referrers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { binary, buildTestApp, pushBlob, pushImage, sha256, type TestApp } from '../helpers/build-app.js';

const SCHEMA2 = 'application/vnd.docker.distribution.manifest.v2+json';
const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';

async function getManifest(t: TestApp, path: string, accept?: string) {
  const req = t.http.get(path).buffer(true).parse(binary);
  if (accept !== undefined) req.set('Accept', accept);
  return req;
}

describe('v2 manifests', () => {
  test('schema2: PUT by tag, GET by tag and digest, byte-exact, headers', async () => {
    const t = buildTestApp();
    const img = await pushImage(t, 'm/a', 'v1');
    assert.equal(img.digest, sha256(img.manifest));
    for (const ref of ['v1', img.digest]) {
      const res = await getManifest(t, `/v2/m/a/manifests/${ref}`, SCHEMA2);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, img.manifest);
      assert.equal(res.headers['content-type'], SCHEMA2);
      assert.equal(res.headers['docker-content-digest'], img.digest);
      assert.equal(res.headers['etag'], `"${img.digest}"`);
      assert.equal(res.headers['content-length'], String(img.manifest.length));
    }
    const head = await t.http.head('/v2/m/a/manifests/v1').expect(200);
    assert.equal(head.headers['content-length'], String(img.manifest.length));
    assert.equal(head.headers['docker-content-digest'], img.digest);
    await t.http.get('/v2/m/a/manifests/v1').set('If-None-Match', `"${img.digest}"`).expect(304);
  });

  test('OCI manifest with no Accept header is served as stored', async () => {
    const t = buildTestApp();
    const img = await pushImage(t, 'm/oci', 'latest', { oci: true });
    const res = await getManifest(t, '/v2/m/oci/manifests/latest');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], OCI);
    assert.deepEqual(res.body, img.manifest);
  });

  test('PUT by digest: verified; mismatch is DIGEST_INVALID', async () => {
    const t = buildTestApp();
    const img = await pushImage(t, 'm/d', 'x');
    await t.http.put(`/v2/m/d/manifests/${img.digest}`).set('Content-Type', SCHEMA2).send(img.manifest.toString()).expect(201);
    const bad = await t.http.put(`/v2/m/d/manifests/${sha256('other')}`).set('Content-Type', SCHEMA2).send(img.manifest.toString()).expect(400);
    assert.equal(bad.body.errors[0].code, 'DIGEST_INVALID');
  });

  test('unknown blobs are rejected with MANIFEST_BLOB_UNKNOWN', async () => {
    const t = buildTestApp();
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: SCHEMA2,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256('cfg'), size: 3 },
      layers: [],
    });
    const res = await t.http.put('/v2/m/b/manifests/x').set('Content-Type', SCHEMA2).send(manifest.toString()).expect(400);
    assert.equal(res.body.errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal(res.body.errors[0].detail.digest, sha256('cfg'));
  });

  test('foreign layers (with urls) are not required to exist', async () => {
    const t = buildTestApp();
    const cfg = Buffer.from('{}');
    const cfgDigest = await pushBlob(t, 'm/f', cfg);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: SCHEMA2,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: cfgDigest, size: 2 },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: sha256('win'), size: 3, urls: ['https://example.invalid/x'] }],
    });
    await t.http.put('/v2/m/f/manifests/x').set('Content-Type', SCHEMA2).send(manifest.toString()).expect(201);
  });

  test('invalid manifests: 400 MANIFEST_INVALID', async () => {
    const t = buildTestApp();
    const cases: [string, string][] = [
      ['not json', SCHEMA2],
      ['[]', SCHEMA2],
      [JSON.stringify({ schemaVersion: 3, mediaType: SCHEMA2 }), SCHEMA2],
      [JSON.stringify({ schemaVersion: 2, mediaType: SCHEMA2, config: { digest: 'x' } }), SCHEMA2],
      [JSON.stringify({ schemaVersion: 2, mediaType: 'application/x-unknown', config: {} }), 'application/x-unknown'],
      [JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: 'nope' }), INDEX],
      [JSON.stringify({ schemaVersion: 2, mediaType: SCHEMA2, config: { mediaType: 'a', digest: sha256('a'), size: -1 }, layers: [] }), SCHEMA2],
    ];
    for (const [body, type] of cases) {
      const res = await t.http.put('/v2/m/i/manifests/x').set('Content-Type', type).send(body);
      assert.equal(res.status, 400, body);
      assert.equal(res.body.errors[0].code, 'MANIFEST_INVALID', body);
    }
    const empty = await t.http.put('/v2/m/i/manifests/x').set('Content-Type', SCHEMA2).send('');
    assert.equal(empty.status, 400);
  });

  test('manifests over 4 MiB: 413', async () => {
    const t = buildTestApp();
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const res = await t.http.put('/v2/m/big/manifests/x').set('Content-Type', SCHEMA2).send(big.toString());
    assert.equal(res.status, 413);
    assert.equal(res.body.errors[0].code, 'SIZE_INVALID');
  });

  test('invalid tags and references', async () => {
    const t = buildTestApp();
    // GET/HEAD: a malformed reference names no manifest (404, as the OCI conformance suite expects).
    const res = await t.http.get('/v2/m/a/manifests/-bad').expect(404);
    assert.equal(res.body.errors[0].code, 'MANIFEST_UNKNOWN');
    const long = await t.http.get(`/v2/m/a/manifests/${'a'.repeat(129)}`).expect(404);
    assert.equal(long.body.errors[0].code, 'MANIFEST_UNKNOWN');
    const dig = await t.http.get('/v2/m/a/manifests/sha256:zz').expect(404);
    assert.equal(dig.body.errors[0].code, 'MANIFEST_UNKNOWN');
    // PUT and DELETE keep the 400s.
    const put = await t.http.put('/v2/m/a/manifests/-bad').set('Content-Type', SCHEMA2).send('{}').expect(400);
    assert.equal(put.body.errors[0].code, 'TAG_INVALID');
    const del = await t.http.delete('/v2/m/a/manifests/sha256:zz').expect(400);
    assert.equal(del.body.errors[0].code, 'DIGEST_INVALID');
  });

  test('manifest list: served as is to list-aware clients, linux/amd64 child to others', async () => {
    const t = buildTestApp();
    const amd = await pushImage(t, 'm/l', 'amd');
    const arm = await pushImage(t, 'm/l', 'arm');
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: LIST,
        manifests: [
          { mediaType: SCHEMA2, digest: arm.digest, size: arm.manifest.length, platform: { architecture: 'arm64', os: 'linux' } },
          { mediaType: SCHEMA2, digest: amd.digest, size: amd.manifest.length, platform: { architecture: 'amd64', os: 'linux' } },
        ],
      }),
    );
    const put = await t.http.put('/v2/m/l/manifests/multi').set('Content-Type', LIST).send(list.toString()).expect(201);
    const listDigest = String(put.headers['docker-content-digest']);
    const aware = await getManifest(t, '/v2/m/l/manifests/multi', `${SCHEMA2}, ${LIST}`);
    assert.equal(aware.headers['content-type'], LIST);
    assert.equal(aware.headers['docker-content-digest'], listDigest);
    const plain = await getManifest(t, '/v2/m/l/manifests/multi', SCHEMA2);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['docker-content-digest'], amd.digest);
    assert.deepEqual(plain.body, amd.manifest);
    const byDigest = await getManifest(t, `/v2/m/l/manifests/${listDigest}`, SCHEMA2);
    assert.equal(byDigest.headers['docker-content-digest'], listDigest);
  });

  test('index referencing an unknown child: MANIFEST_BLOB_UNKNOWN', async () => {
    const t = buildTestApp();
    const index = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: OCI, digest: sha256('nope'), size: 4 }] });
    const res = await t.http.put('/v2/m/ix/manifests/x').set('Content-Type', INDEX).send(index).expect(400);
    assert.equal(res.body.errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('?tag= parameters create several tags and answer OCI-Tag', async () => {
    const t = buildTestApp();
    const img = await pushImage(t, 'm/t', 'first');
    const res = await t.http.put(`/v2/m/t/manifests/${img.digest}?tag=a&tag=b`).set('Content-Type', SCHEMA2).send(img.manifest.toString()).expect(201);
    assert.equal(res.headers['oci-tag'], 'a, b');
    const tags = await t.http.get('/v2/m/t/tags/list').expect(200);
    assert.deepEqual(tags.body.tags, ['a', 'b', 'first']);
  });

  test('DELETE by tag removes only the tag; by digest removes manifest and its tags', async () => {
    const t = buildTestApp();
    const img = await pushImage(t, 'm/del', 'one');
    await t.http.put('/v2/m/del/manifests/two').set('Content-Type', SCHEMA2).send(img.manifest.toString()).expect(201);
    await t.http.delete('/v2/m/del/manifests/one').expect(202);
    await t.http.get('/v2/m/del/manifests/one').expect(404);
    await t.http.get('/v2/m/del/manifests/two').expect(200);
    await t.http.get(`/v2/m/del/manifests/${img.digest}`).expect(200);
    await t.http.delete(`/v2/m/del/manifests/${img.digest}`).expect(202);
    await t.http.get(`/v2/m/del/manifests/${img.digest}`).expect(404);
    await t.http.get('/v2/m/del/manifests/two').expect(404);
    const tags = await t.http.get('/v2/m/del/tags/list').expect(200);
    assert.deepEqual(tags.body.tags, []);
    const again = await t.http.delete(`/v2/m/del/manifests/${img.digest}`).expect(404);
    assert.equal(again.body.errors[0].code, 'MANIFEST_UNKNOWN');
  });

  test('DELETE disabled: 405 UNSUPPORTED', async () => {
    const t = buildTestApp({ config: { storage: { inmemory: {}, delete: { enabled: false } } } });
    const img = await pushImage(t, 'm/nd', 'x');
    const res = await t.http.delete(`/v2/m/nd/manifests/${img.digest}`).expect(405);
    assert.equal(res.body.errors[0].code, 'UNSUPPORTED');
  });

  test('subject: OCI-Subject header, referrers listing and artifactType filter', async () => {
    const t = buildTestApp();
    const subject = await pushImage(t, 'm/r', 'base', { oci: true });
    const empty = Buffer.from('{}');
    const emptyDigest = await pushBlob(t, 'm/r', empty);
    assert.equal(emptyDigest, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    const artifact = (type: string, note: string): Buffer =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI,
          artifactType: type,
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
          layers: [],
          subject: { mediaType: OCI, digest: subject.digest, size: subject.manifest.length },
          annotations: { note },
        }),
      );
    const sig = artifact('application/vnd.example.sig', 'sig');
    const sbom = artifact('application/vnd.example.sbom', 'sbom');
    const r1 = await t.http.put(`/v2/m/r/manifests/${sha256(sig)}`).set('Content-Type', OCI).send(sig.toString()).expect(201);
    assert.equal(r1.headers['oci-subject'], subject.digest);
    await t.http.put(`/v2/m/r/manifests/${sha256(sbom)}`).set('Content-Type', OCI).send(sbom.toString()).expect(201);
    const all = await t.http.get(`/v2/m/r/referrers/${subject.digest}`).expect(200);
    assert.equal(all.headers['content-type'], INDEX);
    assert.equal(all.body.manifests.length, 2);
    const entry = all.body.manifests.find((m: { digest: string }) => m.digest === sha256(sig));
    assert.deepEqual(entry, { mediaType: OCI, digest: sha256(sig), size: sig.length, artifactType: 'application/vnd.example.sig', annotations: { note: 'sig' } });
    const filtered = await t.http.get(`/v2/m/r/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`).expect(200);
    assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    assert.equal(filtered.body.manifests.length, 1);
    const none = await t.http.get(`/v2/m/r/referrers/${sha256('nothing')}`).expect(200);
    assert.deepEqual(none.body, { schemaVersion: 2, mediaType: INDEX, manifests: [] });
    await t.http.get('/v2/m/r/referrers/sha256:bad').expect(400);
    await t.http.delete(`/v2/m/r/manifests/${sha256(sig)}`).expect(202);
    const after = await t.http.get(`/v2/m/r/referrers/${subject.digest}`).expect(200);
    assert.equal(after.body.manifests.length, 1);
  });

  test('a subject that does not exist yet is accepted', async () => {
    const t = buildTestApp();
    const emptyDigest = await pushBlob(t, 'm/s', Buffer.from('{}'));
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
      layers: [],
      subject: { mediaType: OCI, digest: sha256('future'), size: 10 },
    });
    const res = await t.http.put('/v2/m/s/manifests/x').set('Content-Type', OCI).send(body).expect(201);
    assert.equal(res.headers['oci-subject'], sha256('future'));
  });

  test('unsigned schema1 manifests are accepted and served with their media type', async () => {
    const t = buildTestApp();
    const layer = await pushBlob(t, 'm/s1', Buffer.from('layer'));
    const body = JSON.stringify({
      schemaVersion: 1,
      name: 'm/s1',
      tag: 'old',
      architecture: 'amd64',
      fsLayers: [{ blobSum: layer }],
      history: [{ v1Compatibility: JSON.stringify({ id: 'a'.repeat(64) }) }],
    });
    await t.http.put('/v2/m/s1/manifests/old').set('Content-Type', 'application/vnd.docker.distribution.manifest.v1+json').send(body).expect(201);
    const res = await t.http.get('/v2/m/s1/manifests/old').set('Accept', 'application/vnd.docker.distribution.manifest.v1+json').expect(200);
    assert.match(String(res.headers['content-type']), /application\/vnd\.docker\.distribution\.manifest\.v1\+(json|prettyjws)/);
  });
});
