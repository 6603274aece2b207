/**
 * Schema1 for old v2 clients (docker 1.6–1.9): the negotiation rule, schema2/OCI/list → signed
 * schema1 conversion (libtrust JWS verified here with independent code; the v1 IDs are the
 * bridge's), stored schema1 served re-signed, and schema1 pushes: signed ones verified and stored
 * by the digest of their payload without signatures, unsigned ones as sent, tampered or
 * inconsistent ones refused. The signing key follows http.secret.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import { wantsSchema1 } from '../../src/core/bridge/schema1.js';
import { signingKeyFor } from '../../src/core/bridge/jws.js';
import { binary, buildTestApp, pushBlob, sha256, type TestApp } from '../helpers/build-app.js';
import { buildImage, buildMultiPlatform, MediaType, type BuiltImage } from '../helpers/oci-image.js';
import { pushBuiltV2, v1Chain } from './v1-fixtures.js';

const SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
const UNSIGNED = 'application/vnd.docker.distribution.manifest.v1+json';
const EMPTY_GZ = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
const OLD_DOCKER = 'docker/1.8.3 go/go1.4.2 git-commit/f4bf5c7 kernel/3.13.0 os/linux arch/amd64';

interface Verified {
  readonly payload: Buffer;
  readonly manifest: Record<string, unknown>;
  readonly jwk: Record<string, unknown>;
}

/** libtrust verification, written independently of Berth's jws.ts. */
function verifyLibtrust(body: Buffer): Verified {
  const doc = JSON.parse(body.toString()) as { signatures: { header: { jwk: JsonWebKey; alg: string }; signature: string; protected: string }[] };
  assert.ok(Array.isArray(doc.signatures) && doc.signatures.length > 0, 'has signatures');
  let payload: Buffer | undefined;
  for (const sig of doc.signatures) {
    const prot = JSON.parse(Buffer.from(sig.protected, 'base64url').toString()) as { formatLength: number; formatTail: string; time: string };
    assert.match(prot.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    payload = Buffer.concat([body.subarray(0, prot.formatLength), Buffer.from(prot.formatTail, 'base64url')]);
    assert.equal(sig.header.alg, 'ES256');
    const key = createPublicKey({ key: sig.header.jwk, format: 'jwk' });
    const ok = verify('sha256', Buffer.from(`${sig.protected}.${payload.toString('base64url')}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig.signature, 'base64url'));
    assert.ok(ok, 'signature verifies');
  }
  assert.ok(payload !== undefined);
  const first = doc.signatures[0];
  return { payload, manifest: JSON.parse(payload.toString()) as Record<string, unknown>, jwk: (first?.header.jwk ?? {}) as Record<string, unknown> };
}

/** Signs like docker 1.x's libtrust (independent of Berth's signer). */
function libtrustSign(payload: Buffer, privateKey: KeyObject): Buffer {
  const text = payload.toString();
  let last = text.lastIndexOf('}') - 1;
  while (/\s/.test(text[last] ?? '')) last--;
  const formatLength = last + 1;
  const prot = Buffer.from(
    JSON.stringify({ formatLength, formatTail: Buffer.from(text.slice(formatLength)).toString('base64url'), time: '2016-01-02T03:04:05Z' }),
  ).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${prot}.${payload.toString('base64url')}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const signatures = [{ header: { jwk: { crv: 'P-256', kid: 'ABCD:EFGH:IJKL:MNOP:QRST:UVWX:YZ23:4567:ABCD:EFGH:IJKL:MNOP', kty: 'EC', x: jwk.x, y: jwk.y }, alg: 'ES256' }, signature: signature.toString('base64url'), protected: prot }];
  return Buffer.from(`${text.slice(0, formatLength)},\n   "signatures": ${JSON.stringify(signatures, null, 3).replace(/\n/g, '\n   ')}\n}`);
}

/** A docker-1.8-style schema1 manifest of v1 fixtures whose layers are pushed to `name`. */
async function schema1Of(t: TestApp, name: string, tag: string): Promise<{ payload: Buffer; ids: string[] }> {
  const chain = v1Chain(2);
  for (const image of chain) await pushBlob(t, name, image.layer);
  const topFirst = [...chain].reverse();
  const doc = {
    schemaVersion: 1,
    name,
    tag,
    architecture: 'amd64',
    fsLayers: topFirst.map((i) => ({ blobSum: sha256(i.layer) })),
    history: topFirst.map((i) => ({ v1Compatibility: i.json.toString() })),
  };
  return { payload: Buffer.from(JSON.stringify(doc, null, 3)), ids: chain.map((c) => c.id) };
}

function getManifest(t: TestApp, path: string, headers: Record<string, string>) {
  const req = t.http.get(path).buffer(true).parse(binary);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req;
}

describe('schema1 negotiation rule', () => {
  test('schema1 types without schema2/OCI, or no Accept from docker < 1.10', () => {
    const cases: [string[], string | undefined, boolean][] = [
      [[SIGNED], undefined, true],
      [[UNSIGNED], undefined, true],
      [['application/json'], undefined, true],
      [[SIGNED, MediaType.dockerManifest], undefined, false],
      [[SIGNED, MediaType.ociManifest], undefined, false],
      [[SIGNED, '*/*'], undefined, false],
      [[MediaType.dockerManifest], undefined, false],
      [['text/html'], undefined, false],
      [[], OLD_DOCKER, true],
      [[], 'docker/1.6.0 go/go1.4.2', true],
      [[], 'docker/0.11.1', true],
      [[], 'docker/1.10.0 go/go1.5.3', false],
      [[], 'docker/17.03.0-ce go/go1.7.5', false],
      [[], 'curl/8.0', false],
      [[], 'node-docker-registry-client/3.4.0 (x64-linux; node/20.20.2)', true],
      [['application/json', MediaType.dockerManifest, MediaType.ociManifest], 'node-docker-registry-client/3.4.0', false],
      [[], undefined, false],
    ];
    for (const [accept, ua, expected] of cases) assert.equal(wantsSchema1(new Set(accept), ua), expected, `${accept.join(',')} ${ua ?? ''}`);
  });
});

describe('schema2 → signed schema1', () => {
  test('by tag for a schema1-only client: signed, digest over the payload, v1 IDs of the bridge', async () => {
    const t = buildTestApp();
    const image = buildImage({ format: 'docker', layers: 2 });
    await pushBuiltV2(t, 's1/app', 'v1', image);
    const res = await getManifest(t, '/v2/s1/app/manifests/v1', { Accept: SIGNED }).expect(200);
    assert.equal(res.headers['content-type'], SIGNED);
    const body = res.body as Buffer;
    assert.equal(res.headers['content-length'], String(body.length));
    const { payload, manifest } = verifyLibtrust(body);
    assert.equal(res.headers['docker-content-digest'], sha256(payload));
    assert.equal(res.headers['etag'], `"${sha256(payload)}"`);
    assert.equal(manifest['schemaVersion'], 1);
    assert.equal(manifest['name'], 's1/app');
    assert.equal(manifest['tag'], 'v1');
    assert.equal(manifest['architecture'], 'amd64');
    const fsLayers = (manifest['fsLayers'] as { blobSum: string }[]).map((l) => l.blobSum);
    assert.deepEqual(fsLayers, [...image.layers].reverse().map((l) => l.digest));
    const history = (manifest['history'] as { v1Compatibility: string }[]).map((h) => JSON.parse(h.v1Compatibility) as { id: string });
    const v1 = (await t.http.get('/v1/repositories/s1/app/tags').expect(200)).body as Record<string, string>;
    assert.equal(history[0]?.id, v1['v1'], 'the schema1 top ID is the v1 API ID');
    const ancestry = (await t.http.get(`/v1/images/${v1['v1']}/ancestry`).expect(200)).body as string[];
    assert.deepEqual(history.map((h) => h.id), ancestry);
    const head = await t.http.head('/v2/s1/app/manifests/v1').set('Accept', SIGNED).expect(200);
    assert.equal(head.headers['content-length'], String(body.length));
    assert.equal(head.headers['docker-content-digest'], sha256(payload));
  });

  test('docker < 1.10 without Accept gets schema1; newer docker and other clients get the stored manifest', async () => {
    const t = buildTestApp();
    const image = buildImage({ format: 'docker', layers: 1 });
    await pushBuiltV2(t, 's1/ua', 'latest', image);
    const old = await getManifest(t, '/v2/s1/ua/manifests/latest', { 'User-Agent': OLD_DOCKER }).expect(200);
    assert.equal(old.headers['content-type'], SIGNED);
    verifyLibtrust(old.body as Buffer);
    const modern = await getManifest(t, '/v2/s1/ua/manifests/latest', { 'User-Agent': 'docker/1.10.3 go/go1.5.3' }).expect(200);
    assert.ok((modern.body as Buffer).equals(image.manifest.bytes));
    const curl = await getManifest(t, '/v2/s1/ua/manifests/latest', { 'User-Agent': 'curl/8.5.0' }).expect(200);
    assert.ok((curl.body as Buffer).equals(image.manifest.bytes));
    const both = await getManifest(t, '/v2/s1/ua/manifests/latest', { Accept: `${SIGNED}, ${MediaType.dockerManifest}` }).expect(200);
    assert.ok((both.body as Buffer).equals(image.manifest.bytes));
    const byDigest = await getManifest(t, `/v2/s1/ua/manifests/${image.manifest.digest}`, { Accept: SIGNED }).expect(200);
    assert.ok((byDigest.body as Buffer).equals(image.manifest.bytes), 'by digest the stored manifest is served (as distribution did)');
  });

  test('an OCI index: the linux/amd64 image converted; empty layers get the empty tar blob', async () => {
    const t = buildTestApp();
    const multi = buildMultiPlatform();
    for (const child of multi.images) await pushBuiltV2(t, 's1/multi', child.manifest.digest, child);
    await t.http.put('/v2/s1/multi/manifests/all').set('Content-Type', MediaType.ociIndex).send(multi.index.bytes.toString()).expect(201);
    const res = await getManifest(t, '/v2/s1/multi/manifests/all', { Accept: SIGNED }).expect(200);
    const { manifest } = verifyLibtrust(res.body as Buffer);
    const amd = multi.images[0] as BuiltImage;
    assert.deepEqual((manifest['fsLayers'] as { blobSum: string }[]).map((l) => l.blobSum), [...amd.layers].reverse().map((l) => l.digest));

    // A config whose last step is an empty layer: fsLayers[0] is the empty tar, which the repository then serves.
    const cfg = { ...amd.configJson, history: [...amd.configJson.history, { created: '2024-05-01T12:00:00Z', created_by: 'CMD x', empty_layer: true }] };
    const cfgBytes = Buffer.from(JSON.stringify(cfg));
    await pushBlob(t, 's1/empty', cfgBytes);
    for (const l of amd.layers) await pushBlob(t, 's1/empty', l.bytes);
    const m = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: sha256(cfgBytes), size: cfgBytes.length },
      layers: amd.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    await t.http.put('/v2/s1/empty/manifests/e').set('Content-Type', MediaType.ociManifest).send(JSON.stringify(m)).expect(201);
    await t.http.head(`/v2/s1/empty/blobs/${EMPTY_GZ}`).expect(404);
    const conv = await getManifest(t, '/v2/s1/empty/manifests/e', { Accept: UNSIGNED }).expect(200);
    const fs = (verifyLibtrust(conv.body as Buffer).manifest['fsLayers'] as { blobSum: string }[]).map((l) => l.blobSum);
    assert.equal(fs[0], EMPTY_GZ);
    const blob = await t.http.get(`/v2/s1/empty/blobs/${EMPTY_GZ}`).buffer(true).parse(binary).expect(200);
    assert.equal((blob.body as Buffer).length, 32);
  });

  test('nothing convertible (artifact): 404 MANIFEST_UNKNOWN for a schema1-only client', async () => {
    const t = buildTestApp();
    const cfg = Buffer.from('not json');
    const cfgDigest = await pushBlob(t, 's1/art', cfg);
    const m = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, digest: cfgDigest, size: cfg.length }, layers: [] };
    await t.http.put('/v2/s1/art/manifests/x').set('Content-Type', MediaType.ociManifest).send(JSON.stringify(m)).expect(201);
    const res = await t.http.get('/v2/s1/art/manifests/x').set('Accept', SIGNED).expect(404);
    assert.equal(res.body.errors[0].code, 'MANIFEST_UNKNOWN');
  });
});

describe('schema1 push', () => {
  test('signed: verified, digest over the payload without signatures, served re-signed', async () => {
    const t = buildTestApp();
    const { payload, ids } = await schema1Of(t, 's1/push', 'latest');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signed = libtrustSign(payload, privateKey);
    const put = await t.http.put('/v2/s1/push/manifests/latest').set('Content-Type', SIGNED).send(signed.toString()).expect(201);
    assert.equal(put.headers['docker-content-digest'], sha256(payload));
    await t.http.put(`/v2/s1/push/manifests/${sha256(payload)}`).set('Content-Type', SIGNED).send(signed.toString()).expect(201);
    for (const ref of ['latest', sha256(payload)]) {
      const res = await getManifest(t, `/v2/s1/push/manifests/${ref}`, { Accept: SIGNED }).expect(200);
      assert.equal(res.headers['docker-content-digest'], sha256(payload));
      const got = verifyLibtrust(res.body as Buffer);
      assert.ok(got.payload.equals(payload), 'payload unchanged');
      assert.equal(got.jwk['kid'], signingKeyFor(undefined).jwk.kid, "re-signed with the registry's key");
    }
    // A stored schema1 manifest is also served to modern clients (as distribution did).
    const modern = await getManifest(t, '/v2/s1/push/manifests/latest', { Accept: MediaType.dockerManifest }).expect(200);
    assert.equal(modern.headers['content-type'], SIGNED);
    // …and its v1Compatibility IDs are what the v1 API shows.
    const tags = (await t.http.get('/v1/repositories/s1/push/tags').expect(200)).body as Record<string, string>;
    assert.equal(tags['latest'], ids[1]);
    assert.deepEqual((await t.http.get(`/v1/images/${ids[1]}/ancestry`).expect(200)).body, [...ids].reverse());
  });

  test('unsigned: stored as sent (digest over the bytes), served signed', async () => {
    const t = buildTestApp();
    const { payload } = await schema1Of(t, 's1/unsigned', 'v');
    const put = await t.http.put('/v2/s1/unsigned/manifests/v').set('Content-Type', UNSIGNED).send(payload.toString()).expect(201);
    assert.equal(put.headers['docker-content-digest'], sha256(payload));
    const res = await getManifest(t, '/v2/s1/unsigned/manifests/v', { Accept: SIGNED }).expect(200);
    assert.ok(verifyLibtrust(res.body as Buffer).payload.equals(payload));
  });

  test('tampered signatures, wrong name or tag, inconsistent history, missing layers: refused', async () => {
    const t = buildTestApp();
    const { payload } = await schema1Of(t, 's1/bad', 'latest');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signed = libtrustSign(payload, privateKey).toString();
    const tampered = signed.replace('"architecture": "amd64"', '"architecture": "arm64"');
    const bad = await t.http.put('/v2/s1/bad/manifests/latest').set('Content-Type', SIGNED).send(tampered).expect(400);
    assert.equal(bad.body.errors[0].code, 'MANIFEST_UNVERIFIED');
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const swapped = JSON.parse(signed) as { signatures: { header: { jwk: JsonWebKey } }[] };
    const wrongJwk = createPublicKey(otherKey).export({ format: 'jwk' });
    const sig0 = swapped.signatures[0];
    assert.ok(sig0 !== undefined);
    sig0.header.jwk = { ...sig0.header.jwk, x: wrongJwk.x, y: wrongJwk.y };
    const wrongKey = await t.http.put('/v2/s1/bad/manifests/latest').set('Content-Type', SIGNED).send(JSON.stringify(swapped)).expect(400);
    assert.equal(wrongKey.body.errors[0].code, 'MANIFEST_UNVERIFIED');
    const garbage = signed.replace(/"protected": "[^"]+"/, '"protected": "!!"');
    assert.equal((await t.http.put('/v2/s1/bad/manifests/latest').set('Content-Type', SIGNED).send(garbage).expect(400)).body.errors[0].code, 'MANIFEST_UNVERIFIED');

    const wrongTag = await t.http.put('/v2/s1/bad/manifests/other').set('Content-Type', SIGNED).send(signed).expect(400);
    assert.equal(wrongTag.body.errors[0].code, 'TAG_INVALID');
    const wrongName = await t.http.put('/v2/s1/elsewhere/manifests/latest').set('Content-Type', SIGNED).send(signed).expect(400);
    assert.equal(wrongName.body.errors[0].code, 'NAME_INVALID');

    const doc = JSON.parse(payload.toString()) as { history: unknown[] };
    doc.history = doc.history.slice(1);
    const uneven = await t.http.put('/v2/s1/bad/manifests/latest').set('Content-Type', UNSIGNED).send(JSON.stringify(doc)).expect(400);
    assert.equal(uneven.body.errors[0].code, 'MANIFEST_INVALID');

    const fresh = buildTestApp();
    const missing = await fresh.http.put('/v2/s1/bad/manifests/latest').set('Content-Type', SIGNED).send(signed).expect(400);
    assert.equal(missing.body.errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
    await t.http.get('/v2/s1/bad/manifests/latest').expect(404);
  });
});

describe('schema1 signing key', () => {
  test('derived from http.secret (one identity per cluster), else per process', async () => {
    assert.equal(signingKeyFor('shared').jwk.kid, signingKeyFor('shared').jwk.kid);
    assert.notEqual(signingKeyFor('shared').jwk.kid, signingKeyFor('other').jwk.kid);
    assert.match(signingKeyFor('shared').jwk.kid, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    const image = buildImage({ format: 'docker', layers: 1 });
    const kids: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const t = buildTestApp({ config: { http: { secret: 'cluster-secret' } } });
      await pushBuiltV2(t, 's1/key', 'latest', image);
      const res = await getManifest(t, '/v2/s1/key/manifests/latest', { Accept: SIGNED }).expect(200);
      kids.push(verifyLibtrust(res.body as Buffer).jwk['kid']);
    }
    assert.equal(kids[0], kids[1]);
    assert.equal(kids[0], signingKeyFor('cluster-secret').jwk.kid);
  });
});
