/**
 * Every user × repository × action combination of a test policy, through the v2 API, in Basic
 * (htpasswd) mode and with Berth's token server: allowed requests work; forbidden ones get 401
 * with the right challenge (anonymous callers, and tokens lacking the scope with
 * `error="insufficient_scope"`) or 403 DENIED (a signed-in user the rules refuse). Also the
 * `/v2/` ping, catalog filtering, cross-repository mounts without pull on the source, malformed
 * Authorization headers, failed-login throttling, and v1 credentials and session tokens.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { basic, buildAuthApp, type AuthTestApp } from '../helpers/auth-app.js';
import { pushImage, pushBlob, type PushedImage } from '../helpers/build-app.js';
import { DOCKER_UA } from '../protocol/v1-fixtures.js';

const USERS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw', 'jörg': 'jörg-pw' };
const REPOS = ['public/app', 'ci/app', 'private/app'] as const;
const ACTIONS = ['pull', 'push', 'delete'] as const;
type Who = 'anonymous' | 'alice' | 'bob' | 'carol';
const WHO: readonly Who[] = ['anonymous', 'alice', 'bob', 'carol'];

const ACCESS = {
  groups: { ci: ['bob'] },
  rules: [
    { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
    { repositories: ['ci/**'], groups: ['ci'], actions: ['pull', 'push'] },
    { repositories: ['**'], users: ['alice'], actions: ['*'] },
    { repositories: ['users/{user}/**'], users: ['jörg'], actions: ['pull', 'push'] },
  ],
};

function allowed(who: Who, repo: string, action: string): boolean {
  if (who === 'alice') return true;
  if (repo === 'public/app' && action === 'pull') return true;
  return who === 'bob' && repo === 'ci/app' && (action === 'pull' || action === 'push');
}

const MISSING = `sha256:${'0'.repeat(64)}`;

async function seed(a: AuthTestApp): Promise<Map<string, PushedImage>> {
  const images = new Map<string, PushedImage>();
  for (const repo of REPOS) images.set(repo, await pushImage(a.seed, repo, 'latest'));
  return images;
}

/** Sends the request that needs `action` on `repo`, with `auth` (or none). */
function send(a: AuthTestApp, repo: string, action: string, auth: string | undefined) {
  const r =
    action === 'pull'
      ? a.t.http.get(`/v2/${repo}/manifests/latest`).set('Accept', 'application/vnd.docker.distribution.manifest.v2+json')
      : action === 'push'
        ? a.t.http.post(`/v2/${repo}/blobs/uploads/`)
        : a.t.http.delete(`/v2/${repo}/blobs/${MISSING}`);
  return auth === undefined ? r : r.set('Authorization', auth);
}

const SUCCESS: Record<string, number> = { pull: 200, push: 202, delete: 404 };

describe('Basic (htpasswd) mode', () => {
  const doc = (path: string) => ({ auth: { htpasswd: { realm: 'berth-test', path } }, berth: { access: ACCESS } });

  test('every user × repository × action', async () => {
    const a = await buildAuthApp(USERS, doc);
    await seed(a);
    for (const who of WHO) {
      for (const repo of REPOS) {
        for (const action of ACTIONS) {
          const auth = who === 'anonymous' ? undefined : basic(who, USERS[who]);
          const res = await send(a, repo, action, auth);
          const label = `${who} ${action} ${repo}: ${res.status} ${res.text.slice(0, 120)}`;
          if (allowed(who, repo, action)) {
            assert.equal(res.status, SUCCESS[action], label);
            if (action === 'delete') assert.equal(res.body.errors[0].code, 'BLOB_UNKNOWN', label);
          } else if (who === 'anonymous') {
            assert.equal(res.status, 401, label);
            assert.equal(res.headers['www-authenticate'], 'Basic realm="berth-test"', label);
            assert.equal(res.body.errors[0].code, 'UNAUTHORIZED', label);
          } else {
            assert.equal(res.status, 403, label);
            assert.equal(res.body.errors[0].code, 'DENIED', label);
          }
        }
      }
    }
  });

  test('GET /v2/ needs valid credentials (docker login checks them there), one challenge only', async () => {
    const a = await buildAuthApp(USERS, doc);
    const anon = await a.t.http.get('/v2/').expect(401);
    assert.equal(anon.headers['www-authenticate'], 'Basic realm="berth-test"');
    assert.equal(anon.headers['docker-distribution-api-version'], 'registry/2.0');
    await a.t.http.get('/v2/').set('Authorization', basic('alice', 'alice-pw')).expect(200);
    await a.t.http.get('/v2/').set('Authorization', basic('alice', 'wrong')).expect(401);
    await a.t.http.get('/v2/').set('Authorization', basic('nobody', 'alice-pw')).expect(401);
    await a.t.http.get('/v2/').set('Authorization', 'Bearer abc.def.ghi').expect(401);
  });

  test('unicode user names and personal namespaces ({user})', async () => {
    const a = await buildAuthApp(USERS, doc);
    const auth = basic('jörg', 'jörg-pw');
    await a.t.http.get('/v2/').set('Authorization', auth).expect(200);
    await a.t.http.post('/v2/users/carol/tools/blobs/uploads/').set('Authorization', auth).expect(403);
  });

  test('malformed Authorization headers are 401, never a 500', async () => {
    const a = await buildAuthApp(USERS, doc);
    const bad = [
      'Basic',
      'Basic !!!not-base64!!!',
      `Basic ${Buffer.from('no-colon').toString('base64')}`,
      `Basic ${Buffer.from(':empty-user').toString('base64')}`,
      `Basic ${Buffer.from('a\u0000b:pw').toString('base64')}`,
      'Digest username="alice"',
      `Basic ${'A'.repeat(9000)}`,
    ];
    for (const value of bad) {
      const res = await a.t.http.get('/v2/public/app/tags/list').set('Authorization', value);
      assert.equal(res.status, 401, `${value.slice(0, 40)}: ${res.status}`);
      assert.equal(res.body.errors[0].code, 'UNAUTHORIZED');
    }
  });

  test('the catalog lists only what the caller may pull', async () => {
    const a = await buildAuthApp(USERS, doc);
    await seed(a);
    const list = async (auth?: string): Promise<string[]> => {
      const r = a.t.http.get('/v2/_catalog');
      const res = await (auth === undefined ? r : r.set('Authorization', auth)).expect(200);
      return (res.body as { repositories: string[] }).repositories;
    };
    assert.deepEqual(await list(), ['public/app']);
    assert.deepEqual(await list(basic('bob', 'bob-pw')), ['ci/app', 'public/app']);
    assert.deepEqual(await list(basic('alice', 'alice-pw')), ['ci/app', 'private/app', 'public/app']);
  });

  test('a mount from a repository the caller cannot pull becomes a plain upload session', async () => {
    const a = await buildAuthApp(USERS, doc);
    const images = await seed(a);
    const layer = images.get('private/app')?.layerDigests[0] ?? '';
    const res = await a.t.http
      .post(`/v2/ci/app/blobs/uploads/?mount=${layer}&from=private/app`)
      .set('Authorization', basic('bob', 'bob-pw'))
      .expect(202);
    assert.match(String(res.headers['location']), /\/v2\/ci\/app\/blobs\/uploads\//);
    const mounted = await a.t.http
      .post(`/v2/ci/app/blobs/uploads/?mount=${images.get('public/app')?.layerDigests[0] ?? ''}&from=public/app`)
      .set('Authorization', basic('bob', 'bob-pw'));
    assert.equal(mounted.status, 201);
  });

  test('wrong passwords are throttled per user and address (429 with Retry-After)', async () => {
    const a = await buildAuthApp(USERS, (path) => ({ ...doc(path), berth: { access: ACCESS, ratelimit: { failedlogins: { rate: 0.01, burst: 2 } } } }));
    await a.t.http.get('/v2/').set('Authorization', basic('carol', 'x')).expect(401);
    await a.t.http.get('/v2/').set('Authorization', basic('carol', 'y')).expect(401);
    const limited = await a.t.http.get('/v2/').set('Authorization', basic('carol', 'z')).expect(429);
    assert.equal(limited.body.errors[0].code, 'TOOMANYREQUESTS');
    assert.ok(Number(limited.headers['retry-after']) > 0);
  });

  test('reads over budget get 429', async () => {
    const a = await buildAuthApp(USERS, (path) => ({ ...doc(path), berth: { access: ACCESS, ratelimit: { reads: { rate: 0.01, burst: 3 } } } }));
    await seed(a);
    const auth = basic('alice', 'alice-pw');
    for (let i = 0; i < 3; i++) await a.t.http.get('/v2/public/app/tags/list').set('Authorization', auth).expect(200);
    const res = await a.t.http.get('/v2/public/app/tags/list').set('Authorization', auth).expect(429);
    assert.ok(Number(res.headers['retry-after']) >= 1);
  });

  test('v1: /v1/users/ checks credentials; the index hands out a session token the registry accepts', async () => {
    const a = await buildAuthApp(USERS, doc);
    await a.t.http.get('/v1/users/').set('Authorization', basic('bob', 'bob-pw')).expect(200);
    await a.t.http.get('/v1/users/').set('Authorization', basic('bob', 'nope')).expect(401);
    const post = await a.t.http.post('/v1/users/').set('Content-Type', 'application/json').send({ username: 'bob', password: 'bob-pw', email: 'b@x' });
    assert.notEqual(post.status, 201);
    const start = await a.t.http
      .put('/v1/repositories/ci/app/')
      .set('User-Agent', DOCKER_UA)
      .set('Authorization', basic('bob', 'bob-pw'))
      .set('X-Docker-Token', 'true')
      .set('Content-Type', 'application/json')
      .send('[]')
      .expect(200);
    const token = String(start.headers['x-docker-token']);
    assert.match(token, /^signature=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+,repository="ci\/app",access=write$/);
    await a.t.http.get('/v1/repositories/ci/app/tags').set('User-Agent', DOCKER_UA).set('Authorization', `Token ${token}`).expect(404);
    // docker 1.x sometimes doubles the word.
    await a.t.http.get('/v1/repositories/ci/app/tags').set('Authorization', `Token Token ${token}`).expect(404);
    const forged = token.replace(/signature=[^.]+/, `signature=${Buffer.from('{"s":"alice","r":"x","a":"write","e":9999999999}').toString('base64url')}`);
    await a.t.http.get('/v1/repositories/ci/app/tags').set('Authorization', `Token ${forged}`).expect(401);
    // bob's token does not give him alice's rights
    await a.t.http.get('/v1/repositories/private/app/tags').set('Authorization', `Token ${token}`).expect(403);
    await a.t.http.get('/v1/repositories/private/app/tags').expect(401);
  });
});

describe("Berth's token server", () => {
  const doc = (path: string) => ({
    auth: { htpasswd: { realm: 'berth-test', path } },
    berth: { auth: { tokenserver: { enabled: true, service: 'registry.test', issuer: 'berth-test' } }, access: ACCESS },
  });

  async function token(a: AuthTestApp, who: Who, scope: string): Promise<string> {
    const r = a.t.http.get('/token').query({ service: 'registry.test', scope });
    const res = await (who === 'anonymous' ? r : r.set('Authorization', basic(who, USERS[who]))).expect(200);
    const body = res.body as { token: string; access_token: string; expires_in: number; issued_at: string };
    assert.equal(body.token, body.access_token);
    assert.ok(body.expires_in >= 3600);
    assert.match(body.issued_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    return body.token;
  }

  test('the challenge is Bearer with realm, service and scope', async () => {
    const a = await buildAuthApp(USERS, doc);
    const ping = await a.t.http.get('/v2/').expect(401);
    assert.match(String(ping.headers['www-authenticate']), /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="registry\.test"$/);
    const res = await a.t.http.get('/v2/private/app/manifests/latest').expect(401);
    assert.match(String(res.headers['www-authenticate']), /^Bearer realm="[^"]+",service="registry\.test",scope="repository:private\/app:pull"$/);
  });

  test('every user × repository × action with tokens for exactly that scope', async () => {
    const a = await buildAuthApp(USERS, doc);
    await seed(a);
    for (const who of WHO) {
      for (const repo of REPOS) {
        for (const action of ACTIONS) {
          const scope = `repository:${repo}:${action === 'push' ? 'pull,push' : action}`;
          const bearer = `Bearer ${await token(a, who, scope)}`;
          const res = await send(a, repo, action, bearer);
          const label = `${who} ${action} ${repo}: ${res.status}`;
          if (allowed(who, repo, action)) {
            assert.equal(res.status, SUCCESS[action], label);
          } else {
            assert.equal(res.status, 401, label);
            assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope"/, label);
          }
        }
      }
    }
  });

  test('a token for one repository does not open another; bad tokens are invalid_token', async () => {
    const a = await buildAuthApp(USERS, doc);
    await seed(a);
    const t = await token(a, 'alice', 'repository:public/app:pull');
    await a.t.http.get('/v2/public/app/tags/list').set('Authorization', `Bearer ${t}`).expect(200);
    const other = await a.t.http.get('/v2/private/app/tags/list').set('Authorization', `Bearer ${t}`).expect(401);
    assert.match(String(other.headers['www-authenticate']), /error="insufficient_scope"/);
    for (const bad of [`${t.slice(0, -4)}AAAA`, t.slice(0, 30), 'a.b.c', `${t}x`.repeat(400)]) {
      const res = await a.t.http.get('/v2/public/app/tags/list').set('Authorization', `Bearer ${bad}`);
      // An oversized header is refused by node's HTTP parser itself (431) before Berth sees it.
      assert.ok(res.status === 401 || (res.status === 431 && bad.length > 16_000), `${bad.length}: ${res.status}`);
    }
  });

  test('wrong credentials at the token endpoint are 401; Basic still works on the registry', async () => {
    const a = await buildAuthApp(USERS, doc);
    await seed(a);
    await a.t.http.get('/token').query({ service: 'registry.test', scope: 'repository:ci/app:pull' }).set('Authorization', basic('bob', 'bad')).expect(401);
    await a.t.http.get('/v2/ci/app/tags/list').set('Authorization', basic('bob', 'bob-pw')).expect(200);
  });

  test('refresh tokens (docker identity tokens) work through POST', async () => {
    const a = await buildAuthApp(USERS, doc);
    await seed(a);
    const login = await a.t.http
      .get('/token')
      .query({ service: 'registry.test', account: 'bob', client_id: 'docker', offline_token: 'true' })
      .set('Authorization', basic('bob', 'bob-pw'))
      .expect(200);
    const refresh = String((login.body as { refresh_token?: string }).refresh_token);
    const res = await a.t.http
      .post('/token')
      .type('form')
      .send({ grant_type: 'refresh_token', client_id: 'docker', service: 'registry.test', refresh_token: refresh, scope: 'repository:ci/app:pull,push' })
      .expect(200);
    const access = (res.body as { access_token: string }).access_token;
    await a.t.http.post('/v2/ci/app/blobs/uploads/').set('Authorization', `Bearer ${access}`).expect(202);
  });

  test('pushes, tag changes and deletes leave one audit line each, without credentials', async () => {
    const a = await buildAuthApp(USERS, (path) => ({ ...doc(path), storage: { inmemory: {}, delete: { enabled: true } } }));
    const t = await token(a, 'alice', 'repository:ci/app:pull,push,delete');
    const bearer = `Bearer ${t}`;
    const layer = Buffer.from('audit layer');
    const start = await a.t.http.post('/v2/ci/app/blobs/uploads/').set('Authorization', bearer).expect(202);
    assert.ok(start.headers['location']);
    const digest = await pushBlob(a.seed, 'ci/app', layer);
    await a.t.http.delete(`/v2/ci/app/blobs/${digest}`).set('Authorization', bearer).expect(202);
    const audits = a.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['audit'] === true);
    assert.equal(audits.length, 1);
    assert.equal(audits[0]?.['principal'], 'alice');
    assert.equal(audits[0]?.['repository'], 'ci/app');
    assert.equal(audits[0]?.['action'], 'delete');
    const all = a.logLines.join('\n');
    assert.ok(!all.includes(t), 'token in the log');
    assert.ok(!all.includes('alice-pw'), 'password in the log');
  });
});
