/**
 * The web UI under authentication (htpasswd users and `berth.access` rules, supertest against the
 * in-process app): anonymous visitors see only public repositories; sign-in checks the registry's
 * credentials and sets an HttpOnly, SameSite=Strict session cookie; every state-changing request
 * needs the session's CSRF token (and is refused from another site); deletes need the `delete`
 * action and enabled deletes, leave an audit line, and are visible through the v2 API; sign-out;
 * the built-in token server mode signs in alike.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { basic, buildAuthApp, type AuthTestApp } from '../helpers/auth-app.js';
import { listenLoopback, pushUiFixtures, type UiFixtures } from '../helpers/ui-fixtures.js';

const USERS = { alice: 'alice-pw', bob: 'bob-pw' };
const RULES = {
  rules: [
    { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
    { repositories: ['team/**'], users: ['bob'], actions: ['pull'] },
    { repositories: ['**'], users: ['alice'], actions: ['*'] },
  ],
};

function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  assert.ok(m?.[1] !== undefined, 'a CSRF field in the page');
  return m[1];
}

type Agent = ReturnType<typeof request.agent>;

async function signIn(agent: Agent, user: string, password: string): Promise<request.Response> {
  const form = await agent.get('/ui/login').expect(200);
  return agent.post('/ui/login').type('form').send({ csrf: csrfOf(form.text), user, password, next: '/ui/repo/team/app' });
}

async function seeded(doc: Record<string, unknown>): Promise<{ a: AuthTestApp; fx: UiFixtures; close: () => void }> {
  const a = await buildAuthApp(USERS, (htpasswd) => ({ auth: { htpasswd: { realm: 'berth', path: htpasswd } }, ...doc }));
  const { url, server }: { url: string; server: Server } = await listenLoopback(a.seed.app.handle);
  const fx = await pushUiFixtures(url);
  return { a, fx, close: () => server.close() };
}

describe('web UI with htpasswd and access rules', () => {
  let a: AuthTestApp;
  let fx: UiFixtures;
  let close: () => void;
  before(async () => {
    ({ a, fx, close } = await seeded({ berth: { access: RULES } }));
  });
  after(() => close());

  test('anonymous: only public repositories; private pages 401 with a sign-in link', async () => {
    const http = a.t.http;
    const list = await http.get('/ui/').expect(200);
    assert.ok(list.text.includes('public/hello'));
    for (const hidden of ['team/app', 'team/multi', 'legacy/old']) assert.ok(!list.text.includes(hidden), hidden);
    assert.ok(list.text.includes('href="/ui/login?next='), 'sign-in link');
    const json = await http.get('/ui/api/repositories').expect(200);
    assert.deepEqual((json.body as { repositories: { name: string }[] }).repositories.map((r) => r.name), ['public/hello']);
    const tags = await http.get('/ui/api/repositories').query({ q: 'latest' }).expect(200);
    assert.deepEqual((tags.body as { tags: unknown[] }).tags, [], 'tag search shows no private tag');
    const page = await http.get('/ui/repo/team/app').expect(401);
    assert.ok(page.text.includes('Sign in'));
    await http.get('/ui/image/team/app:latest').expect(401);
    await http.get('/ui/api/repositories/team/app').expect(401);
    await http.get('/ui/repo/public/hello').expect(200);
    await http.get('/ui/image/public/hello:1').expect(200);
    // Anonymous may not delete even public content, and gets no delete link.
    const pub = await http.get('/ui/repo/public/hello').expect(200);
    assert.ok(!pub.text.includes('/ui/delete'));
    await http.get('/ui/delete').query({ repo: 'public/hello', tag: '1' }).expect(401);
  });

  test('sign-in: CSRF token required, wrong password 401, cookie HttpOnly and SameSite=Strict, next honoured', async () => {
    const agent = request.agent(a.t.app.handle);
    const form = await agent.get('/ui/login').expect(200);
    const first = String(form.headers['set-cookie']);
    assert.match(first, /^berth_ui=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    await agent.post('/ui/login').type('form').send({ user: 'alice', password: USERS.alice }).expect(403);
    await agent.post('/ui/login').type('form').send({ csrf: 'forged', user: 'alice', password: USERS.alice }).expect(403);
    const csrf = csrfOf(form.text);
    await agent.post('/ui/login').set('Origin', 'http://evil.example').type('form').send({ csrf, user: 'alice', password: USERS.alice }).expect(403);
    await agent.post('/ui/login').set('Sec-Fetch-Site', 'cross-site').type('form').send({ csrf, user: 'alice', password: USERS.alice }).expect(403);
    const wrong = await agent.post('/ui/login').type('form').send({ csrf, user: 'alice', password: 'nope' }).expect(401);
    assert.ok(wrong.text.includes('Wrong user name or password'));
    const ok = await agent.post('/ui/login').type('form').send({ csrf, user: 'alice', password: USERS.alice, next: '//evil.example/x' }).expect(303);
    assert.equal(ok.headers['location'], '/ui/', 'no open redirect');
    const cookie = String(ok.headers['set-cookie']);
    assert.match(cookie, /HttpOnly; SameSite=Strict/);
    assert.notEqual(cookie.split(';')[0], first.split(';')[0], 'a new session at sign-in');
    const session = await agent.get('/ui/api/session').expect(200);
    assert.equal((session.body as { user: string }).user, 'alice');
    assert.notEqual((session.body as { csrf: string }).csrf, csrf, 'the pre-sign-in token is dead');
    assert.ok(!JSON.stringify(a.logLines).includes(USERS.alice), 'no password in the log');
    const next = await signIn(request.agent(a.t.app.handle), 'bob', USERS.bob);
    assert.equal(next.status, 303);
    assert.equal(next.headers['location'], '/ui/repo/team/app');
  });

  test('a forged or tampered cookie is an anonymous visitor', async () => {
    const agent = request.agent(a.t.app.handle);
    const res = await signIn(agent, 'alice', USERS.alice);
    const value = String(res.headers['set-cookie']).split(';')[0]?.split('=')[1] ?? '';
    const [payload = '', mac = ''] = value.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), s: 'root' })).toString('base64url');
    const me = await request(a.t.app.handle).get('/ui/api/session').set('Cookie', `berth_ui=${forged}.${mac}`).expect(200);
    assert.equal((me.body as { user: string }).user, '');
  });

  test('a user without the delete action: no delete links, confirmation and POST refused with 403', async () => {
    const agent = request.agent(a.t.app.handle);
    await signIn(agent, 'bob', USERS.bob);
    const list = await agent.get('/ui/').expect(200);
    assert.ok(list.text.includes('team/app') && list.text.includes('public/hello') && !list.text.includes('legacy/old'));
    const page = await agent.get('/ui/repo/team/app').expect(200);
    assert.ok(!page.text.includes('/ui/delete'));
    await agent.get('/ui/delete').query({ repo: 'team/app', tag: 'old' }).expect(403);
    const csrf = csrfOf(page.text);
    await agent.post('/ui/delete').type('form').send({ csrf, repo: 'team/app', tag: 'old' }).expect(403);
    await agent.get('/ui/repo/legacy/old').expect(403);
    await a.t.http.get('/v2/team/app/manifests/old').set('Authorization', basic('alice', USERS.alice)).expect(200);
  });

  test('alice deletes a tag and a manifest: CSRF needed, audit line, gone through the API', async () => {
    const agent = request.agent(a.t.app.handle);
    await signIn(agent, 'alice', USERS.alice);
    const page = await agent.get('/ui/repo/team/app').expect(200);
    assert.ok(page.text.includes('/ui/delete?repo=team%2Fapp&amp;tag=old'));
    const confirm = await agent.get('/ui/delete').query({ repo: 'team/app', tag: 'old' }).expect(200);
    assert.ok(confirm.text.includes('Delete tag?'));
    const csrf = csrfOf(confirm.text);
    await agent.post('/ui/delete').type('form').send({ repo: 'team/app', tag: 'old' }).expect(403);
    await agent.post('/ui/delete').set('Origin', 'http://evil.example').type('form').send({ csrf, repo: 'team/app', tag: 'old' }).expect(403);
    const done = await agent.post('/ui/delete').type('form').send({ csrf, repo: 'team/app', tag: 'old' }).expect(303);
    assert.equal(done.headers['location'], '/ui/repo/team/app?deleted=team%2Fapp%3Aold');
    const after = await agent.get(String(done.headers['location'])).expect(200);
    assert.ok(after.text.includes('Deleted team/app:old.'));
    const auth = basic('alice', USERS.alice);
    await a.t.http.get('/v2/team/app/manifests/old').set('Authorization', auth).expect(404);
    await a.t.http.get('/v2/team/app/manifests/latest').set('Authorization', auth).expect(200);
    const audit = a.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['audit'] === true && l['api'] === 'ui');
    assert.equal(audit?.['principal'], 'alice');
    assert.equal(audit?.['action'], 'untag');
    assert.equal(audit?.['reference'], 'old');
    await agent.post('/ui/delete').type('form').send({ csrf, repo: 'team/app', tag: 'old' }).expect(404);
    // A manifest by digest: every tag pointing at it goes too.
    const digest = fx.multi.built.index.digest;
    await agent.get('/ui/delete').query({ repo: 'team/multi', digest }).expect(200);
    await agent.post('/ui/delete').type('form').send({ csrf, repo: 'team/multi', digest }).expect(303);
    await a.t.http.get(`/v2/team/multi/manifests/${digest}`).set('Authorization', auth).expect(404);
    await a.t.http.get('/v2/team/multi/manifests/1.0').set('Authorization', auth).expect(404);
    await agent.post('/ui/delete').type('form').send({ csrf, repo: 'team/multi', digest: 'sha256:zz' }).expect(400);
  });

  test('sign-out needs the CSRF token and ends the session', async () => {
    const agent = request.agent(a.t.app.handle);
    await signIn(agent, 'alice', USERS.alice);
    const page = await agent.get('/ui/').expect(200);
    assert.ok(page.text.includes('Signed in as <strong>alice</strong>'));
    await agent.post('/ui/logout').type('form').send({}).expect(403);
    await agent.post('/ui/logout').type('form').send({ csrf: csrfOf(page.text) }).expect(303);
    const me = await agent.get('/ui/api/session').expect(200);
    assert.equal((me.body as { user: string }).user, '');
    await agent.get('/ui/repo/team/app').expect(401);
  });
});

describe('web UI: deletes disabled, token-server mode', () => {
  test('storage.delete.enabled false: no delete links even for alice, POST 405', async () => {
    const { a, close } = await seeded({ storage: { inmemory: {}, delete: { enabled: false } }, berth: { access: RULES } });
    try {
      const agent = request.agent(a.t.app.handle);
      await signIn(agent, 'alice', USERS.alice);
      const page = await agent.get('/ui/repo/team/app').expect(200);
      assert.ok(!page.text.includes('/ui/delete'));
      await agent.post('/ui/delete').type('form').send({ csrf: csrfOf(page.text), repo: 'team/app', tag: 'old' }).expect(405);
    } finally {
      close();
    }
  });

  test('built-in token server: the same credentials sign in to the UI', async () => {
    const { a, close } = await seeded({ berth: { auth: { tokenserver: { enabled: true } } } });
    try {
      const agent = request.agent(a.t.app.handle);
      await agent.get('/ui/repo/team/app').expect(401);
      const res = await signIn(agent, 'bob', USERS.bob);
      assert.equal(res.status, 303);
      await agent.get('/ui/repo/team/app').expect(200);
    } finally {
      close();
    }
  });
});
