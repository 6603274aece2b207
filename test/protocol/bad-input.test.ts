/**
 * Bad input never reaches storage and never yields a 500: path traversal in names and digests,
 * invalid names, unknown digest algorithms, malformed percent-encoding, wrong/oversized bodies,
 * cut connections mid-upload, concurrent pushes of one blob and one tag.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { buildTestApp, locationPath, pushBlob, pushImage, sha256, withQuery } from '../helpers/build-app.js';

describe('bad input', () => {
  test('path traversal and invalid names: 400 NAME_INVALID, never a storage access', async () => {
    const t = buildTestApp();
    const names = ['..%2F..%2Fetc', 'UPPER/case', 'a//b', '-lead', 'a/_uploads', 'x'.repeat(256), 'a%00b', 'a/..', 'a/./b', '%2e%2e/x'];
    for (const name of names) {
      const res = await t.http.get(`/v2/${name}/tags/list`);
      assert.ok(res.status === 400 || res.status === 404, `${name}: ${res.status}`);
      assert.ok(Array.isArray(res.body.errors), name);
      assert.notEqual(res.status, 500);
    }
    const r = await t.http.get('/v2/UPPER/tags/list').expect(400);
    assert.equal(r.body.errors[0].code, 'NAME_INVALID');
    const bad = await t.http.get('/v2/a%ZZ/tags/list').expect(400);
    assert.equal(bad.body.errors[0].code, 'NAME_INVALID');
  });

  test('digest traversal and unknown algorithms: 400 DIGEST_INVALID', async () => {
    const t = buildTestApp();
    for (const d of ['sha256:..%2F..%2F..%2Fetc%2Fpasswd', 'sha256%3A..', 'sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709', 'blake3:abc']) {
      const res = await t.http.head(`/v2/a/b/blobs/${d}`);
      assert.equal(res.status, 400, d);
    }
    const res = await t.http.get('/v2/a/b/blobs/sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709').expect(400);
    assert.equal(res.body.errors[0].code, 'DIGEST_INVALID');
    assert.match(res.body.errors[0].message, /unsupported digest algorithm/);
    const post = await t.http.post('/v2/a/b/blobs/uploads/?digest=sha256:nothex').send('x').expect(400);
    assert.equal(post.body.errors[0].code, 'DIGEST_INVALID');
  });

  test('malformed Content-Length is 400', async () => {
    const t = buildTestApp();
    const res = await t.http.get('/v2/a/b/tags/list?n=abc').expect(400);
    assert.equal(res.body.errors[0].code, 'PAGINATION_NUMBER_INVALID');
  });

  test('sha512 digests are supported end to end', async () => {
    const t = buildTestApp();
    const bytes = Buffer.from('sha512 content');
    const { createHash } = await import('node:crypto');
    const digest = `sha512:${createHash('sha512').update(bytes).digest('hex')}`;
    await t.http.post(`/v2/s/x/blobs/uploads/?digest=${digest}`).send(bytes).expect(201);
    await t.http.head(`/v2/s/x/blobs/${digest}`).expect(200);
  });

  test('a connection cut mid-upload leaves no blob and a resumable session', async () => {
    const t = buildTestApp();
    const server = createServer(t.app.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const start = await fetch(`http://127.0.0.1:${port}/v2/cut/x/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202);
      const loc = locationPath(start.headers.get('location'));
      const full = Buffer.alloc(1024 * 1024, 7);
      const digest = sha256(full);
      await new Promise<void>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: withQuery(loc, { digest }), headers: { 'Content-Length': full.length } });
        req.on('error', () => resolve());
        req.write(full.subarray(0, 300_000), () => setTimeout(() => {
          req.destroy();
          resolve();
        }, 50));
      });
      await new Promise((r) => setTimeout(r, 100));
      const head = await fetch(`http://127.0.0.1:${port}/v2/cut/x/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(head.status, 404);
      const status = await fetch(`http://127.0.0.1:${port}${loc}`);
      assert.equal(status.status, 204);
      const range = status.headers.get('range') ?? '';
      const have = Number(range.split('-')[1]) + 1;
      assert.ok(have <= 300_000, `server kept ${have} bytes`);
      // Resume from what the server has and finish: the blob is byte-identical.
      const rest = full.subarray(range === '0-0' ? 0 : have);
      const put = await fetch(`http://127.0.0.1:${port}${withQuery(locationPath(status.headers.get('location')), { digest })}`, {
        method: 'PUT',
        body: rest,
        headers: { 'Content-Range': `${full.length - rest.length}-${full.length - 1}` },
      });
      assert.equal(put.status, 201);
      const got = Buffer.from(await (await fetch(`http://127.0.0.1:${port}/v2/cut/x/blobs/${digest}`)).arrayBuffer());
      assert.ok(got.equals(full));
    } finally {
      server.close();
    }
  });

  test('concurrent pushes of the same blob and the same tag', async () => {
    const t = buildTestApp();
    const bytes = Buffer.alloc(200_000, 3);
    const digests = await Promise.all([1, 2, 3, 4].map(() => pushBlob(t, 'con/x', bytes)));
    assert.equal(new Set(digests).size, 1);
    const head = await t.http.head(`/v2/con/x/blobs/${digests[0]}`).expect(200);
    assert.equal(head.headers['content-length'], '200000');
    const imgs = await Promise.all([1, 2, 3].map(() => pushImage(t, 'con/x', 'same')));
    const res = await t.http.get('/v2/con/x/manifests/same').expect(200);
    assert.ok(imgs.some((i) => i.digest === res.headers['docker-content-digest']));
  });

  test('wrong manifest content type with a body that says otherwise uses the body', async () => {
    const t = buildTestApp();
    const img = await pushImage(t, 'ct/x', 'a');
    await t.http.put('/v2/ct/x/manifests/b').set('Content-Type', 'text/plain').send(img.manifest.toString()).expect(201);
    const res = await t.http.get('/v2/ct/x/manifests/b').expect(200);
    assert.equal(res.headers['content-type'], 'application/vnd.docker.distribution.manifest.v2+json');
  });
});
