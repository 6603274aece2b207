/**
 * The old Python docker-registry environment (SETTINGS_FLAVOR + STORAGE_PATH, OS_*, AWS_*,
 * GUNICORN_WORKERS, REGISTRY_PORT): mapping onto distribution keys, precedence (config file and
 * REGISTRY_* win), driver switch, errors for flavors Berth cannot serve, and no secret in the
 * mapping result, the start-up log line or verify-config's output.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ConfigError, buildConfig } from '../../src/config/load.js';
import { BERTH_CLI } from '../helpers/berth-process.js';

const run = promisify(execFile);
const PASSWORD = 'sw1ft-s3cret-value';
const AWS_SECRET = 'aws-s3cret-value';

const SOFTLAYER = {
  SETTINGS_FLAVOR: 'swift',
  OS_AUTH_URL: 'https://dal05.objectstorage.softlayer.net/auth/v1.0',
  OS_AUTH_VERSION: '1',
  OS_USERNAME: 'SLOS123-2:SL123',
  OS_PASSWORD: PASSWORD,
  OS_CONTAINER: 'docker',
  GUNICORN_WORKERS: '8',
};

describe('legacy docker-registry environment', () => {
  test('the SoftLayer recipe maps onto storage.swift and 0.0.0.0:5000', () => {
    const { config, legacy } = buildConfig({}, SOFTLAYER);
    assert.equal(config.storage.driver, 'swift');
    assert.deepEqual(config.storage.params, {
      authurl: SOFTLAYER.OS_AUTH_URL,
      username: SOFTLAYER.OS_USERNAME,
      password: PASSWORD,
      container: 'docker',
      authversion: 1,
      prefix: '/registry',
    });
    assert.equal(config.http.host, '0.0.0.0');
    assert.equal(config.http.port, 5000);
    assert.ok(legacy !== undefined);
    assert.equal(legacy.flavor, 'swift');
    assert.equal(legacy.workers, 8);
    assert.equal(config.berth.workers, 8);
    const keys = Object.fromEntries(legacy.keys.map((k) => [k.legacy, k.key]));
    assert.equal(keys['OS_PASSWORD'], 'storage.swift.password');
    assert.equal(keys['OS_AUTH_URL'], 'storage.swift.authurl');
    assert.ok(!JSON.stringify(legacy).includes(PASSWORD), 'the mapping result holds names, never values');
  });

  test('tenant, region, Keystone v3; v2 is refused with a clear error', () => {
    const { config } = buildConfig({}, { ...SOFTLAYER, OS_AUTH_URL: 'https://keystone.example/v3', OS_AUTH_VERSION: '3', OS_TENANT_NAME: 'proj', OS_REGION_NAME: 'RegionOne' });
    assert.equal(config.storage.params['tenant'], 'proj');
    assert.equal(config.storage.params['region'], 'RegionOne');
    assert.equal(config.storage.params['authversion'], 3);
    assert.throws(() => buildConfig({}, { ...SOFTLAYER, OS_AUTH_VERSION: '2' }), (e: unknown) => e instanceof ConfigError && /OS_AUTH_VERSION=2/.test(e.problems.join()));
    const { OS_AUTH_VERSION: _unused, ...noVersion } = SOFTLAYER;
    assert.throws(() => buildConfig({}, { ...noVersion, OS_AUTH_URL: 'https://keystone.example/v2.0' }), (e: unknown) => e instanceof ConfigError && /v2\.0/.test(e.problems.join()));
  });

  test('dev and local: filesystem at STORAGE_PATH (default /tmp/registry)', () => {
    assert.equal(buildConfig({}, { SETTINGS_FLAVOR: 'dev' }).config.storage.params['rootdirectory'], '/tmp/registry');
    const local = buildConfig({}, { SETTINGS_FLAVOR: 'local', STORAGE_PATH: '/srv/registry' }).config;
    assert.equal(local.storage.driver, 'filesystem');
    assert.equal(local.storage.params['rootdirectory'], '/srv/registry');
  });

  test('s3: bucket, keys, region, host/port endpoint with path style, encrypt/secure from YAML booleans', () => {
    const { config, legacy } = buildConfig({}, {
      SETTINGS_FLAVOR: 's3',
      AWS_BUCKET: 'images',
      AWS_KEY: 'AKIA1',
      AWS_SECRET,
      AWS_REGION: 'eu-west-1',
      AWS_HOST: 'objects.example',
      AWS_PORT: '8080',
      AWS_SECURE: 'false',
      AWS_ENCRYPT: 'no',
      STORAGE_PATH: '/imgs',
    });
    assert.equal(config.storage.driver, 's3');
    assert.deepEqual(config.storage.params, {
      bucket: 'images',
      accesskey: 'AKIA1',
      secretkey: AWS_SECRET,
      region: 'eu-west-1',
      secure: false,
      regionendpoint: 'http://objects.example:8080',
      forcepathstyle: true,
      encrypt: false,
      rootdirectory: '/imgs',
    });
    assert.ok(!JSON.stringify(legacy).includes(AWS_SECRET));
    // The old defaults: encrypt and secure on, /registry, boto's us-east-1.
    const defaults = buildConfig({}, { SETTINGS_FLAVOR: 's3', AWS_BUCKET: 'b' }).config.storage.params;
    assert.equal(defaults['encrypt'], true);
    assert.equal(defaults['secure'], true);
    assert.equal(defaults['rootdirectory'], '/registry');
    assert.equal(defaults['region'], 'us-east-1');
  });

  test('the config file wins key by key; the flavor switches the driver like REGISTRY_STORAGE', () => {
    const file = {
      http: { addr: ':5000' },
      storage: { filesystem: { rootdirectory: '/var/lib/berth' } },
    };
    const { config, legacy } = buildConfig(file, SOFTLAYER);
    assert.equal(config.storage.driver, 'swift', 'the flavor replaces the file\'s filesystem section');
    assert.ok(legacy?.notes.some((n) => n.includes('storage.filesystem section is not used')));
    const withSwift = buildConfig({ storage: { swift: { container: 'from-file' } } }, SOFTLAYER);
    assert.equal(withSwift.config.storage.params['container'], 'from-file');
    assert.equal(withSwift.legacy?.keys.find((k) => k.legacy === 'OS_CONTAINER')?.applied, false);
    // Same driver: the file's rootdirectory wins over STORAGE_PATH (and is reported as shadowed).
    const fs = buildConfig({ storage: { filesystem: { rootdirectory: '/var/lib/berth' } } }, { SETTINGS_FLAVOR: 'local', STORAGE_PATH: '/x' });
    assert.equal(fs.config.storage.params['rootdirectory'], '/var/lib/berth');
  });

  test('REGISTRY_* win over legacy variables; REGISTRY_STORAGE wins over the flavor', () => {
    const { config } = buildConfig({}, { ...SOFTLAYER, REGISTRY_STORAGE_SWIFT_CONTAINER: 'modern', REGISTRY_HTTP_ADDR: '127.0.0.1:6000' });
    assert.equal(config.storage.params['container'], 'modern');
    assert.equal(config.http.port, 6000);
    const fsWins = buildConfig({}, { SETTINGS_FLAVOR: 'dev', REGISTRY_STORAGE: 'inmemory' });
    assert.equal(fsWins.config.storage.driver, 'inmemory');
  });

  test('REGISTRY_PORT: a bare number sets the port (also over the file); tcp://… is ignored with a warning', () => {
    assert.equal(buildConfig({ http: { addr: ':5000' } }, { ...SOFTLAYER, REGISTRY_PORT: '5001' }).config.http.port, 5001);
    assert.equal(buildConfig({}, { REGISTRY_PORT: '5002' }).config.http.port, 5002);
    assert.equal(buildConfig({}, { REGISTRY_PORT: '5002' }).config.http.host, '127.0.0.1');
    const k8s = buildConfig({}, { REGISTRY_PORT: 'tcp://10.0.0.1:5000' });
    assert.equal(k8s.config.http.port, 5000);
    assert.ok(k8s.warnings.some((w) => w.startsWith('REGISTRY_PORT: not a bare port number')));
    assert.ok(!k8s.warnings.some((w) => w.includes('no such configuration key')));
  });

  test('no SETTINGS_FLAVOR: OS_* and AWS_* alone change nothing', () => {
    const { config, legacy } = buildConfig({}, { OS_AUTH_URL: 'https://x/v3', OS_USERNAME: 'u', OS_PASSWORD: PASSWORD, AWS_BUCKET: 'b' });
    assert.equal(config.storage.driver, 'filesystem');
    assert.equal(legacy, undefined);
  });

  test('unknown and unsupported flavors stop the start with a message naming the flavor', () => {
    assert.throws(() => buildConfig({}, { SETTINGS_FLAVOR: 'gcs' }), (e: unknown) => e instanceof ConfigError && /SETTINGS_FLAVOR=gcs/.test(e.problems.join()));
    assert.throws(() => buildConfig({}, { SETTINGS_FLAVOR: 'nope' }), (e: unknown) => e instanceof ConfigError && /unknown flavor/.test(e.problems.join()));
  });

  test('SEARCH_BACKEND and LOGLEVEL', () => {
    const { config, legacy } = buildConfig({}, { SETTINGS_FLAVOR: 'dev', SEARCH_BACKEND: 'sqlalchemy', LOGLEVEL: 'warning' });
    assert.equal(config.log.level, 'warn');
    assert.ok(legacy?.notes.some((n) => n.startsWith('SEARCH_BACKEND=sqlalchemy')));
  });

  test('verify-config prints the mapping without the password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-legacy-'));
    const path = join(dir, 'config.yml');
    await writeFile(path, 'version: 0.1\n');
    const { stdout, stderr } = await run(process.execPath, [BERTH_CLI, 'verify-config', path], { env: { PATH: process.env['PATH'] ?? '', ...SOFTLAYER } });
    assert.match(stdout, /legacy: OS_PASSWORD → storage\.swift\.password/);
    assert.match(stdout, /ok: .*storage: swift/);
    assert.ok(!(stdout + stderr).includes(PASSWORD));
  });
});

test('GUNICORN_WORKERS alone is an alias of berth.workers; the file and REGISTRY_BERTH_WORKERS win', () => {
  assert.equal(buildConfig({}, { GUNICORN_WORKERS: '4' }).config.berth.workers, 4);
  assert.equal(buildConfig({ berth: { workers: 2 } }, { GUNICORN_WORKERS: '4' }).config.berth.workers, 2);
  assert.equal(buildConfig({}, { GUNICORN_WORKERS: '4', REGISTRY_BERTH_WORKERS: '3' }).config.berth.workers, 3);
  const bad = buildConfig({}, { GUNICORN_WORKERS: 'many' });
  assert.equal(bad.config.berth.workers, 1);
  assert.ok(bad.warnings.some((w) => w.startsWith('GUNICORN_WORKERS')));
});
