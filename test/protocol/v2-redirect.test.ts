/**
 * Blob redirects: with `storage.redirect.disable: false` and a driver that can sign URLs, blob GET
 * and HEAD answer 307 to the backend URL; manifests are never redirected; by default Berth streams.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { buildTestApp, pushBlob, pushImage } from '../helpers/build-app.js';

function signingDriver(): StorageDriver {
  const inner = createInMemoryDriver();
  return checked({ ...inner, redirectUrl: (path, options) => Promise.resolve(`https://objects.example.invalid${path}?method=${options.method}`) });
}

test('blob GET/HEAD redirect to the backend when enabled; manifests never', async () => {
  const t = buildTestApp({ driver: signingDriver(), config: { storage: { inmemory: {}, redirect: { disable: false } } } });
  const digest = await pushBlob(t, 'r/x', Buffer.from('redirect me'));
  const get = await t.http.get(`/v2/r/x/blobs/${digest}`).expect(307);
  assert.match(String(get.headers['location']), /^https:\/\/objects\.example\.invalid\/docker\/registry\/v2\/blobs\/sha256\/.+\/data\?method=GET$/);
  assert.equal(get.headers['docker-content-digest'], digest);
  const head = await t.http.head(`/v2/r/x/blobs/${digest}`).expect(307);
  assert.match(String(head.headers['location']), /method=HEAD$/);
  await t.http.get(`/v2/r/x/blobs/sha256:${'0'.repeat(64)}`).expect(404);
  await pushImage(t, 'r/x', 'v1');
  await t.http.get('/v2/r/x/manifests/v1').expect(200);
});

test('redirects are off by default', async () => {
  const t = buildTestApp({ driver: signingDriver() });
  const digest = await pushBlob(t, 'r/y', Buffer.from('stream me'));
  await t.http.get(`/v2/r/y/blobs/${digest}`).expect(200);
});
