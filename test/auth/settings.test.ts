/**
 * The authentication settings: which mode each combination of `auth` and `berth.auth` selects,
 * and that every invalid combination or value stops with a message naming its key — through
 * `berth verify-config` too.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuthConfigError, parseAuthSettings } from '../../src/auth/settings.js';
import { verifyConfig } from '../../src/cli/verify-config.js';
import { testConfig } from '../helpers/build-app.js';

function problems(sections: Parameters<typeof parseAuthSettings>[0]): string[] {
  try {
    parseAuthSettings(sections);
  } catch (error) {
    if (error instanceof AuthConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

test('modes', () => {
  assert.equal(parseAuthSettings({}).mode, 'none');
  const htpasswd = { htpasswd: { realm: 'r', path: '/x' } };
  assert.equal(parseAuthSettings({ auth: htpasswd }).mode, 'basic');
  const builtin = parseAuthSettings({ auth: htpasswd, berthAuth: { tokenserver: { enabled: true } } });
  assert.equal(builtin.mode, 'builtin-token');
  assert.equal(builtin.tokenServer?.path, '/token');
  assert.equal(builtin.tokenServer?.expiresInSeconds, 3600);
  const external = parseAuthSettings({ auth: { token: { realm: 'https://auth/token', service: 's', issuer: 'i', rootcertbundle: '/b.pem' } } });
  assert.equal(external.mode, 'external-token');
  assert.equal(parseAuthSettings({ auth: htpasswd, berthAuth: { cache: { ttl: '0s' } } }).credentialCacheTtlMs, 0);
});

test('invalid combinations and values name their key', () => {
  const htpasswd = { htpasswd: { realm: 'r', path: '/x' } };
  const cases: [Parameters<typeof parseAuthSettings>[0], RegExp][] = [
    [{ auth: { ...htpasswd, token: { realm: 'https://a', service: 's', issuer: 'i', jwks: '/j' } } }, /^auth: configure one backend/],
    [{ berthAuth: { tokenserver: { enabled: true } } }, /^berth\.auth\.tokenserver: .*auth\.htpasswd/],
    [{ auth: { htpasswd: { realm: 'r' } } }, /^auth\.htpasswd\.path: /],
    [{ auth: { token: { service: 's', issuer: 'i', jwks: '/j' } } }, /^auth\.token\.realm: /],
    [{ auth: { token: { realm: 'https://a', service: 's', issuer: 'i' } } }, /^auth\.token: give rootcertbundle/],
    [{ auth: htpasswd, berthAuth: { tokenserver: { enabled: true, expiration: '10s' } } }, /^berth\.auth\.tokenserver\.expiration: /],
    [{ auth: htpasswd, access: { rules: [{ repositories: ['x/**'], actions: ['fly'] }] } }, /^berth\.access\.rules\.0/],
    [{ auth: htpasswd, rateLimit: { reads: { rate: -1 } } }, /^berth\.ratelimit\.reads/],
    [{ auth: htpasswd, trustedProxies: ['not-an-ip'] }, /^berth\.trustedproxies/],
    [{ access: { rules: [{ repositories: ['**'], anonymous: true, actions: ['pull'] }] } }, /^berth\.access: access rules need an auth backend/],
    [{ auth: { silly: { realm: 'x' } } }, /^auth\.silly: /],
  ];
  for (const [sections, pattern] of cases) {
    const found = problems(sections);
    assert.ok(found.some((p) => pattern.test(p)), `${JSON.stringify(sections)} → ${JSON.stringify(found)}`);
  }
});

test('the config loader passes the sections through (file and REGISTRY_* variables)', () => {
  const config = testConfig({ auth: { htpasswd: { realm: 'r', path: '/etc/htpasswd' } }, berth: { ratelimit: { reads: { rate: 5 } } } });
  const settings = parseAuthSettings(config.authSections);
  assert.equal(settings.mode, 'basic');
  assert.equal(settings.rateLimit?.reads?.rate, 5);
});

test('berth verify-config reports auth problems with their key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-verify-auth-'));
  const path = join(dir, 'config.yml');
  await writeFile(path, 'version: 0.1\nstorage: { inmemory: {} }\nberth:\n  auth:\n    tokenserver: { enabled: true }\n');
  const result = await verifyConfig(path, {});
  assert.equal(result.ok, false);
  assert.ok(result.lines.some((l) => l.startsWith('error: berth.auth.tokenserver')), result.lines.join('\n'));
  const env = { REGISTRY_AUTH_HTPASSWD_REALM: 'r', REGISTRY_AUTH_HTPASSWD_PATH: '/etc/htpasswd' };
  const ok = await verifyConfig(path, env);
  assert.equal(ok.ok, true, ok.lines.join('\n'));
  assert.ok(ok.lines.some((l) => l.includes('auth: builtin-token')));
});
