/**
 * Blob HEAD/GET/DELETE: headers, Range requests (206/416), repository scoping, delete switch.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { binary, buildTestApp, pushBlob, sha256 } from '../helpers/build-app.js';

describe('v2 blobs', () => {
  test('HEAD and GET an existing blob', async () => {
    const t = buildTestApp();
    const bytes = Buffer.from('0123456789abcdef');
    const digest = await pushBlob(t, 'lib/a', bytes);
    const head = await t.http.head(`/v2/lib/a/blobs/${digest}`).expect(200);
    assert.equal(head.headers['content-length'], '16');
    assert.equal(head.headers['docker-content-digest'], digest);
    assert.equal(head.headers['content-type'], 'application/octet-stream');
    assert.equal(head.headers['accept-ranges'], 'bytes');
    const get = await t.http.get(`/v2/lib/a/blobs/${digest}`).buffer(true).parse(binary).expect(200);
    assert.deepEqual(get.body, bytes);
  });

  test('unknown blob: 404 BLOB_UNKNOWN (and HEAD without a body)', async () => {
    const t = buildTestApp();
    const missing = sha256('missing');
    const res = await t.http.get(`/v2/lib/a/blobs/${missing}`).expect(404);
    assert.equal(res.body.errors[0].code, 'BLOB_UNKNOWN');
    await t.http.head(`/v2/lib/a/blobs/${missing}`).expect(404);
  });

  test('a blob is only visible in repositories it is linked to', async () => {
    const t = buildTestApp();
    const digest = await pushBlob(t, 'lib/a', Buffer.from('scoped'));
    await t.http.head(`/v2/lib/b/blobs/${digest}`).expect(404);
  });

  test('Range requests', async () => {
    const t = buildTestApp();
    const bytes = Buffer.from('0123456789');
    const digest = await pushBlob(t, 'r/x', bytes);
    const part = await t.http.get(`/v2/r/x/blobs/${digest}`).set('Range', 'bytes=2-5').buffer(true).parse(binary).expect(206);
    assert.equal(part.body.toString(), '2345');
    assert.equal(part.headers['content-range'], 'bytes 2-5/10');
    const open = await t.http.get(`/v2/r/x/blobs/${digest}`).set('Range', 'bytes=7-').buffer(true).parse(binary).expect(206);
    assert.equal(open.body.toString(), '789');
    const suffix = await t.http.get(`/v2/r/x/blobs/${digest}`).set('Range', 'bytes=-3').buffer(true).parse(binary).expect(206);
    assert.equal(suffix.body.toString(), '789');
    const bad = await t.http.get(`/v2/r/x/blobs/${digest}`).set('Range', 'bytes=20-30').expect(416);
    assert.equal(bad.headers['content-range'], 'bytes */10');
  });

  test('DELETE unlinks the blob from the repository', async () => {
    const t = buildTestApp();
    const digest = await pushBlob(t, 'd/x', Buffer.from('delete me'));
    await t.http.delete(`/v2/d/x/blobs/${digest}`).expect(202);
    await t.http.head(`/v2/d/x/blobs/${digest}`).expect(404);
    const again = await t.http.delete(`/v2/d/x/blobs/${digest}`).expect(404);
    assert.equal(again.body.errors[0].code, 'BLOB_UNKNOWN');
  });

  test('DELETE is 405 UNSUPPORTED when deletes are disabled', async () => {
    const t = buildTestApp({ config: { storage: { inmemory: {}, delete: { enabled: false } } } });
    const digest = await pushBlob(t, 'd/x', Buffer.from('keep'));
    const res = await t.http.delete(`/v2/d/x/blobs/${digest}`).expect(405);
    assert.equal(res.body.errors[0].code, 'UNSUPPORTED');
  });

  test('invalid digests: 400 DIGEST_INVALID', async () => {
    const t = buildTestApp();
    for (const d of ['sha256:abc', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'sha256:' + 'G'.repeat(64), 'nocolon']) {
      const res = await t.http.get(`/v2/lib/a/blobs/${d}`);
      assert.equal(res.status, 400, d);
      assert.equal(res.body.errors[0].code, 'DIGEST_INVALID', d);
    }
  });
});
