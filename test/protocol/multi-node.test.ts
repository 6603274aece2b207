/**
 * Two Berth apps sharing one storage driver behave as one registry: content pushed through one is
 * pulled through the other, tag updates are seen at once with `berth.cache.linkttl: 0` and within
 * the bound with it, and an upload started on one node is
 * continued and finished on the other (with and without a shared http.secret).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { binary, buildTestApp, locationPath, pushImage, sha256, withQuery } from '../helpers/build-app.js';

describe('multi-node on shared storage', () => {
  test('push on A, pull on B; with berth.cache.linkttl: 0 tag moves are visible at once', async () => {
    const driver = checked(createInMemoryDriver());
    const noCache = { berth: { cache: { linkttl: 0 } } };
    const a = buildTestApp({ driver, config: noCache });
    const b = buildTestApp({ driver, config: noCache });
    const one = await pushImage(a, 'mn/x', 'latest');
    const res = await b.http.get('/v2/mn/x/manifests/latest').expect(200);
    assert.equal(res.headers['docker-content-digest'], one.digest);
    const two = await pushImage(b, 'mn/x', 'latest');
    const again = await a.http.get('/v2/mn/x/manifests/latest').expect(200);
    assert.equal(again.headers['docker-content-digest'], two.digest);
    await b.http.delete(`/v2/mn/x/manifests/${two.digest}`).expect(202);
    await a.http.get('/v2/mn/x/manifests/latest').expect(404);
  });

  test('with the default link cache a tag move through B is seen by A within the bound, by B at once', async () => {
    const driver = checked(createInMemoryDriver());
    const bound = { berth: { cache: { linkttl: '200ms' } } };
    const a = buildTestApp({ driver, config: bound });
    const b = buildTestApp({ driver, config: bound });
    const one = await pushImage(a, 'mn/y', 'latest');
    assert.equal((await a.http.get('/v2/mn/y/manifests/latest').expect(200)).headers['docker-content-digest'], one.digest);
    const two = await pushImage(b, 'mn/y', 'latest');
    const moved = Date.now();
    assert.equal((await b.http.get('/v2/mn/y/manifests/latest').expect(200)).headers['docker-content-digest'], two.digest);
    const early = (await a.http.get('/v2/mn/y/manifests/latest').expect(200)).headers['docker-content-digest'];
    assert.ok(early === one.digest || early === two.digest);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, moved + 210 - Date.now())));
    assert.equal((await a.http.get('/v2/mn/y/manifests/latest').expect(200)).headers['docker-content-digest'], two.digest);
    await b.http.delete(`/v2/mn/y/manifests/${two.digest}`).expect(202);
    const deleted = Date.now();
    await b.http.get('/v2/mn/y/manifests/latest').expect(404);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deleted + 210 - Date.now())));
    await a.http.get('/v2/mn/y/manifests/latest').expect(404);
    await a.http.get(`/v2/mn/y/manifests/${two.digest}`).expect(404);
  });

  test('an upload started on A is finished on B', async () => {
    for (const secret of [undefined, 'shared-secret']) {
      const driver = checked(createInMemoryDriver());
      const config = secret === undefined ? {} : { http: { secret } };
      const a = buildTestApp({ driver, config });
      const b = buildTestApp({ driver, config });
      const part1 = Buffer.alloc(100_000, 1);
      const part2 = Buffer.alloc(50_000, 2);
      const digest = sha256(Buffer.concat([part1, part2]));
      const start = await a.http.post('/v2/mn/up/blobs/uploads/').expect(202);
      const p1 = await a.http.patch(locationPath(start.headers['location'])).set('Content-Range', '0-99999').send(part1).expect(202);
      const status = await b.http.get(locationPath(p1.headers['location'])).expect(204);
      assert.equal(status.headers['range'], '0-99999');
      const p2 = await b.http.patch(locationPath(p1.headers['location'])).set('Content-Range', '100000-149999').send(part2).expect(202);
      await b.http.put(withQuery(locationPath(p2.headers['location']), { digest })).expect(201);
      const got = await a.http.get(`/v2/mn/up/blobs/${digest}`).buffer(true).parse(binary).expect(200);
      assert.ok((got.body as Buffer).equals(Buffer.concat([part1, part2])));
    }
  });

  test('nodes with different secrets reject each other\'s upload URLs', async () => {
    const driver = checked(createInMemoryDriver());
    const a = buildTestApp({ driver, config: { http: { secret: 'one' } } });
    const b = buildTestApp({ driver, config: { http: { secret: 'two' } } });
    const start = await a.http.post('/v2/mn/s/blobs/uploads/').expect(202);
    await b.http.get(locationPath(start.headers['location'])).expect(400);
  });
});
