/**
 * `auth.token` with an external token server (as Harbor, GitLab or docker_auth issue them):
 * tokens signed with the bundle's key and found by its libtrust `kid` open exactly the scopes they
 * carry; every bad token — expired, not yet valid, wrong audience or issuer, signed by a key
 * outside the bundle (with its own `x5c`, and with a trusted key's `kid`), `alg: none`, HS256 with
 * the public key as secret, truncated, a scope for another repository — gets 401 through the v2
 * API, never a 500.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { pino } from 'pino';
import request from 'supertest';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { createAuth } from '../../src/auth/create-auth.js';
import { libtrustKeyId } from '../../src/auth/libtrust.js';
import { parseAuthSettings } from '../../src/auth/settings.js';
import { createApp } from '../../src/server/create-app.js';
import { buildTestApp, pushImage, testConfig } from '../helpers/build-app.js';
import { makeChain, makeJwt } from './jwt-fixtures.js';

const SERVICE = 'registry.example.test';
const ISSUER = 'auth.example.test';
const REALM = 'https://auth.example.test/token';

interface Fixture {
  readonly http: ReturnType<typeof request>;
  readonly key: KeyObject;
  readonly kid: string;
  readonly certDer: Buffer;
}

function selfSigned(dir: string): { key: KeyObject; pem: string } {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'signing.key', '-out', 'bundle.pem', '-subj', '/CN=token signer', '-days', '30'],
    { cwd: dir, stdio: 'pipe' },
  );
  return { key: createPrivateKey(readFileSync(join(dir, 'signing.key'))), pem: readFileSync(join(dir, 'bundle.pem'), 'utf8') };
}

async function setup(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ext-token-'));
  const { key, pem } = selfSigned(dir);
  writeFileSync(join(dir, 'bundle.pem'), pem);
  const config = testConfig({ auth: { token: { realm: REALM, service: SERVICE, issuer: ISSUER, rootcertbundle: join(dir, 'bundle.pem') } } });
  const driver = checked(createInMemoryDriver());
  const logger = pino({ level: 'silent' });
  const auth = await createAuth({ settings: parseAuthSettings(config.authSections), driver, logger, urls: { prefix: '', relative: false } });
  const app = createApp({ config, logger, driver, access: auth.access });
  await pushImage(buildTestApp({ driver }), 'team/app', 'latest');
  const certDer = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return { http: request(app.handle), key, kid: libtrustKeyId(createPublicKey(key)), certDer };
}

const now = (): number => Math.floor(Date.now() / 1000);

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    sub: 'ci-bot',
    aud: SERVICE,
    exp: now() + 300,
    nbf: now() - 5,
    iat: now(),
    jti: String(Math.random()),
    access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }],
    ...overrides,
  };
}

describe('external token server (auth.token)', () => {
  let f: Fixture;
  before(async () => {
    f = await setup();
  });

  const get = (token: string) => f.http.get('/v2/team/app/manifests/latest').set('Authorization', `Bearer ${token}`);

  test('a token from the bundle key, found by libtrust kid, opens its scope only', async () => {
    const token = makeJwt({ alg: 'ES256', typ: 'JWT', kid: f.kid }, claims(), f.key);
    await get(token).expect(200);
    const push = await f.http.post('/v2/team/app/blobs/uploads/').set('Authorization', `Bearer ${token}`).expect(401);
    assert.match(String(push.headers['www-authenticate']), /^Bearer realm="https:\/\/auth\.example\.test\/token",service="registry\.example\.test",scope="repository:team\/app:pull,push",error="insufficient_scope"$/);
    // x5c with the bundle certificate itself works too (distribution 2.8 accepts it).
    await get(makeJwt({ alg: 'ES256', x5c: [f.certDer.toString('base64')] }, claims(), f.key)).expect(200);
    // aud as a list (3.x) is accepted when it contains the service.
    await get(makeJwt({ alg: 'ES256', kid: f.kid }, claims({ aud: ['other', SERVICE] }), f.key)).expect(200);
  });

  test('every bad token is 401 invalid_token or insufficient_scope, none a 500', async () => {
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const chain = makeChain();
    const publicPem = createPublicKey(f.key).export({ type: 'spki', format: 'pem' });
    const good = makeJwt({ alg: 'ES256', kid: f.kid }, claims(), f.key);
    const cases: Record<string, string> = {
      expired: makeJwt({ alg: 'ES256', kid: f.kid }, claims({ exp: now() - 3600 }), f.key),
      'not yet valid': makeJwt({ alg: 'ES256', kid: f.kid }, claims({ nbf: now() + 3600 }), f.key),
      'no exp': makeJwt({ alg: 'ES256', kid: f.kid }, claims({ exp: undefined }), f.key),
      'wrong audience': makeJwt({ alg: 'ES256', kid: f.kid }, claims({ aud: 'other.example' }), f.key),
      'wrong issuer': makeJwt({ alg: 'ES256', kid: f.kid }, claims({ iss: 'evil' }), f.key),
      'key outside the bundle, own x5c': makeJwt(
        { alg: 'ES256', x5c: [chain.leafDer.toString('base64'), chain.intermediateDer.toString('base64')] },
        claims(),
        chain.leafKey,
      ),
      "key outside the bundle, trusted key's kid": makeJwt({ alg: 'ES256', kid: f.kid }, claims(), stranger),
      'alg none': makeJwt({ alg: 'none', kid: f.kid }, claims()),
      'HS256 with the public key as secret': makeJwt({ alg: 'HS256', kid: f.kid }, claims(), Buffer.from(String(publicPem))),
      'ES384 on a P-256 key': makeJwt({ alg: 'ES384', kid: f.kid }, claims(), f.key),
      truncated: good.slice(0, good.length - 10),
      'not a JWT': 'definitely-not-a-token',
      'scope for another repository': makeJwt({ alg: 'ES256', kid: f.kid }, claims({ access: [{ type: 'repository', name: 'team/other', actions: ['pull'] }] }), f.key),
      'access claim malformed': makeJwt({ alg: 'ES256', kid: f.kid }, claims({ access: 'everything' }), f.key),
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await get(token);
      assert.equal(res.status, 401, `${name}: ${res.status} ${res.text}`);
      assert.equal(res.body.errors[0].code, 'UNAUTHORIZED', name);
      assert.match(String(res.headers['www-authenticate']), /error="(invalid_token|insufficient_scope)"/, name);
    }
    const oversized = await get(`${good}${'A'.repeat(12_000)}`);
    assert.equal(oversized.status, 401);
  });

  test('anonymous callers get the challenge with the scope; /v2/ needs a token', async () => {
    const res = await f.http.get('/v2/team/app/manifests/latest').expect(401);
    assert.equal(res.headers['www-authenticate'], `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:team/app:pull"`);
    const ping = await f.http.get('/v2/').expect(401);
    assert.equal(ping.headers['www-authenticate'], `Bearer realm="${REALM}",service="${SERVICE}"`);
    await f.http.get('/v2/').set('Authorization', `Bearer ${makeJwt({ alg: 'ES256', kid: f.kid }, claims({ access: [] }), f.key)}`).expect(200);
  });
});
