/**
 * Berth's own tests for the cases where the OCI distribution-spec v1.1.1 conformance suite
 * (conformance/*.go at tag v1.1.1) expects a status that the spec text alone leaves open or that
 * Berth used to answer differently: an invalid manifest reference on GET/HEAD (404), a manifest
 * whose mediaType disagrees with its Content-Type (400, nothing stored), manifests without a
 * mediaType field, the stale-location chunk retry, the streamed PATCH then PUT with no body,
 * mounts, referrers Content-Type and filters, and the delete sequence of the management workflow.
 * Request shapes follow the suite's; the code is Berth's own.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTestApp, locationPath, pushBlob, sha256, withQuery, type TestApp } from '../helpers/build-app.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const SCHEMA2 = 'application/vnd.docker.distribution.manifest.v2+json';
const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const INVALID_REFERENCE = '.INVALID_MANIFEST_NAME';

/** The OCI error envelope the suite decodes: errors[0].code is one of the spec's codes. */
function assertErrorCode(body: unknown, code: string): void {
  const errors = (body as { errors?: { code?: unknown }[] }).errors;
  assert.ok(Array.isArray(errors) && errors.length > 0, JSON.stringify(body));
  assert.equal(errors[0]?.code, code);
}

interface Image {
  readonly config: Buffer;
  readonly configDigest: string;
  readonly layerDigest: string;
  readonly layerSize: number;
}

async function pushParts(t: TestApp, name: string): Promise<Image> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, author: String(Math.random()) }, null, '\t'));
  const layer = Buffer.from(`layer ${Math.random()}`);
  return { config, configDigest: await pushBlob(t, name, config), layerDigest: await pushBlob(t, name, layer), layerSize: layer.length };
}

/** The suite's image manifest: indented JSON, a config with `data` and an unknown field. */
function manifestOf(img: Image, withMediaType: boolean, layers = true): Buffer {
  return Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        ...(withMediaType ? { mediaType: OCI } : {}),
        config: {
          mediaType: OCI_CONFIG,
          digest: img.configDigest,
          size: img.config.length,
          data: img.config.toString('base64'),
          newUnspecifiedField: Buffer.from('hello world').toString('base64'),
        },
        layers: layers ? [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: img.layerDigest, size: img.layerSize }] : [],
      },
      null,
      '\t',
    ),
  );
}

describe('v2 conformance (distribution-spec v1.1.1 suite expectations)', () => {
  test('GET/HEAD of a reference that is neither tag nor digest: 404 MANIFEST_UNKNOWN; PUT keeps 400 TAG_INVALID', async () => {
    const t = buildTestApp();
    const img = await pushParts(t, 'conf/pull');
    await t.http.put('/v2/conf/pull/manifests/tagged').set('Content-Type', OCI).send(manifestOf(img, true).toString()).expect(201);
    const get = await t.http.get(`/v2/conf/pull/manifests/${INVALID_REFERENCE}`).expect(404);
    assertErrorCode(get.body, 'MANIFEST_UNKNOWN');
    await t.http.head(`/v2/conf/pull/manifests/${INVALID_REFERENCE}`).expect(404);
    // In a repository that does not exist either.
    await t.http.head(`/v2/conf/none/manifests/${INVALID_REFERENCE}`).expect(404);
    // The suite's "error codes" probe: GET of sha256:totallywrong with a body; 400 or 404 with the envelope.
    const wrong = await t.http.get('/v2/conf/pull/manifests/sha256:totallywrong').set('Content-Type', OCI).send('blablabla').expect(404);
    assertErrorCode(wrong.body, 'MANIFEST_UNKNOWN');
    const put = await t.http.put(`/v2/conf/pull/manifests/${INVALID_REFERENCE}`).set('Content-Type', OCI).send(manifestOf(img, true).toString()).expect(400);
    assertErrorCode(put.body, 'TAG_INVALID');
    // DELETE of a malformed reference stays a 400 too.
    const del = await t.http.delete(`/v2/conf/pull/manifests/${INVALID_REFERENCE}`).expect(400);
    assertErrorCode(del.body, 'TAG_INVALID');
  });

  test('mediaType that disagrees with Content-Type: 400 MANIFEST_INVALID, nothing stored, no tag', async () => {
    const t = buildTestApp();
    const img = await pushParts(t, 'conf/mt');
    const body = manifestOf(img, true);
    const res = await t.http.put('/v2/conf/mt/manifests/wrong').set('Content-Type', SCHEMA2).send(body.toString()).expect(400);
    assertErrorCode(res.body, 'MANIFEST_INVALID');
    await t.http.get('/v2/conf/mt/manifests/wrong').expect(404);
    await t.http.get(`/v2/conf/mt/manifests/${sha256(body)}`).expect(404);
    const byDigest = await t.http.put(`/v2/conf/mt/manifests/${sha256(body)}`).set('Content-Type', OCI_INDEX).send(body.toString()).expect(400);
    assertErrorCode(byDigest.body, 'MANIFEST_INVALID');
    await t.http.get(`/v2/conf/mt/manifests/${sha256(body)}`).expect(404);
    const tags = await t.http.get('/v2/conf/mt/tags/list');
    assert.ok(tags.status === 404 || (tags.status === 200 && !(tags.body.tags as string[]).includes('wrong')), JSON.stringify(tags.body));
    // A list body labelled as a list of the other family is a mismatch too.
    const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: LIST, manifests: [] }));
    const listRes = await t.http.put('/v2/conf/mt/manifests/l').set('Content-Type', OCI_INDEX).send(list.toString()).expect(400);
    assertErrorCode(listRes.body, 'MANIFEST_INVALID');
    // The same bytes with the matching Content-Type, or a generic one, are accepted.
    await t.http.put('/v2/conf/mt/manifests/right').set('Content-Type', OCI).send(body.toString()).expect(201);
    await t.http.put('/v2/conf/mt/manifests/generic').set('Content-Type', 'application/json').send(body.toString()).expect(201);
    const got = await t.http.get('/v2/conf/mt/manifests/generic').expect(200);
    assert.equal(got.headers['content-type'], OCI);
  });

  test('a manifest without mediaType (legal for OCI) is accepted under the OCI Content-Type', async () => {
    const t = buildTestApp();
    const img = await pushParts(t, 'conf/nomt');
    const body = manifestOf(img, false, false);
    const res = await t.http.put('/v2/conf/nomt/manifests/emptylayer').set('Content-Type', OCI).send(body.toString()).expect(201);
    assert.equal(res.headers['docker-content-digest'], sha256(body));
    const got = await t.http.get(`/v2/conf/nomt/manifests/${sha256(body)}`).set('Accept', OCI).expect(200);
    assert.equal(got.headers['content-type'], OCI);
  });

  test('streamed PATCH without Content-Range, then PUT ?digest= with Content-Length 0: 202 then 201', async () => {
    const t = buildTestApp();
    const blob = Buffer.alloc(42, 7);
    const start = await t.http.post('/v2/conf/push/blobs/uploads/').expect(202);
    const patch = await t.http.patch(locationPath(start.headers['location'])).set('Content-Type', 'application/octet-stream').send(blob).expect(202);
    const put = await t.http
      .put(withQuery(locationPath(patch.headers['location']), { digest: sha256(blob) }))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Length', '0')
      .expect(201);
    assert.ok(put.headers['location']);
    await t.http.get(`/v2/conf/push/blobs/${sha256(blob)}`).expect(200);
  });

  test('chunked: out-of-order 416; the POST location stays valid for the retry (416) and the status (204 + Range)', async () => {
    const t = buildTestApp();
    const chunk1 = Buffer.alloc(21, 1);
    const chunk2 = Buffer.alloc(21, 2);
    const range1 = `0-${chunk1.length - 1}`;
    const range2 = `${chunk1.length}-${chunk1.length + chunk2.length - 1}`;
    const first = await t.http.post('/v2/conf/chunk/blobs/uploads/').set('Content-Length', '0').expect(202);
    const ooo = await t.http.patch(locationPath(first.headers['location'])).set('Content-Type', 'application/octet-stream').set('Content-Range', range2).send(chunk2);
    assert.equal(ooo.status, 416);

    const start = await t.http.post('/v2/conf/chunk/blobs/uploads/').set('Content-Length', '0').expect(202);
    const postLocation = locationPath(start.headers['location']);
    const p1 = await t.http.patch(postLocation).set('Content-Type', 'application/octet-stream').set('Content-Range', range1).send(chunk1).expect(202);
    assert.equal(p1.headers['range'], range1);
    await t.http.patch(postLocation).set('Content-Type', 'application/octet-stream').set('Content-Range', range1).send(chunk1).expect(416);
    const status = await t.http.get(postLocation).expect(204);
    assert.equal(status.headers['range'], range1);
    assert.ok(status.headers['location']);
    const p2 = await t.http
      .patch(locationPath(status.headers['location']))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', range2)
      .send(chunk2)
      .expect(202);
    const digest = sha256(Buffer.concat([chunk1, chunk2]));
    await t.http.put(withQuery(locationPath(p2.headers['location']), { digest })).set('Content-Length', '0').expect(201);
  });

  test('mounts: no from and unknown blob → 202 session; from → 201 at /v2/<ns>/blobs/<digest>; no from, known blob → 201', async () => {
    const t = buildTestApp();
    const blob = Buffer.alloc(42, 9);
    const digest = await pushBlob(t, 'conf/src', blob);
    const unknown = await t.http.post(withQuery('/v2/conf/cross/blobs/uploads/', { mount: sha256('dummy') })).expect(202);
    assert.match(locationPath(unknown.headers['location']), /^\/v2\/conf\/cross\/blobs\/uploads\//);
    const mounted = await t.http.post(withQuery('/v2/conf/cross/blobs/uploads/', { mount: digest, from: 'conf/src' })).expect(201);
    assert.equal(locationPath(mounted.headers['location']), `/v2/conf/cross/blobs/${digest}`);
    await t.http.get(`/v2/conf/cross/blobs/${digest}`).expect(200);
    await t.http.post(withQuery('/v2/conf/cross2/blobs/uploads/', { mount: digest })).expect(201);
  });

  test('referrers: exact index Content-Type, missing subject allowed, filter reported', async () => {
    const t = buildTestApp();
    const empty = await pushBlob(t, 'conf/ref', Buffer.from('{}'));
    const payload = await pushBlob(t, 'conf/ref', Buffer.from('NHL Peanut Butter on my NHL bagel'));
    const absent = sha256('a manifest never pushed');
    const artifact = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI,
        artifactType: 'application/vnd.nhl.peanut.butter.bagel',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 },
        subject: { mediaType: OCI, digest: absent, size: 100 },
        layers: [{ mediaType: 'application/vnd.nhl.peanut.butter.bagel', digest: payload, size: 33 }],
        annotations: { 'org.opencontainers.conformance.test': 'a' },
      }),
    );
    const put = await t.http.put(`/v2/conf/ref/manifests/${sha256(artifact)}`).set('Content-Type', OCI).send(artifact.toString()).expect(201);
    assert.equal(put.headers['oci-subject'], absent);
    const none = await t.http.get(`/v2/conf/ref/referrers/${sha256('nothing')}`).expect(200);
    assert.equal(none.headers['content-type'], OCI_INDEX);
    assert.deepEqual(none.body.manifests, []);
    const list = await t.http.get(`/v2/conf/ref/referrers/${absent}`).expect(200);
    assert.equal(list.headers['content-type'], OCI_INDEX);
    assert.equal(list.body.manifests.length, 1);
    assert.equal(list.body.manifests[0].digest, sha256(artifact));
    const filtered = await t.http.get(withQuery(`/v2/conf/ref/referrers/${absent}`, { artifactType: 'application/other' })).expect(200);
    assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(filtered.body.manifests, []);
  });

  test('management: DELETE tag 202, DELETE digest 202, GET 404, tags list shrinks by one; DELETE blob 202 then GET 404', async () => {
    const t = buildTestApp();
    const img = await pushParts(t, 'conf/mgmt');
    const body = manifestOf(img, true);
    await t.http.put('/v2/conf/mgmt/manifests/keep').set('Content-Type', OCI).send(manifestOf(await pushParts(t, 'conf/mgmt'), true).toString()).expect(201);
    await t.http.put('/v2/conf/mgmt/manifests/tagtodelete').set('Content-Type', OCI).send(body.toString()).expect(201);
    const before = await t.http.get('/v2/conf/mgmt/tags/list').expect(200);
    await t.http.delete('/v2/conf/mgmt/manifests/tagtodelete').expect(202);
    await t.http.delete(`/v2/conf/mgmt/manifests/${sha256(body)}`).expect(202);
    await t.http.get(`/v2/conf/mgmt/manifests/${sha256(body)}`).expect(404);
    const after = await t.http.get('/v2/conf/mgmt/tags/list').expect(200);
    assert.equal(after.body.tags.length, before.body.tags.length - 1);
    await t.http.delete(`/v2/conf/mgmt/blobs/${img.configDigest}`).expect(202);
    await t.http.get(`/v2/conf/mgmt/blobs/${img.configDigest}`).expect(404);
  });

  test('deletes disabled: manifest DELETE answers 405 UNSUPPORTED (the suite wants deletes enabled)', async () => {
    // The v1.1.1 suite accepts 202 or 404 (not 405) for "DELETE request to manifest (digest)", so
    // the conformance run needs storage.delete.enabled: true; distribution answers 405 here too.
    const t = buildTestApp({ config: { storage: { inmemory: {}, delete: { enabled: false } } } });
    const img = await pushParts(t, 'conf/nodel');
    const body = manifestOf(img, true);
    await t.http.put('/v2/conf/nodel/manifests/t').set('Content-Type', OCI).send(body.toString()).expect(201);
    const res = await t.http.delete(`/v2/conf/nodel/manifests/${sha256(body)}`).expect(405);
    assertErrorCode(res.body, 'UNSUPPORTED');
  });
});
