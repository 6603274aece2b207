/**
 * Health checks answer quickly even when the backend hangs or fails: 503 with the reason, and 200
 * again once the backend answers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import express from 'express';
import request from 'supertest';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { BackendUnavailableError } from '../../storage-drivers/errors.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { createRegistry } from '../../src/core/registry.js';
import { createHealthRouter } from '../../src/server/health.js';

function appWith(driver: StorageDriver): express.Express {
  const registry = createRegistry(driver, { maxBlobBytes: 0, manifestCacheBytes: 1024, now: () => new Date() });
  const app = express();
  app.use(createHealthRouter(registry, 200));
  return app;
}

test('/healthz: 200 when storage answers, 503 when it fails or hangs', async () => {
  const inner = createInMemoryDriver();
  let mode: 'ok' | 'fail' | 'hang' = 'ok';
  const driver: StorageDriver = {
    ...inner,
    name: 'flaky',
    stat: (path) =>
      mode === 'ok' ? inner.stat(path) : mode === 'fail' ? Promise.reject(new BackendUnavailableError('flaky', 'down')) : new Promise(() => undefined),
  };
  const app = appWith(driver);
  assert.equal((await request(app).get('/healthz')).status, 200);
  mode = 'fail';
  const failed = await request(app).get('/healthz');
  assert.equal(failed.status, 503);
  assert.equal(failed.body.status, 'unavailable');
  mode = 'hang';
  const started = Date.now();
  const hung = await request(app).get('/healthz');
  assert.equal(hung.status, 503);
  assert.ok(Date.now() - started < 2000);
  mode = 'ok';
  assert.equal((await request(app).get('/healthz')).status, 200);
  assert.equal((await request(app).get('/livez')).status, 200);
});
