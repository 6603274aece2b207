/**
 * The v1 API refuses pushes into names the pull-through cache mirrors, as the v2 API does (405
 * UNSUPPORTED), while other names keep taking v1 pushes. The upstream is never contacted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp } from '../helpers/build-app.js';
import { DOCKER_UA } from '../protocol/v1-fixtures.js';

test('v1 index PUT, tag PUT and final images PUT into a proxied name are 405', async () => {
  const t = buildTestApp({ config: { berth: { proxy: { upstreams: [{ prefix: 'mirror', remoteurl: 'http://127.0.0.1:9' }] } } } });
  const put = (path: string, body: string) =>
    t.http.put(path).set('User-Agent', DOCKER_UA).set('Content-Type', 'application/json').send(body);
  for (const [path, body] of [
    ['/v1/repositories/mirror/app/', '[]'],
    ['/v1/repositories/mirror/app/tags/latest', JSON.stringify('a'.repeat(64))],
    ['/v1/repositories/mirror/app/images', '[]'],
  ] as const) {
    const res = await put(path, body);
    assert.equal(res.status, 405, `${path}: ${res.status} ${res.text}`);
  }
  await put('/v1/repositories/local/app/', '[]').expect(200);
  const v2 = await t.http.post('/v2/mirror/app/blobs/uploads/');
  assert.equal(v2.status, 405);
});
