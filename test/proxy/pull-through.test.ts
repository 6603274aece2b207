/**
 * The pull-through cache in process: a real upstream Berth (open, Basic-only, or htpasswd with
 * its token server) listening on loopback behind a request counter, and a proxying Berth in front
 * of it (supertest). Cold and warm pulls byte-identical, one upstream fetch per blob for 20
 * concurrent cold pulls, pushes refused, deletes evicting, the cached tag served while the
 * upstream is down, a moved tag seen after the TTL, the token dance with cached tokens, and a
 * lying upstream never leaving a blob in storage.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import request from 'supertest';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { createAuth } from '../../src/auth/create-auth.js';
import { parseAuthSettings } from '../../src/auth/settings.js';
import { createApp } from '../../src/server/create-app.js';
import { paths } from '../../src/core/paths.js';
import { parseDigest } from '../../src/core/digest.js';
import { binary, buildTestApp, pushImage, sha256, testConfig, type TestApp } from '../helpers/build-app.js';
import { writeHtpasswd } from '../helpers/auth-app.js';

interface Upstream {
  readonly url: string;
  /** Requests seen, as "METHOD path" (query stripped). */
  readonly seen: string[];
  /** The app on the same storage without auth, to seed content. */
  readonly seed: TestApp;
  down: boolean;
  close(): Promise<void>;
}

async function listen(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** An upstream Berth: `auth` none, 'basic' (htpasswd) or 'token' (htpasswd + token server). */
async function startUpstream(auth: 'none' | 'basic' | 'token'): Promise<Upstream> {
  const seed = buildTestApp();
  let handle = seed.app.handle;
  if (auth !== 'none') {
    const htpasswd = await writeHtpasswd({ mirror: 'secret-pw' });
    const config = testConfig({
      auth: { htpasswd: { realm: 'upstream', path: htpasswd } },
      ...(auth === 'token' ? { berth: { auth: { tokenserver: { enabled: true } } } } : {}),
    });
    const logger = pino({ level: 'silent' });
    const built = await createAuth({ settings: parseAuthSettings(config.authSections), driver: seed.driver, logger, urls: { prefix: '', relative: false } });
    handle = createApp({ config, logger, driver: seed.driver, access: built.access, ...(built.tokenRouter !== undefined ? { tokenRouter: built.tokenRouter } : {}) }).handle;
  }
  const state = { down: false };
  const seen: string[] = [];
  const server = await listen((req, res) => {
    if (state.down) {
      req.socket.destroy();
      return;
    }
    seen.push(`${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`);
    handle(req, res);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    seed,
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function proxyApp(proxy: Record<string, unknown>, now?: () => Date): TestApp {
  const config = testConfig(proxy);
  const driver = checked(createInMemoryDriver());
  const app = createApp({ config, logger: pino({ level: 'silent' }), driver, ...(now !== undefined ? { now } : {}) });
  return { app, driver, config, http: request(app.handle) };
}

const ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json';

async function getBlob(t: TestApp, name: string, digest: string): Promise<Buffer> {
  const res = await t.http.get(`/v2/${name}/blobs/${digest}`).buffer(true).parse(binary).expect(200);
  return res.body as Buffer;
}

function count(seen: readonly string[], fragment: string): number {
  return seen.filter((s) => s.includes(fragment)).length;
}

describe('pull-through cache, open upstream (distribution `proxy`)', () => {
  let up: Upstream;
  let t: TestApp;
  let clock = Date.parse('2026-01-01T00:00:00Z');
  before(async () => {
    up = await startUpstream('none');
    t = proxyApp({ proxy: { remoteurl: up.url, ttl: '10m' } }, () => new Date(clock));
  });
  after(() => up.close());

  it('cold then warm pull: byte-identical, the second from storage', async () => {
    const image = await pushImage(up.seed, 'team/app', '1.0', { layers: 2 });
    const m = await t.http.get('/v2/team/app/manifests/1.0').set('Accept', ACCEPT).buffer(true).parse(binary).expect(200);
    assert.equal(m.headers['docker-content-digest'], image.digest);
    assert.deepEqual(m.body, image.manifest);
    for (const d of [image.configDigest, ...image.layerDigests]) {
      const upstreamBytes = await getBlob(up.seed, 'team/app', d);
      assert.deepEqual(await getBlob(t, 'team/app', d), upstreamBytes);
    }
    const before = up.seen.length;
    const again = await t.http.get('/v2/team/app/manifests/1.0').set('Accept', ACCEPT).buffer(true).parse(binary).expect(200);
    assert.deepEqual(again.body, image.manifest);
    for (const d of image.layerDigests) assert.equal(sha256(await getBlob(t, 'team/app', d)), d);
    await t.http.get(`/v2/team/app/manifests/${image.digest}`).set('Accept', ACCEPT).expect(200);
    assert.equal(up.seen.length, before, `warm pull asked the upstream: ${up.seen.slice(before).join(', ')}`);
    // Stored as ordinary content: blob data and links in storage.
    await t.driver.stat(paths.blobData(parseDigest(image.layerDigests[0] ?? '')));
  });

  it('20 concurrent cold pulls of one blob: one upstream fetch', async () => {
    const image = await pushImage(up.seed, 'team/big', 'v1', { layers: 1 });
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const { pushBlob } = await import('../helpers/build-app.js');
    const digest = await pushBlob(up.seed, 'team/big', big);
    void image;
    const results = await Promise.all(Array.from({ length: 20 }, () => getBlob(t, 'team/big', digest)));
    for (const r of results) assert.equal(sha256(r), digest);
    assert.equal(count(up.seen, `GET /v2/team/big/blobs/${digest}`), 1, up.seen.join('\n'));
    const head = await t.http.head(`/v2/team/big/blobs/${digest}`).expect(200);
    assert.equal(head.headers['content-length'], String(big.length));
  });

  it('HEAD of a cold blob asks the upstream for its size without fetching it', async () => {
    const { pushBlob } = await import('../helpers/build-app.js');
    const digest = await pushBlob(up.seed, 'team/head', Buffer.from('head me'));
    const res = await t.http.head(`/v2/team/head/blobs/${digest}`).expect(200);
    assert.equal(res.headers['content-length'], '7');
    assert.equal(count(up.seen, `GET /v2/team/head/blobs/${digest}`), 0);
    await t.http.head(`/v2/team/head/blobs/sha256:${'0'.repeat(64)}`).expect(404);
    await t.http.get(`/v2/team/head/blobs/sha256:${'0'.repeat(64)}`).expect(404);
    await t.http.get('/v2/team/head/manifests/nope').expect(404);
  });

  it('pushes are refused with UNSUPPORTED; deletes evict only the local copy', async () => {
    const post = await t.http.post('/v2/team/app/blobs/uploads/').expect(405);
    assert.equal(post.body.errors[0].code, 'UNSUPPORTED');
    await t.http.put('/v2/team/app/manifests/x').set('Content-Type', 'application/vnd.oci.image.manifest.v1+json').send('{}').expect(405);
    await t.http.delete('/v2/team/app/manifests/1.0').expect(202);
    // Evicted locally; the upstream still has it, so the next pull fetches it again.
    await t.http.get('/v2/team/app/manifests/1.0').set('Accept', ACCEPT).expect(200);
    await up.seed.http.get('/v2/team/app/manifests/1.0').set('Accept', ACCEPT).expect(200);
  });

  it('upstream down: the cached tag is served, the uncached is 503', async () => {
    await pushImage(up.seed, 'team/down', 'v1');
    await t.http.get('/v2/team/down/manifests/v1').set('Accept', ACCEPT).expect(200);
    clock += 11 * 60_000; // past the TTL: the next pull would revalidate
    up.down = true;
    try {
      await t.http.get('/v2/team/down/manifests/v1').set('Accept', ACCEPT).expect(200);
      const res = await t.http.get('/v2/team/other/manifests/v1').set('Accept', ACCEPT).expect(503);
      assert.equal(res.body.errors[0].code, 'UNAVAILABLE');
    } finally {
      up.down = false;
    }
  });

  it('a tag moved upstream is seen after the TTL, not before', async () => {
    const first = await pushImage(up.seed, 'team/moving', 'latest');
    const got1 = await t.http.get('/v2/team/moving/manifests/latest').set('Accept', ACCEPT).expect(200);
    assert.equal(got1.headers['docker-content-digest'], first.digest);
    const second = await pushImage(up.seed, 'team/moving', 'latest');
    const heads = count(up.seen, 'HEAD /v2/team/moving/manifests/latest');
    const got2 = await t.http.get('/v2/team/moving/manifests/latest').set('Accept', ACCEPT).expect(200);
    assert.equal(got2.headers['docker-content-digest'], first.digest, 'within the TTL the cached digest is served');
    assert.equal(count(up.seen, 'HEAD /v2/team/moving/manifests/latest'), heads);
    clock += 11 * 60_000;
    const got3 = await t.http.get('/v2/team/moving/manifests/latest').set('Accept', ACCEPT).expect(200);
    assert.equal(got3.headers['docker-content-digest'], second.digest);
    assert.equal(count(up.seen, 'HEAD /v2/team/moving/manifests/latest'), heads + 1);
    // Unchanged after another TTL: one HEAD, no GET.
    clock += 11 * 60_000;
    const gets = count(up.seen, 'GET /v2/team/moving/manifests/');
    await t.http.get('/v2/team/moving/manifests/latest').set('Accept', ACCEPT).expect(200);
    assert.equal(count(up.seen, 'GET /v2/team/moving/manifests/'), gets);
  });
});

describe('pull-through cache by prefix next to ordinary repositories (berth.proxy.upstreams)', () => {
  let token: Upstream;
  let basicUp: Upstream;
  let t: TestApp;
  before(async () => {
    token = await startUpstream('token');
    basicUp = await startUpstream('basic');
    t = proxyApp({
      berth: {
        proxy: {
          upstreams: [
            { prefix: 'tok.example', remoteurl: token.url, username: 'mirror', password: 'secret-pw' },
            { prefix: 'basic.example/team', remoteurl: basicUp.url, username: 'mirror', password: 'secret-pw' },
          ],
        },
      },
    });
  });
  after(async () => {
    await token.close();
    await basicUp.close();
  });

  it('the Bearer token dance, tokens cached across requests', async () => {
    const image = await pushImage(token.seed, 'lib/app', '1', { layers: 3 });
    const m = await t.http.get('/v2/tok.example/lib/app/manifests/1').set('Accept', ACCEPT).buffer(true).parse(binary).expect(200);
    assert.deepEqual(m.body, image.manifest);
    for (const d of [image.configDigest, ...image.layerDigests]) assert.equal(sha256(await getBlob(t, 'tok.example/lib/app', d)), d);
    assert.equal(count(token.seen, 'GET /token'), 1, token.seen.join('\n'));
    assert.equal(count(token.seen, 'GET /v2/lib/app/'), 1 + 1 + 4, 'one 401 to learn the challenge, then one request per object');
  });

  it('Basic credentials; the prefix is cut from the name', async () => {
    // basic.example/team/<rest> → <rest> at the upstream.
    const image = await pushImage(basicUp.seed, 'team/x', 'v', { layers: 1 });
    const got = await t.http.get('/v2/basic.example/team/team/x/manifests/v').set('Accept', ACCEPT).buffer(true).parse(binary).expect(200);
    assert.deepEqual(got.body, image.manifest);
    assert.equal(sha256(await getBlob(t, 'basic.example/team/team/x', image.layerDigests[0] ?? '')), image.layerDigests[0]);
    await t.http.get('/v2/basic.example/team/x/manifests/v').expect(404);
    assert.ok(!basicUp.seen.some((s) => s.includes('/token')));
  });

  it('other names stay ordinary push/pull repositories', async () => {
    const image = await pushImage(t, 'local/app', '1');
    await t.http.get(`/v2/local/app/manifests/${image.digest}`).set('Accept', ACCEPT).expect(200);
    await t.http.get('/v2/tok.example2/app/manifests/1').expect(404);
  });

  it('wrong upstream credentials: 404 for uncached content, no secret in the answer', async () => {
    const bad = proxyApp({ berth: { proxy: { upstreams: [{ prefix: 'tok.example', remoteurl: token.url, username: 'mirror', password: 'wrong' }] } } });
    const res = await bad.http.get('/v2/tok.example/lib/app/manifests/1').set('Accept', ACCEPT);
    assert.ok(res.status === 404 || res.status === 503, String(res.status));
    assert.ok(!JSON.stringify(res.body).includes('wrong'));
  });
});

describe('pull-through cache: an upstream sending the wrong bytes', () => {
  let server: Server;
  let t: TestApp;
  const good = Buffer.from('the real content');
  const digest = sha256(good);
  before(async () => {
    server = await listen((req, res) => {
      if (req.url === '/v2/') {
        res.end('{}');
        return;
      }
      const bytes = Buffer.from('other content!!!');
      res.writeHead(200, { 'content-length': bytes.length, 'docker-content-digest': digest });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    });
    t = proxyApp({ proxy: { remoteurl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('the client never gets a complete body and nothing is stored', async () => {
    // The last chunk is withheld until the digest is verified: the connection is cut instead.
    await assert.rejects(
      t.http.get(`/v2/x/y/blobs/${digest}`).buffer(true).parse(binary).then((r) => {
        if (r.status === 200 && createHash('sha256').update(r.body as Buffer).digest('hex') !== digest.slice(7)) throw new Error('complete wrong body');
      }),
      (error: Error) => error.message !== 'complete wrong body',
    );
    await assert.rejects(t.driver.stat(paths.blobData(parseDigest(digest))));
    await t.http.head(`/v2/x/y/blobs/${digest}`).then((r) => assert.notEqual(r.status, 500));
  });

  it('a manifest whose bytes do not match is refused (503), not stored', async () => {
    const res = await t.http.get(`/v2/x/y/manifests/${digest}`);
    assert.equal(res.status, 503);
  });
});

describe('proxy configuration', () => {
  it('validates keys and names them', async () => {
    const { buildConfig, ConfigError } = await import('../../src/config/load.js');
    assert.throws(() => buildConfig({ proxy: { remoteurl: 'ftp://x' } }), ConfigError);
    assert.throws(() => buildConfig({ proxy: { remoteurl: 'https://x', ttl: 'soon' } }), /proxy\.ttl/);
    assert.throws(() => buildConfig({ berth: { proxy: { upstreams: [{ prefix: 'Bad/', remoteurl: 'https://x' }] } } }), /prefix/);
    const ok = buildConfig({ proxy: { remoteurl: 'https://registry-1.docker.io/', username: 'u', password: 'p', ttl: '168h' } }, {});
    assert.equal(ok.config.proxy.upstreams[0]?.remoteUrl, 'https://registry-1.docker.io');
    assert.equal(ok.config.proxy.upstreams[0]?.ttlMs, 168 * 3_600_000);
    assert.ok(!ok.warnings.some((w) => w.startsWith('proxy')), ok.warnings.join('\n'));
    const env = buildConfig({}, { REGISTRY_PROXY_REMOTEURL: 'https://mirror.example' });
    assert.equal(env.config.proxy.upstreams[0]?.remoteUrl, 'https://mirror.example');
  });

  it('routes by longest prefix, with library/ for Docker Hub', async () => {
    const { UpstreamTable } = await import('../../src/proxy/upstreams.js');
    const up = (prefix: string, remoteUrl: string) => ({ upstream: { prefix, remoteUrl, ttlMs: 1 } });
    const table = new UpstreamTable([up('', 'https://a.example'), up('docker.io', 'https://registry-1.docker.io'), up('docker.io/team', 'https://b.example')]);
    assert.equal(table.route('docker.io/alpine')?.remoteName, 'library/alpine');
    assert.equal(table.route('docker.io/bitnami/redis')?.remoteName, 'bitnami/redis');
    assert.equal(table.route('docker.io/team/app')?.upstream.upstream.remoteUrl, 'https://b.example');
    assert.equal(table.route('other/app')?.remoteName, 'other/app');
    assert.equal(new UpstreamTable([up('quay.io', 'https://quay.io')]).route('quay.iox/a'), undefined);
  });

  it('parses challenges', async () => {
    const { parseChallenge } = await import('../../src/proxy/challenge.js');
    assert.deepEqual(
      { ...parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"')?.params },
      { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' },
    );
    assert.equal(parseChallenge('Basic realm="x"')?.scheme, 'basic');
    assert.equal(parseChallenge('Negotiate abc, Bearer realm=r')?.params['realm'], 'r');
    assert.equal(parseChallenge(undefined), undefined);
  });
});
