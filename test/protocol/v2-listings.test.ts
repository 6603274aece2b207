/**
 * Tags list (sorted, n/last, Link), catalog (nested names, pagination, limits).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTestApp, pushImage } from '../helpers/build-app.js';

describe('v2 listings', () => {
  test('tags list: lexical order, n/last pagination with Link, n=0', async () => {
    const t = buildTestApp();
    const img = await pushImage(t, 'l/t', 'b');
    for (const tag of ['a', 'C', '1.0', 'z']) {
      await t.http.put(`/v2/l/t/manifests/${tag}`).set('Content-Type', 'application/vnd.docker.distribution.manifest.v2+json').send(img.manifest.toString()).expect(201);
    }
    const all = await t.http.get('/v2/l/t/tags/list').expect(200);
    assert.deepEqual(all.body, { name: 'l/t', tags: ['1.0', 'C', 'a', 'b', 'z'] });
    const p1 = await t.http.get('/v2/l/t/tags/list?n=2').expect(200);
    assert.deepEqual(p1.body.tags, ['1.0', 'C']);
    assert.equal(p1.headers['link'], '</v2/l/t/tags/list?n=2&last=C>; rel="next"');
    const p2 = await t.http.get('/v2/l/t/tags/list?n=2&last=C').expect(200);
    assert.deepEqual(p2.body.tags, ['a', 'b']);
    const p3 = await t.http.get('/v2/l/t/tags/list?n=2&last=b').expect(200);
    assert.deepEqual(p3.body.tags, ['z']);
    assert.equal(p3.headers['link'], undefined);
    const zero = await t.http.get('/v2/l/t/tags/list?n=0').expect(200);
    assert.deepEqual(zero.body.tags, []);
    assert.equal(zero.headers['link'], undefined);
    const lastOnly = await t.http.get('/v2/l/t/tags/list?last=b').expect(200);
    assert.deepEqual(lastOnly.body.tags, ['z']);
  });

  test('tags list of an unknown repository: 404 NAME_UNKNOWN; bad n: 400', async () => {
    const t = buildTestApp();
    const res = await t.http.get('/v2/nope/tags/list').expect(404);
    assert.equal(res.body.errors[0].code, 'NAME_UNKNOWN');
    await pushImage(t, 'l/n', 'x');
    const bad = await t.http.get('/v2/l/n/tags/list?n=-1').expect(400);
    assert.equal(bad.body.errors[0].code, 'PAGINATION_NUMBER_INVALID');
  });

  test('catalog: nested repositories, sorted, paginated', async () => {
    const t = buildTestApp();
    for (const name of ['b/x', 'a', 'a/b', 'c/d/e']) await pushImage(t, name, 'latest');
    const all = await t.http.get('/v2/_catalog').expect(200);
    assert.deepEqual(all.body, { repositories: ['a', 'a/b', 'b/x', 'c/d/e'] });
    const p1 = await t.http.get('/v2/_catalog?n=2').expect(200);
    assert.deepEqual(p1.body.repositories, ['a', 'a/b']);
    assert.equal(p1.headers['link'], '</v2/_catalog?n=2&last=a%2Fb>; rel="next"');
    const p2 = await t.http.get('/v2/_catalog?n=2&last=a/b').expect(200);
    assert.deepEqual(p2.body.repositories, ['b/x', 'c/d/e']);
    const tooMany = await t.http.get('/v2/_catalog?n=100000').expect(400);
    assert.equal(tooMany.body.errors[0].code, 'PAGINATION_NUMBER_INVALID');
  });

  test('a repository with only an upload in progress is not in the catalog', async () => {
    const t = buildTestApp();
    await t.http.post('/v2/pending/repo/blobs/uploads/').expect(202);
    const all = await t.http.get('/v2/_catalog').expect(200);
    assert.deepEqual(all.body.repositories, []);
  });
});
