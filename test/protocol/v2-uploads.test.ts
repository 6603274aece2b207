/**
 * Blob uploads: monolithic (POST+PUT and single POST), chunked PATCH with Content-Range,
 * streamed PATCH without it, out-of-order chunks (416), status, cancel, digest mismatch
 * (nothing stored), cross-repository mount and automatic content discovery.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { binary, buildTestApp, locationPath, pushBlob, sha256, withQuery } from '../helpers/build-app.js';

describe('v2 uploads', () => {
  test('POST starts a session: 202, Location, Range 0-0, Docker-Upload-UUID', async () => {
    const t = buildTestApp();
    const res = await t.http.post('/v2/u/a/blobs/uploads/').expect(202);
    assert.match(String(res.headers['location']), /^http:\/\/.+\/v2\/u\/a\/blobs\/uploads\/[0-9a-f-]{36}/);
    assert.equal(res.headers['range'], '0-0');
    assert.match(String(res.headers['docker-upload-uuid']), /^[0-9a-f-]{36}$/);
    assert.equal(res.headers['content-length'], '0');
  });

  test('single POST with ?digest= stores the blob (201)', async () => {
    const t = buildTestApp();
    const bytes = Buffer.from('monolithic single post');
    const digest = sha256(bytes);
    const res = await t.http.post(`/v2/u/a/blobs/uploads/?digest=${digest}`).set('Content-Type', 'application/octet-stream').send(bytes).expect(201);
    assert.equal(res.headers['docker-content-digest'], digest);
    assert.match(String(res.headers['location']), new RegExp(`/v2/u/a/blobs/${digest}$`));
    await t.http.head(`/v2/u/a/blobs/${digest}`).expect(200);
  });

  test('chunked upload with Content-Range, status, out-of-order 416, finish', async () => {
    const t = buildTestApp();
    const a = Buffer.from('first-chunk-');
    const b = Buffer.from('second-chunk');
    const digest = sha256(Buffer.concat([a, b]));
    const start = await t.http.post('/v2/c/x/blobs/uploads/').expect(202);
    let loc = locationPath(start.headers['location']);
    const ooo = await t.http.patch(loc).set('Content-Range', `5-${5 + a.length - 1}`).set('Content-Type', 'application/octet-stream').send(a).expect(416);
    assert.equal(ooo.body.errors[0].code, 'RANGE_INVALID');
    const p1 = await t.http.patch(loc).set('Content-Range', `0-${a.length - 1}`).set('Content-Type', 'application/octet-stream').send(a).expect(202);
    assert.equal(p1.headers['range'], `0-${a.length - 1}`);
    loc = locationPath(p1.headers['location']);
    await t.http.patch(loc).set('Content-Range', `0-${a.length - 1}`).set('Content-Type', 'application/octet-stream').send(a).expect(416);
    const status = await t.http.get(loc).expect(204);
    assert.equal(status.headers['range'], `0-${a.length - 1}`);
    assert.ok(status.headers['location']);
    const p2 = await t.http
      .patch(loc)
      .set('Content-Range', `${a.length}-${a.length + b.length - 1}`)
      .set('Content-Type', 'application/octet-stream')
      .send(b)
      .expect(202);
    assert.equal(p2.headers['range'], `0-${a.length + b.length - 1}`);
    const done = await t.http.put(withQuery(locationPath(p2.headers['location']), { digest })).expect(201);
    assert.equal(done.headers['docker-content-digest'], digest);
    const got = await t.http.get(`/v2/c/x/blobs/${digest}`).buffer(true).parse(binary).expect(200);
    assert.equal((got.body as Buffer).toString(), 'first-chunk-second-chunk');
  });

  test('streamed PATCH without Content-Range or Content-Length (chunked encoding)', async () => {
    const t = buildTestApp();
    const start = await t.http.post('/v2/s/x/blobs/uploads/').expect(202);
    const loc = locationPath(start.headers['location']);
    const req = t.http.patch(loc);
    const parts = [Buffer.alloc(70_000, 1), Buffer.alloc(30_000, 2)];
    for (const p of parts) req.write(p);
    const res = await req.expect(202);
    assert.equal(res.headers['range'], '0-99999');
    const digest = sha256(Buffer.concat(parts));
    await t.http.put(withQuery(locationPath(res.headers['location']), { digest })).expect(201);
    const head = await t.http.head(`/v2/s/x/blobs/${digest}`).expect(200);
    assert.equal(head.headers['content-length'], '100000');
  });

  test('final chunk in the PUT body', async () => {
    const t = buildTestApp();
    const a = Buffer.from('aaaa');
    const b = Buffer.from('bbbb');
    const digest = sha256(Buffer.concat([a, b]));
    const start = await t.http.post('/v2/f/x/blobs/uploads/').expect(202);
    const p1 = await t.http.patch(locationPath(start.headers['location'])).set('Content-Range', '0-3').send(a).expect(202);
    await t.http
      .put(withQuery(locationPath(p1.headers['location']), { digest }))
      .set('Content-Range', '4-7')
      .set('Content-Type', 'application/octet-stream')
      .send(b)
      .expect(201);
    await t.http.head(`/v2/f/x/blobs/${digest}`).expect(200);
  });

  test('zero-byte blob', async () => {
    const t = buildTestApp();
    const digest = sha256('');
    const start = await t.http.post('/v2/z/x/blobs/uploads/').expect(202);
    await t.http.put(withQuery(locationPath(start.headers['location']), { digest })).expect(201);
    const head = await t.http.head(`/v2/z/x/blobs/${digest}`).expect(200);
    assert.equal(head.headers['content-length'], '0');
  });

  test('digest mismatch: 400 DIGEST_INVALID, nothing stored, session gone', async () => {
    const t = buildTestApp();
    const wrong = sha256('something else');
    const start = await t.http.post('/v2/m/x/blobs/uploads/').expect(202);
    const loc = locationPath(start.headers['location']);
    const res = await t.http.put(withQuery(loc, { digest: wrong })).set('Content-Type', 'application/octet-stream').send(Buffer.from('actual')).expect(400);
    assert.equal(res.body.errors[0].code, 'DIGEST_INVALID');
    await t.http.head(`/v2/m/x/blobs/${wrong}`).expect(404);
    await t.http.head(`/v2/m/x/blobs/${sha256('actual')}`).expect(404);
    await t.http.get(loc).expect(404);
  });

  test('PUT without digest is 400; unknown and malformed upload ids are 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const t = buildTestApp();
    const start = await t.http.post('/v2/e/x/blobs/uploads/').expect(202);
    const noDigest = await t.http.put(locationPath(start.headers['location'])).expect(400);
    assert.equal(noDigest.body.errors[0].code, 'DIGEST_INVALID');
    const unknown = await t.http.patch('/v2/e/x/blobs/uploads/00000000-0000-4000-8000-000000000000').send(Buffer.from('x')).expect(404);
    assert.equal(unknown.body.errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
    const malformed = await t.http.get('/v2/e/x/blobs/uploads/..%2F..%2Fetc').expect(404);
    assert.equal(malformed.body.errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('Content-Length that disagrees with Content-Range: 400 SIZE_INVALID', async () => {
    const t = buildTestApp();
    const start = await t.http.post('/v2/e/x/blobs/uploads/').expect(202);
    const res = await t.http.patch(locationPath(start.headers['location'])).set('Content-Range', '0-9').send(Buffer.from('abc')).expect(400);
    assert.equal(res.body.errors[0].code, 'SIZE_INVALID');
  });

  test('malformed Content-Range: 416', async () => {
    const t = buildTestApp();
    const start = await t.http.post('/v2/e/x/blobs/uploads/').expect(202);
    await t.http.patch(locationPath(start.headers['location'])).set('Content-Range', 'garbage').send(Buffer.from('abc')).expect(416);
  });

  test('DELETE cancels an upload (204), then it is unknown', async () => {
    const t = buildTestApp();
    const start = await t.http.post('/v2/k/x/blobs/uploads/').expect(202);
    const loc = locationPath(start.headers['location']);
    await t.http.patch(loc).send(Buffer.from('partial')).expect(202);
    await t.http.delete(loc).expect(204);
    await t.http.get(loc).expect(404);
    await t.http.delete(loc).expect(404);
  });

  test('cross-repository mount: 201 when the source has it, 202 session otherwise', async () => {
    const t = buildTestApp();
    const digest = await pushBlob(t, 'src/repo', Buffer.from('mount me'));
    const res = await t.http.post(`/v2/dst/repo/blobs/uploads/?mount=${digest}&from=src/repo`).expect(201);
    assert.equal(res.headers['docker-content-digest'], digest);
    await t.http.head(`/v2/dst/repo/blobs/${digest}`).expect(200);
    const missing = await t.http.post(`/v2/dst/repo/blobs/uploads/?mount=${sha256('nope')}&from=src/repo`).expect(202);
    assert.ok(missing.headers['docker-upload-uuid']);
    const badFrom = await t.http.post(`/v2/dst/repo/blobs/uploads/?mount=${digest}&from=BAD..name`).expect(400);
    assert.equal(badFrom.body.errors[0].code, 'NAME_INVALID');
  });

  test('automatic content discovery: mount without from finds a stored blob', async () => {
    const t = buildTestApp();
    const digest = await pushBlob(t, 'one/repo', Buffer.from('discover me'));
    await t.http.post(`/v2/two/repo/blobs/uploads/?mount=${digest}`).expect(201);
    await t.http.head(`/v2/two/repo/blobs/${digest}`).expect(200);
  });

  test('read-only mode rejects uploads with 405', async () => {
    const t = buildTestApp({ config: { storage: { inmemory: {}, maintenance: { readonly: { enabled: true } } } } });
    const res = await t.http.post('/v2/ro/x/blobs/uploads/').expect(405);
    assert.equal(res.body.errors[0].code, 'UNSUPPORTED');
  });

  test('upload URLs are signed with http.secret and forged ones rejected', async () => {
    const t = buildTestApp({ config: { http: { secret: 'test-secret' } } });
    const start = await t.http.post('/v2/sig/x/blobs/uploads/').expect(202);
    const loc = locationPath(start.headers['location']);
    assert.match(loc, /_state=/);
    await t.http.get(loc).expect(204);
    const forged = loc.replace(/_state=[^&]+/, '_state=forged');
    const res = await t.http.get(forged).expect(400);
    assert.equal(res.body.errors[0].code, 'BLOB_UPLOAD_INVALID');
    await t.http.get(loc.replace(/\?.*$/, '')).expect(400);
  });
});
