/**
 * v1 repository endpoints and the standalone index role: docker 1.x's push sequence end to end
 * (index PUT with token and endpoints, images, tag, final 204), tags list/get/put/delete with
 * `library/` for one-component names, tag metadata, repository delete, the pull's first call
 * (`GET …/images`), login (`/v1/users/`), search, unknown endpoints and methods, and access
 * control through the one access controller.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import type { AccessController } from '../../src/auth/access.js';
import { RegistryError } from '../../src/errors/registry-error.js';
import { buildTestApp, pushImage } from '../helpers/build-app.js';
import { DOCKER_UA, pushV1, pushV1Image, randomId, v1Chain, v1Image, type V1Fixture } from './v1-fixtures.js';

const TOKEN = /^signature=[0-9a-f]{32},repository="([^"]+)",access=(read|write|delete)$/;

/** Basic user:secret required; `user` may pull and push `team/*` only. */
const basicAccess: AccessController = {
  authorize: (req: IncomingMessage, required) => {
    const auth = req.headers.authorization ?? '';
    if (auth !== `Basic ${Buffer.from('user:secret').toString('base64')}`) {
      return Promise.reject(new RegistryError('UNAUTHORIZED', { headers: { 'WWW-Authenticate': 'Basic realm="test"' } }));
    }
    if (required.some((r) => !r.name.startsWith('team/'))) return Promise.reject(new RegistryError('DENIED'));
    return Promise.resolve({ subject: 'user' });
  },
  identify: (req: IncomingMessage) => basicAccess.authorize(req, []),
  canPull: (_p, name) => Promise.resolve(name.startsWith('team/')),
};
const BASIC = `Basic ${Buffer.from('user:secret').toString('base64')}`;

describe('v1 push sequence and tags', () => {
  test("docker 1.x's push: index PUT, images, tag, final PUT images 204; then pull", async () => {
    const t = buildTestApp();
    const chain = v1Chain(3);
    await pushV1(t, 'ns/app', 'v1.0', chain);
    const top = chain[2] as V1Fixture;
    const tags = await t.http.get('/v1/repositories/ns/app/tags').expect(200);
    assert.deepEqual(tags.body, { 'v1.0': top.id });
    const one = await t.http.get('/v1/repositories/ns/app/tags/v1.0').expect(200);
    assert.equal(one.body, top.id);
    const images = await t.http.get('/v1/repositories/ns/app/images').set('X-Docker-Token', 'true').expect(200);
    assert.deepEqual(new Set((images.body as { id: string }[]).map((i) => i.id)), new Set(chain.map((i) => i.id)));
    assert.match(String(images.headers['x-docker-token']), TOKEN);
    assert.equal(TOKEN.exec(String(images.headers['x-docker-token']))?.[2], 'read');
  });

  test('index PUT: 200 "" with X-Docker-Token, WWW-Authenticate and X-Docker-Endpoints (the Host)', async () => {
    const t = buildTestApp();
    const res = await t.http
      .put('/v1/repositories/busybox/')
      .set('Host', 'registry.example.test:5000')
      .set('X-Docker-Token', 'true')
      .send(JSON.stringify([{ id: randomId(), Tag: 'latest' }]))
      .expect(200);
    assert.equal(res.text, '""');
    const token = String(res.headers['x-docker-token']);
    assert.deepEqual(TOKEN.exec(token)?.slice(1), ['library/busybox', 'write']);
    assert.equal(res.headers['www-authenticate'], `Token ${token}`);
    assert.equal(res.headers['x-docker-endpoints'], 'registry.example.test:5000');
    const configured = buildTestApp({ config: { http: { host: 'https://berth.example.test' } } });
    const res2 = await configured.http.put('/v1/repositories/a/b/').send('[]').expect(200);
    assert.equal(res2.headers['x-docker-endpoints'], 'berth.example.test');
  });

  test('index PUT: bad image lists are 400', async () => {
    const t = buildTestApp();
    for (const body of ['nope', '{}', '[{"Tag":"x"}]', '[{"id":"../x"}]', '[1]']) {
      const res = await t.http.put('/v1/repositories/a/b/').send(body);
      assert.equal(res.status, body.includes('../') ? 404 : 400, body);
      assert.equal(typeof res.body.error, 'string');
    }
  });

  test('final PUT …/images answers exactly 204 (docker requires it), also with checksums', async () => {
    const t = buildTestApp();
    const id = randomId();
    await t.http.put('/v1/repositories/a/b/').send(JSON.stringify([{ id }])).expect(200);
    const res = await t.http.put('/v1/repositories/a/b/images').send(JSON.stringify([{ id, checksum: 'tarsum+sha256:abc' }])).expect(204);
    assert.equal(res.text, '');
    const list = await t.http.get('/v1/repositories/a/b/images').expect(200);
    assert.deepEqual(list.body, [{ id, checksum: 'tarsum+sha256:abc' }]);
    await t.http.delete('/v1/repositories/a/b/images').expect(204);
  });

  test('GET …/images of an unknown repository: 404; of a v2-only repository: [] with headers', async () => {
    const t = buildTestApp();
    const missing = await t.http.get('/v1/repositories/no/such/images').expect(404);
    assert.deepEqual(missing.body, { error: 'Repository not found' });
    await pushImage(t, 'only/v2', 'latest');
    const res = await t.http.get('/v1/repositories/only/v2/images').set('X-Docker-Token', 'true').expect(200);
    assert.deepEqual(res.body, []);
    assert.ok(res.headers['x-docker-endpoints']);
  });

  test('one-component names are library/<name>: both spellings reach the same repository', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await pushV1(t, 'busybox', 'latest', [image]);
    const a = await t.http.get('/v1/repositories/busybox/tags').expect(200);
    const b = await t.http.get('/v1/repositories/library/busybox/tags').expect(200);
    assert.deepEqual(a.body, { latest: image.id });
    assert.deepEqual(b.body, a.body);
    await t.http.get('/v1/repositories/library/busybox/tags/latest').expect(200);
    // …and it is the v2 repository `busybox`, the one `docker pull host/busybox` uses.
    await t.http.get('/v2/busybox/manifests/latest').expect(200);
    await t.http.put('/v1/repositories/library/busybox/tags/other').send(JSON.stringify(image.id)).expect(200);
    await t.http.get('/v2/busybox/manifests/other').expect(200);
  });

  test('tag PUT errors: invalid tag names, invalid data, unknown or malformed image', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await pushV1Image(t, image);
    for (const tag of ['-bad', '.x', 'a'.repeat(129), 'a%2Fb', 'ta%20g']) {
      const res = await t.http.put(`/v1/repositories/a/b/tags/${tag}`).send(JSON.stringify(image.id)).expect(400);
      assert.deepEqual(res.body, { error: 'Invalid tag name (must match ^[\\w][\\w.-]{0,127}$)' }, tag);
    }
    for (const body of ['not json', '{"id":"x"}', '42', '""']) {
      const res = await t.http.put('/v1/repositories/a/b/tags/x').send(body).expect(400);
      assert.deepEqual(res.body, { error: 'Invalid data' }, body);
    }
    const unknown = await t.http.put('/v1/repositories/a/b/tags/x').send(JSON.stringify(randomId())).expect(404);
    assert.deepEqual(unknown.body, { error: 'Image not found' });
    await t.http.put('/v1/repositories/a/b/tags/x').send(JSON.stringify('../../etc')).expect(404);
    await t.http.get('/v1/repositories/a/b/tags').expect(404);
  });

  test('invalid repository names: 400', async () => {
    const t = buildTestApp();
    for (const name of ['UPPER/case', 'a//b', '-a/b', 'a/b..c']) {
      const res = await t.http.get(`/v1/repositories/${name}/tags`);
      assert.equal(res.status, 400, name);
      assert.deepEqual(res.body, { error: 'invalid repository name' });
    }
  });

  test('tags/<tag> and tag metadata; unknown tag and repository are 404', async () => {
    const t = buildTestApp();
    const image = v1Image();
    await pushV1(t, 'ns/meta', 'latest', [image]);
    const meta = await t.http.get('/v1/repositories/ns/meta/tags/latest/json').expect(200);
    assert.equal(meta.body.docker_version, '1.9.1');
    assert.equal(meta.body.docker_go_version, 'go1.4.3');
    assert.equal(meta.body.arch, 'amd64');
    assert.equal(meta.body.os, 'linux');
    assert.equal(typeof meta.body.last_update, 'number');
    const repoJson = await t.http.get('/v1/repositories/ns/meta/json').expect(200);
    assert.deepEqual(repoJson.body, meta.body);
    const missingTag = await t.http.get('/v1/repositories/ns/meta/tags/nope').expect(404);
    assert.deepEqual(missingTag.body, { error: 'Tag not found' });
    await t.http.get('/v1/repositories/ns/meta/tags/nope/json').expect(404);
    const missingRepo = await t.http.get('/v1/repositories/ns/none/tags').expect(404);
    assert.deepEqual(missingRepo.body, { error: 'Repository not found' });
    assert.equal(missingRepo.headers['cache-control'], 'no-cache');
  });

  test('tag DELETE and repository DELETE (images stay); deletes can be disabled', async () => {
    const t = buildTestApp();
    const [a, b] = [v1Image(), v1Image()];
    await pushV1(t, 'ns/del', 'one', [a]);
    await pushV1(t, 'ns/del', 'two', [b]);
    const del = await t.http.delete('/v1/repositories/ns/del/tags/one').expect(200);
    assert.equal(del.text, 'true');
    const again = await t.http.delete('/v1/repositories/ns/del/tags/one').expect(404);
    assert.deepEqual(again.body, { error: 'Tag not found: one' });
    assert.deepEqual((await t.http.get('/v1/repositories/ns/del/tags').expect(200)).body, { two: b.id });
    await t.http.get('/v2/ns/del/manifests/one').expect(404);
    await t.http.delete('/v1/repositories/ns/del/').expect(200);
    assert.deepEqual((await t.http.get('/v1/repositories/ns/del/tags').expect(200)).body, {});
    await t.http.get(`/v1/images/${b.id}/json`).expect(200);
    await t.http.delete('/v1/repositories/ns/never/').expect(404);
    await pushV1(t, 'ns/del2', 'x', [v1Image()]);
    await t.http.delete('/v1/repositories/ns/del2/tags').expect(200);
    assert.deepEqual((await t.http.get('/v1/repositories/ns/del2/tags').expect(200)).body, {});

    const locked = buildTestApp({ config: { storage: { inmemory: {}, delete: { enabled: false } } } });
    await pushV1(locked, 'ns/keep', 'x', [v1Image()]);
    const refused = await locked.http.delete('/v1/repositories/ns/keep/tags/x').expect(405);
    assert.deepEqual(refused.body, { error: 'deletes are disabled (storage.delete.enabled)' });
    await locked.http.delete('/v1/repositories/ns/keep/').expect(405);
  });

  test('re-tagging moves the tag; tags are listed sorted', async () => {
    const t = buildTestApp();
    const [a, b] = [v1Image(), v1Image()];
    await pushV1(t, 'ns/move', 'latest', [a]);
    await pushV1(t, 'ns/move', 'b', [b]);
    await t.http.put('/v1/repositories/ns/move/tags/latest').send(JSON.stringify(b.id)).expect(200);
    const res = await t.http.get('/v1/repositories/ns/move/tags').expect(200);
    assert.deepEqual(Object.keys(res.body), ['b', 'latest']);
    assert.deepEqual(res.body, { b: b.id, latest: b.id });
  });
});

describe('v1 login, search, routing', () => {
  test('users: GET 200 "OK"; POST 401 (no sign-up, clients then check with GET); PUT 405', async () => {
    const t = buildTestApp();
    const ok = await t.http.get('/v1/users/').set('Authorization', BASIC).expect(200);
    assert.equal(ok.body, 'OK');
    await t.http.get('/v1/users').expect(200);
    const post = await t.http.post('/v1/users/').send({ username: 'u', password: 'p', email: 'e@x' }).expect(401);
    assert.equal(post.headers['www-authenticate'], 'Basic realm="Berth"');
    assert.equal(typeof post.body.error, 'string');
    await t.http.put('/v1/users/someone/').send({ password: 'x' }).expect(405);
  });

  test('with an access controller: credentials are checked, repositories guarded', async () => {
    const t = buildTestApp({ access: basicAccess });
    await t.http.get('/v1/users/').expect(401);
    await t.http.get('/v1/users/').set('Authorization', `Basic ${Buffer.from('user:wrong').toString('base64')}`).expect(401);
    await t.http.get('/v1/users/').set('Authorization', BASIC).expect(200);
    const image = v1Image();
    const denied = await t.http.put('/v1/repositories/other/x/').set('Authorization', BASIC).send('[]').expect(403);
    assert.equal(typeof denied.body.error, 'string');
    await t.http.put(`/v1/images/${image.id}/json`).send(image.json.toString()).expect(401);
    await t.http.put(`/v1/images/${image.id}/json`).set('Authorization', BASIC).send(image.json.toString()).expect(200);
    await t.http.put(`/v1/images/${image.id}/layer`).set('Authorization', BASIC).send(image.layer).expect(200);
    const { payloadChecksum } = await import('./v1-fixtures.js');
    await t.http.put(`/v1/images/${image.id}/checksum`).set('Authorization', BASIC).set('X-Docker-Checksum-Payload', payloadChecksum(image.json, image.layer)).expect(200);
    await t.http.put('/v1/repositories/team/app/tags/latest').set('Authorization', BASIC).send(JSON.stringify(image.id)).expect(200);
    await t.http.get('/v1/repositories/team/app/tags').expect(401);
    await t.http.get('/v1/repositories/team/app/tags').set('Authorization', BASIC).expect(200);
    await t.http.get(`/v1/images/${image.id}/json`).expect(401);
    await t.http.get(`/v1/images/${image.id}/json`).set('Authorization', BASIC).expect(200);
  });

  test('search: fields docker reads, substring match, paging, bad n', async () => {
    const t = buildTestApp();
    await pushImage(t, 'alpha/web', 'latest');
    await pushImage(t, 'beta/webapp', 'latest');
    await pushImage(t, 'gamma/db', 'latest');
    await pushImage(t, 'webtool', 'latest');
    const res = await t.http.get('/v1/search?q=web').set('X-Docker-Token', 'true').expect(200);
    assert.equal(res.body.query, 'web');
    assert.equal(res.body.num_results, 3);
    assert.deepEqual(
      res.body.results.map((r: { name: string }) => r.name),
      ['alpha/web', 'beta/webapp', 'library/webtool'],
    );
    assert.deepEqual(res.body.results[0], { name: 'alpha/web', description: '', star_count: 0, is_official: false, is_automated: false, is_trusted: false });
    const page = await t.http.get('/v1/search?q=web&n=2&page=2').expect(200);
    assert.deepEqual(page.body.results.map((r: { name: string }) => r.name), ['library/webtool']);
    assert.equal(page.body.num_pages, 2);
    assert.equal(page.body.page_size, 2);
    assert.equal((await t.http.get('/v1/search').expect(200)).body.num_results, 4);
    await t.http.get('/v1/search?q=x&n=0').expect(400);
    await t.http.get('/v1/search?q=x&n=101').expect(400);
  });

  test('search hides repositories the caller cannot pull', async () => {
    const t = buildTestApp({ access: basicAccess });
    const open = buildTestApp({ driver: t.driver });
    await pushImage(open, 'team/one', 'latest');
    await pushImage(open, 'secret/two', 'latest');
    const res = await t.http.get('/v1/search?q=').set('Authorization', BASIC).expect(200);
    assert.deepEqual(res.body.results.map((r: { name: string }) => r.name), ['team/one']);
  });

  test('unknown endpoints are 404, wrong methods 405, in v1 error shape', async () => {
    const t = buildTestApp();
    const nf = await t.http.get('/v1/nothing/here').expect(404);
    assert.deepEqual(nf.body, { error: 'Not found' });
    const m = await t.http.post(`/v1/images/${randomId()}/json`).expect(405);
    assert.equal(typeof m.body.error, 'string');
    assert.ok(String(m.headers['allow']).includes('PUT'));
    await t.http.delete('/v1/_ping').expect(405);
    const ua = await t.http.get('/v1/_ping').set('User-Agent', DOCKER_UA).expect(200);
    assert.equal(ua.headers['x-docker-registry-standalone'], 'true');
  });
});
