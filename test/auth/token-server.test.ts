/**
 * The token server through HTTP (supertest on an express app): anonymous and Basic GETs, docker's
 * login with offline_token, bad and malformed credentials, the rate-limit hook, OAuth2 POSTs with
 * the password and refresh_token grants (scopes repeated as skopeo sends them and space-joined as
 * docker does), and malformed requests.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import express from 'express';
import request from 'supertest';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import type { Access, Principal } from '../../src/auth/access.js';
import { loadOrCreateStoredSigningKey } from '../../src/auth/signing-key.js';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { createTokenRouter, type TokenServerDeps } from '../../src/auth/token-server.js';
import { TokenVerifier } from '../../src/auth/token-verifier.js';
import { RegistryError } from '../../src/errors/registry-error.js';

const SERVICE = 'registry.test';
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** alice may do anything under team/; everyone may pull public/. */
async function grant(principal: Principal, requested: readonly Access[]): Promise<readonly Access[]> {
  return requested.flatMap((a) => {
    if (a.type === 'repository' && a.name.startsWith('public/')) return [{ ...a, actions: a.actions.filter((x) => x === 'pull') }];
    if (principal.subject === 'alice' && a.type === 'repository' && a.name.startsWith('team/')) return [a];
    return [];
  });
}

let issuer: TokenIssuer;
let verifier: TokenVerifier;

before(async () => {
  issuer = new TokenIssuer({ key: await loadOrCreateStoredSigningKey(checked(createInMemoryDriver()), { settleMs: 0 }), issuer: 'berth' });
  verifier = new TokenVerifier({ issuer: 'berth', service: SERVICE, trustedKeys: [issuer.publicKey] });
});

interface Harness {
  readonly http: ReturnType<typeof request>;
  readonly failed: string[];
}

function server(extra: Partial<TokenServerDeps> = {}): Harness {
  const failed: string[] = [];
  const app = express();
  app.use(
    createTokenRouter({
      service: SERVICE,
      issuer,
      realm: 'Berth',
      authenticate: (user, password) => Promise.resolve(user === 'alice' && password === 'pw' ? { subject: 'alice' } : undefined),
      grant,
      onFailedLogin: (user: string) => {
        failed.push(user);
      },
      ...extra,
    }),
  );
  return { http: request(app), failed };
}

async function accessOf(token: string): Promise<{ subject: string; access: readonly Access[] }> {
  const v = await verifier.verify(token);
  return { subject: v.subject, access: v.access };
}

describe('token server: GET', () => {
  test('anonymous: what grant(anonymous) returns, repeated scope params', async () => {
    const res = await server().http.get('/token').query(`service=${SERVICE}&scope=repository:public/x:pull,push&scope=repository:team/app:pull`).expect(200);
    assert.equal(res.body.token, res.body.access_token);
    assert.equal(res.body.expires_in, 3600);
    assert.match(res.body.issued_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(res.body.refresh_token, undefined);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(await accessOf(res.body.token), { subject: '', access: [{ type: 'repository', name: 'public/x', actions: ['pull'] }] });
  });

  test('anonymous login-style request without scope: a token with no access', async () => {
    const res = await server().http.get('/token?service=registry.test').expect(200);
    assert.deepEqual(await accessOf(res.body.token), { subject: '', access: [] });
  });

  test('Basic: docker login with offline_token gets a refresh token; account is ignored', async () => {
    const res = await server()
      .http.get('/token?account=someone-else&client_id=docker&offline_token=true&service=registry.test')
      .set('Authorization', basic('alice', 'pw'))
      .expect(200);
    assert.equal(typeof res.body.refresh_token, 'string');
    assert.deepEqual(await issuer.verifyRefreshToken(res.body.refresh_token, SERVICE), { subject: 'alice' });
    const pull = await server().http.get('/token?scope=repository:team/app:push,pull&scope=repository:other/x:pull').set('Authorization', basic('alice', 'pw')).expect(200);
    assert.deepEqual(await accessOf(pull.body.token), { subject: 'alice', access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }] });
  });

  test('bad, malformed and non-Basic credentials: 401 with a Basic challenge and JSON details', async () => {
    const h = server();
    const bad = await h.http.get('/token?service=registry.test').set('Authorization', basic('alice', 'wrong')).expect(401);
    assert.equal(bad.headers['www-authenticate'], 'Basic realm="Berth"');
    assert.equal(typeof bad.body.details, 'string');
    assert.equal(bad.body.token, undefined);
    assert.deepEqual(h.failed, ['alice']);
    await h.http.get('/token').set('Authorization', 'Basic !!!').expect(401);
    await h.http.get('/token').set('Authorization', `Basic ${Buffer.from('nocolon').toString('base64')}`).expect(401);
    await h.http.get('/token').set('Authorization', `Basic ${'A'.repeat(9000)}`).expect(401);
    await h.http.get('/token').set('Authorization', 'Bearer abc.def.ghi').expect(401);
  });

  test('another service is refused; other methods get 405', async () => {
    const h = server();
    const res = await h.http.get('/token?service=elsewhere').expect(400);
    assert.equal(typeof res.body.details, 'string');
    await h.http.put('/token').expect(405);
  });

  test('the checkLogin hook can refuse with its own status and headers', async () => {
    const h = server({
      checkLogin: (user: string, req: IncomingMessage) => {
        assert.equal(typeof req.headers, 'object');
        if (user === 'alice') throw new RegistryError('TOOMANYREQUESTS', { headers: { 'Retry-After': '30' } });
      },
    });
    const res = await h.http.get('/token').set('Authorization', basic('alice', 'pw')).expect(429);
    assert.equal(res.headers['retry-after'], '30');
    assert.equal(typeof res.body.details, 'string');
  });

  test('an authenticate failure that is not a refusal is a 500 without internals', async () => {
    const logged: unknown[] = [];
    const h = server({ authenticate: () => Promise.reject(new Error('secret internals')), logger: { error: (o) => logged.push(o) } });
    const res = await h.http.get('/token').set('Authorization', basic('alice', 'pw')).expect(500);
    assert.ok(!JSON.stringify(res.body).includes('secret internals'));
    assert.equal(logged.length, 1);
  });
});

describe('token server: POST', () => {
  test('password grant with access_type=offline, scopes repeated (skopeo) ', async () => {
    const res = await server()
      .http.post('/token')
      .type('form')
      .send('grant_type=password&client_id=containers%2Fimage&service=registry.test&username=alice&password=pw&access_type=offline&scope=repository%3Ateam%2Fa%3Apull&scope=repository%3Ateam%2Fb%3Apull%2Cpush')
      .expect(200);
    assert.equal(res.body.token, res.body.access_token);
    assert.equal(typeof res.body.refresh_token, 'string');
    assert.equal(res.body.scope, 'repository:team/a:pull repository:team/b:pull,push');
    assert.equal((await accessOf(res.body.token)).access.length, 2);
  });

  test('refresh_token grant, scopes space-joined (docker); no refresh token unless asked', async () => {
    const refresh = await issuer.issueRefreshToken('alice', SERVICE);
    const res = await server()
      .http.post('/token')
      .type('form')
      .send({ grant_type: 'refresh_token', client_id: 'docker', service: SERVICE, refresh_token: refresh, scope: 'repository:team/a:pull,push repository:public/p:pull' })
      .expect(200);
    assert.equal(res.body.refresh_token, undefined);
    assert.deepEqual(await accessOf(res.body.access_token), {
      subject: 'alice',
      access: [
        { type: 'repository', name: 'team/a', actions: ['pull', 'push'] },
        { type: 'repository', name: 'public/p', actions: ['pull'] },
      ],
    });
  });

  test('bad password, bad or revoked refresh tokens: 401', async () => {
    const h = server({ resolveSubject: (subject) => Promise.resolve(subject === 'alice' ? { subject } : undefined) });
    await h.http.post('/token').type('form').send({ grant_type: 'password', client_id: 'x', username: 'alice', password: 'nope' }).expect(401);
    await h.http.post('/token').type('form').send({ grant_type: 'refresh_token', client_id: 'docker', refresh_token: 'a.b.c' }).expect(401);
    const access = await issuer.issue({ subject: 'alice', audience: SERVICE, access: [], expiresInSeconds: 60 });
    await h.http.post('/token').type('form').send({ grant_type: 'refresh_token', client_id: 'docker', refresh_token: access.token }).expect(401);
    const removed = await issuer.issueRefreshToken('bob', SERVICE);
    const res = await h.http.post('/token').type('form').send({ grant_type: 'refresh_token', client_id: 'docker', refresh_token: removed }).expect(401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="Berth"');
  });

  test('malformed requests: 400 / 413, never 500', async () => {
    const h = server({ maxBodyBytes: 1024 });
    const post = (): request.Test => h.http.post('/token').type('form');
    await post().send({ grant_type: 'password', username: 'alice', password: 'pw' }).expect(400); // no client_id
    await post().send({ grant_type: 'client_credentials', client_id: 'x' }).expect(400);
    await post().send({ client_id: 'x' }).expect(400);
    await post().send({ grant_type: 'password', client_id: 'x', password: 'pw' }).expect(400);
    await post().send({ grant_type: 'refresh_token', client_id: 'x' }).expect(400);
    await post().send({ grant_type: 'password', client_id: 'x', service: 'other', username: 'alice', password: 'pw' }).expect(400);
    await h.http.post('/token').set('Content-Type', 'application/json').send('{"grant_type":"password"}').expect(400);
    const big = await post().send(`grant_type=password&client_id=x&pad=${'x'.repeat(4096)}`).expect(413);
    assert.equal(typeof big.body.details, 'string');
    await post().send('%%%&&&===').expect(400);
  });

  test('a chunked body over the limit gets 413 on a live connection', async () => {
    const app = express();
    app.use(createTokenRouter({ service: SERVICE, issuer, authenticate: () => Promise.resolve(undefined), grant, maxBodyBytes: 1024 }));
    const listener = createServer(app);
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = listener.address() as AddressInfo;
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/token', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Transfer-Encoding': 'chunked' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        for (let i = 0; i < 8; i++) req.write(`pad${i}=${'x'.repeat(500)}&`);
        req.end();
      });
      assert.equal(status, 413);
    } finally {
      listener.closeAllConnections();
      await new Promise((resolve) => listener.close(resolve));
    }
  });
});
