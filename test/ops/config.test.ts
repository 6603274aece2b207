/**
 * The operations keys of the configuration: defaults, distribution's notification endpoint
 * fields and their defaults, `http.debug`, `health.storagedriver`, `berth.metrics` (also from the
 * environment), and readable errors for bad values.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildConfig, ConfigError } from '../../src/config/load.js';

test('defaults: metrics on, on the main port; no debug listener, check or endpoints', () => {
  const { config, warnings } = buildConfig({ storage: { inmemory: {} } });
  assert.deepEqual(config.ops.metrics, { enabled: true, path: '/metrics', onDebugListener: false });
  assert.equal(config.ops.debug, undefined);
  assert.deepEqual(config.ops.health.storageDriver, { enabled: false, intervalMs: 10_000, threshold: 1 });
  assert.deepEqual(config.ops.notifications.endpoints, []);
  assert.ok(!warnings.some((w) => /notifications|http\.debug/.test(w)));
});

test('notification endpoints: distribution fields, defaults for absent or non-positive values, disabled left out', () => {
  const { config, warnings } = buildConfig({
    storage: { inmemory: {} },
    notifications: {
      endpoints: [
        {
          name: 'a',
          url: 'https://hooks.example.com/registry',
          headers: { Authorization: ['Bearer x'], 'X-One': 'y' },
          timeout: '500ms',
          threshold: 5,
          backoff: '2s',
          ignoredmediatypes: ['application/octet-stream'],
          ignore: { mediatypes: ['application/vnd.oci.image.index.v1+json'], actions: ['pull'] },
        },
        { name: 'b', url: 'http://127.0.0.1:9000/', timeout: 0, threshold: 0 },
        { name: 'c', url: 'http://127.0.0.1:9001/', disabled: true },
      ],
    },
  });
  assert.deepEqual(config.ops.notifications.endpoints, [
    {
      name: 'a',
      url: 'https://hooks.example.com/registry',
      headers: { Authorization: ['Bearer x'], 'X-One': ['y'] },
      timeoutMs: 500,
      threshold: 5,
      backoffMs: 2000,
      ignoredMediaTypes: ['application/octet-stream', 'application/vnd.oci.image.index.v1+json'],
      ignoredActions: ['pull'],
    },
    { name: 'b', url: 'http://127.0.0.1:9000/', headers: {}, timeoutMs: 1000, threshold: 10, backoffMs: 1000, ignoredMediaTypes: [], ignoredActions: [] },
  ]);
  assert.ok(!warnings.some((w) => w.startsWith('notifications')));
});

test('http.debug with prometheus moves the metrics; health.storagedriver; berth.metrics from the environment', () => {
  const { config } = buildConfig(
    {
      storage: { inmemory: {} },
      http: { debug: { addr: ':5001', prometheus: { enabled: true, path: '/prom' } } },
      health: { storagedriver: { enabled: true, interval: '30s', threshold: 3 } },
    },
    { REGISTRY_BERTH_METRICS_ENABLED: 'false' },
  );
  assert.deepEqual(config.ops.debug, { host: '0.0.0.0', port: 5001 });
  assert.deepEqual(config.ops.metrics, { enabled: false, path: '/prom', onDebugListener: true });
  assert.deepEqual(config.ops.health.storageDriver, { enabled: true, intervalMs: 30_000, threshold: 3 });
  const noProm = buildConfig({ storage: { inmemory: {} }, http: { debug: { addr: '127.0.0.1:5001' } } }).config;
  assert.equal(noProm.ops.metrics.onDebugListener, false);
});

test('bad values stop the start with errors naming the key; unimplemented health checks warn', () => {
  assert.throws(
    () =>
      buildConfig({
        storage: { inmemory: {} },
        http: { debug: { addr: 'nowhere' } },
        notifications: { endpoints: [{ name: 'x', url: 'ftp://x' }, { name: 'x', url: 'http://ok/' }, { name: 'y', url: 'http://ok/', timeout: 'soon' }] },
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      assert.match(text, /notifications\.endpoints\.2\.timeout/);
      return true;
    },
  );
  assert.throws(
    () => buildConfig({ storage: { inmemory: {} }, http: { debug: { addr: 'nowhere' } }, notifications: { endpoints: [{ name: 'x', url: 'ftp://x' }, { name: 'x', url: 'http://ok/' }] } }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      assert.match(text, /http\.debug\.addr/);
      assert.match(text, /notifications\.endpoints\.0\.url/);
      assert.match(text, /notifications\.endpoints\.1\.name: duplicate/);
      return true;
    },
  );
  const { warnings } = buildConfig({ storage: { inmemory: {} }, health: { file: [{ file: '/tmp/x' }] } });
  assert.ok(warnings.some((w) => w.startsWith('health.file: not implemented')));
});
