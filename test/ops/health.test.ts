/**
 * Readiness and the background storage check: /readyz answers 200 when the backend answers and
 * 503 when it fails or hangs (quickly); with `health.storagedriver` /healthz turns 503 only after
 * `threshold` consecutive failed probes, /readyz follows, and one good probe makes both healthy
 * again; the periodic probe really runs on its interval.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { checked } from '../../storage-drivers/checked.js';
import { BackendUnavailableError } from '../../storage-drivers/errors.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { buildTestApp } from '../helpers/build-app.js';

type Mode = 'ok' | 'fail' | 'hang';

/** An in-memory driver whose stat can be made to fail or hang. */
function flakyDriver(): { driver: StorageDriver; set(mode: Mode): void; stats: () => number } {
  const inner = checked(createInMemoryDriver());
  let mode: Mode = 'ok';
  let stats = 0;
  const driver: StorageDriver = {
    ...inner,
    name: 'flaky',
    stat: (path) => {
      stats += 1;
      if (mode === 'ok') return inner.stat(path);
      if (mode === 'fail') return Promise.reject(new BackendUnavailableError('flaky', 'down'));
      return new Promise(() => undefined);
    },
  };
  return { driver, set: (m) => (mode = m), stats: () => stats };
}

describe('readiness and health.storagedriver', () => {
  test('/readyz: 200 when storage answers, 503 when it fails or hangs', async () => {
    const flaky = flakyDriver();
    const t = buildTestApp({ driver: flaky.driver });
    const ok = await t.http.get('/readyz').expect(200);
    assert.equal(ok.body.status, 'ok');
    flaky.set('fail');
    const failed = await t.http.get('/readyz').expect(503);
    assert.equal(failed.body.storage.error, 'BackendUnavailableError');
    flaky.set('hang');
    const started = Date.now();
    const hung = await t.http.get('/readyz').expect(503);
    assert.equal(hung.body.storage.error, 'TimeoutError');
    assert.ok(Date.now() - started < 4500, 'a hung backend answers within the readiness timeout');
    flaky.set('ok');
    await t.http.get('/readyz').expect(200);
    await t.http.get('/healthz').expect(200);
    await t.http.get('/livez').expect(200);
  });

  test('threshold: unhealthy after N consecutive failures, healthy after one success', async () => {
    const flaky = flakyDriver();
    const t = buildTestApp({ driver: flaky.driver, config: { health: { storagedriver: { enabled: true, interval: '1h', threshold: 3 } } } });
    try {
      const health = t.app.health;
      assert.ok(health !== undefined);
      await t.http.get('/healthz').expect(200);
      flaky.set('fail');
      await health.checkNow();
      await health.checkNow();
      // Two failures: still healthy, and /healthz does not probe by itself.
      const statsBefore = flaky.stats();
      const still = await t.http.get('/healthz').expect(200);
      assert.equal(still.body.storage.consecutiveFailures, 2);
      assert.equal(flaky.stats(), statsBefore);
      const third = await health.checkNow();
      assert.equal(third.healthy, false);
      const down = await t.http.get('/healthz').expect(503);
      assert.equal(down.body.storage.check, 'storagedriver_flaky');
      assert.equal(down.body.storage.error, 'BackendUnavailableError');
      // The backend is back, but the check has not seen it yet: both stay unhealthy.
      flaky.set('ok');
      await t.http.get('/healthz').expect(503);
      await t.http.get('/readyz').expect(503);
      assert.equal((await health.checkNow()).healthy, true);
      await t.http.get('/healthz').expect(200);
      await t.http.get('/readyz').expect(200);
    } finally {
      await t.app.close();
    }
  });

  test('the background check runs every interval (a hung backend counts as a failure)', async () => {
    const flaky = flakyDriver();
    const t = buildTestApp({ driver: flaky.driver, config: { health: { storagedriver: { enabled: true, interval: '40ms', threshold: 2 } } } });
    try {
      flaky.set('hang');
      const deadline = Date.now() + 5000;
      let status = 200;
      while (status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        status = (await t.http.get('/healthz')).status;
      }
      assert.equal(status, 503);
      flaky.set('ok');
      while (status === 503 && Date.now() < deadline + 5000) {
        await new Promise((r) => setTimeout(r, 25));
        status = (await t.http.get('/healthz')).status;
      }
      assert.equal(status, 200);
    } finally {
      await t.app.close();
    }
  });

  test('health probes are not counted as storage operations', async () => {
    const t = buildTestApp();
    for (let i = 0; i < 3; i++) await t.http.get('/readyz').expect(200);
    const text = (await t.http.get('/metrics').expect(200)).text;
    assert.doesNotMatch(text, /operation="stat"/);
  });
});
