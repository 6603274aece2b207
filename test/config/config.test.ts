/**
 * Configuration: distribution-format documents, REGISTRY_* environment overrides (distribution's
 * mapping), defaults, warnings for unknown keys, and clear errors naming the bad key.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ConfigError, buildConfig, loadConfigFile } from '../../src/config/load.js';
import { envKeyPath } from '../../src/config/env.js';
import { parseDuration } from '../../src/config/duration.js';
import { BERTH_CLI } from '../helpers/berth-process.js';

const run = promisify(execFile);

describe('config', () => {
  test('defaults: filesystem in ./data, 127.0.0.1:5000, deletes off, purging on', () => {
    const { config } = buildConfig({});
    assert.equal(config.http.host, '127.0.0.1');
    assert.equal(config.http.port, 5000);
    assert.equal(config.storage.driver, 'filesystem');
    assert.match(String(config.storage.params['rootdirectory']), /\/data$/);
    assert.equal(config.storage.deleteEnabled, false);
    assert.equal(config.storage.uploadPurging.enabled, true);
    assert.equal(config.storage.uploadPurging.ageMs, 168 * 3600_000);
    assert.equal(config.berth.maxManifestBytes, 4 * 1024 * 1024);
  });

  test('berth.cache.linkttl: 1 s by default, a duration, 0 turns the link cache off, env override', () => {
    assert.equal(buildConfig({}).config.berth.linkTtlMs, 1000);
    assert.equal(buildConfig({ berth: { cache: { linkttl: '250ms' } } }).config.berth.linkTtlMs, 250);
    assert.equal(buildConfig({ berth: { cache: { linkttl: 0 } } }).config.berth.linkTtlMs, 0);
    assert.equal(buildConfig({}, { REGISTRY_BERTH_CACHE_LINKTTL: '2s' }).config.berth.linkTtlMs, 2000);
    assert.throws(() => buildConfig({ berth: { cache: { linkttl: 'soon' } } }), /linkttl/);
  });

  test('a distribution config.yml is accepted as is', () => {
    const { config, warnings } = buildConfig({
      version: 0.1,
      log: { level: 'debug', fields: { service: 'registry' } },
      storage: {
        cache: { blobdescriptor: 'inmemory' },
        filesystem: { rootdirectory: '/var/lib/registry' },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: true, age: '24h', interval: '1h', dryrun: false }, readonly: { enabled: false } },
      },
      http: { addr: ':5000', headers: { 'X-Content-Type-Options': ['nosniff'] }, secret: 's3cr3t' },
      health: { storagedriver: { enabled: true, interval: '10s', threshold: 3 } },
    });
    assert.equal(config.http.host, '0.0.0.0');
    assert.equal(config.http.port, 5000);
    assert.equal(config.storage.params['rootdirectory'], '/var/lib/registry');
    assert.equal(config.storage.deleteEnabled, true);
    assert.equal(config.storage.uploadPurging.ageMs, 24 * 3600_000);
    assert.equal(config.storage.uploadPurging.intervalMs, 3600_000);
    assert.deepEqual(config.http.headers['X-Content-Type-Options'], ['nosniff']);
    assert.ok(warnings.some((w) => w.startsWith('storage.cache')));
  });

  test('REGISTRY_* environment variables override the file like distribution', () => {
    const { config } = buildConfig(
      { http: { addr: '127.0.0.1:5000' }, storage: { filesystem: { rootdirectory: '/a' } } },
      {
        REGISTRY_HTTP_ADDR: '127.0.0.1:6000',
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/b',
        REGISTRY_STORAGE_DELETE_ENABLED: 'true',
        REGISTRY_HTTP_SECRET: 'x',
        REGISTRY_LOG_LEVEL: 'warn',
        REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: '2h',
      },
    );
    assert.equal(config.http.port, 6000);
    assert.equal(config.storage.params['rootdirectory'], '/b');
    assert.equal(config.storage.deleteEnabled, true);
    assert.equal(config.http.secret, 'x');
    assert.equal(config.log.level, 'warn');
    assert.equal(config.storage.uploadPurging.ageMs, 2 * 3600_000);
  });

  test('REGISTRY_STORAGE switches the driver; driver params map into its section', () => {
    const { config } = buildConfig(
      { storage: { filesystem: { rootdirectory: '/a' } } },
      { REGISTRY_STORAGE: 's3', REGISTRY_STORAGE_S3_BUCKET: 'b', REGISTRY_STORAGE_S3_REGIONENDPOINT: 'http://127.0.0.1:9000' },
    );
    assert.equal(config.storage.driver, 's3');
    assert.deepEqual(config.storage.params, { bucket: 'b', regionendpoint: 'http://127.0.0.1:9000' });
  });

  test('env key mapping', () => {
    assert.deepEqual(envKeyPath(['http', 'tls', 'certificate']), ['http', 'tls', 'certificate']);
    assert.deepEqual(envKeyPath(['storage', 'swift', 'authurl']), ['storage', 'swift', 'authurl']);
    assert.deepEqual(envKeyPath(['berth', 'v1', 'enabled']), ['berth', 'v1', 'enabled']);
    assert.equal(envKeyPath(['nope']), undefined);
  });

  test('unknown keys warn, invalid values fail naming the key', () => {
    const { warnings } = buildConfig({ storage: { inmemory: {} }, surprise: 1, http: { nonsense: true } });
    assert.ok(warnings.includes('surprise: unknown configuration key (ignored)'));
    assert.ok(warnings.includes('http.nonsense: unknown configuration key (ignored)'));
    const bad = (doc: Record<string, unknown>): string[] => {
      try {
        buildConfig(doc);
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return [...error.problems];
      }
      assert.fail('expected a ConfigError');
    };
    assert.match(bad({ http: { addr: 'nope' } }).join(), /^http\.addr:/);
    assert.match(bad({ storage: { delete: { enabled: 'maybe' } } }).join(), /^storage\.delete\.enabled:/);
    assert.match(bad({ log: { level: 'loud' } }).join(), /^log\.level:/);
    assert.match(bad({ storage: { maintenance: { uploadpurging: { age: 'soon' } } } }).join(), /uploadpurging\.age/);
    assert.match(bad({ storage: { filesystem: {}, inmemory: {} } }).join(), /exactly one driver/);
    assert.match(bad({ version: '0.2' }).join(), /^version:/);
    assert.match(bad({ http: { tls: { certificate: '/x' } } }).join(), /certificate and key/);
  });

  test('berth.workers: default 1, a count, auto = CPUs, REGISTRY_BERTH_WORKERS, bad values fail', () => {
    assert.equal(buildConfig({}).config.berth.workers, 1);
    assert.equal(buildConfig({ berth: { workers: 3 } }).config.berth.workers, 3);
    assert.equal(buildConfig({ berth: { workers: 'auto' } }).config.berth.workers, availableParallelism());
    assert.equal(buildConfig({}, { REGISTRY_BERTH_WORKERS: '2' }).config.berth.workers, 2);
    assert.equal(buildConfig({ berth: { workers: 4 } }, { REGISTRY_BERTH_WORKERS: 'auto' }).config.berth.workers, availableParallelism());
    for (const workers of [0, -1, 'many', 1.5]) {
      assert.throws(() => buildConfig({ berth: { workers } }), (e: unknown) => e instanceof ConfigError && String(e.message).includes('berth.workers'));
    }
  });

  test('durations', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration(10), 10_000);
    assert.equal(parseDuration('10x'), undefined);
  });

  test('loadConfigFile: missing file and bad YAML are ConfigErrors', async () => {
    await assert.rejects(loadConfigFile('/nonexistent/config.yml'), ConfigError);
    const dir = await mkdtemp(join(tmpdir(), 'berth-cfg-'));
    const bad = join(dir, 'bad.yml');
    await writeFile(bad, 'http: [unclosed');
    await assert.rejects(loadConfigFile(bad), ConfigError);
  });

  test('berth verify-config exits 0 for a good file and 1 with readable errors for a bad one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-cfg-'));
    const good = join(dir, 'good.yml');
    await writeFile(good, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:5000\n  secret: x\n`);
    const ok = await run(process.execPath, [BERTH_CLI, 'verify-config', good]);
    assert.match(ok.stdout, /^ok: /m);
    const bad = join(dir, 'bad.yml');
    await writeFile(bad, 'version: 0.1\nhttp:\n  addr: 99999\nstorage:\n  filesystem:\n    rootdirectory: 5\n');
    const err = await run(process.execPath, [BERTH_CLI, 'verify-config', bad]).then(
      () => assert.fail('expected non-zero exit'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(err.code, 1);
    assert.match(err.stderr, /error: http\.addr/);
  });
});
