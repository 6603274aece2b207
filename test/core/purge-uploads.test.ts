/**
 * Upload purging: sessions older than the cut-off (or without a readable start time) are deleted,
 * younger ones and finished content stay; dry runs delete nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checked } from '../../storage-drivers/checked.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { paths } from '../../src/core/paths.js';
import { purgeUploads } from '../../src/core/purge-uploads.js';
import { buildTestApp, pushImage } from '../helpers/build-app.js';

test('purgeUploads removes only abandoned sessions', async () => {
  const driver = checked(createInMemoryDriver());
  const t = buildTestApp({ driver });
  await pushImage(t, 'keep/me', 'v1');
  const old = await t.app.registry.uploads.start('p/a');
  const young = await t.app.registry.uploads.start('p/b/c');
  await driver.putContent(paths.uploadStartedAt('p/a', old.id), Buffer.from('2000-01-01T00:00:00.000Z'));
  await driver.putContent(paths.uploadStartedAt('p/a', '00000000-0000-4000-8000-000000000000'), Buffer.from('garbage'));
  const cutoff = new Date(Date.now() - 3600_000);
  const dry = await purgeUploads(driver, cutoff, true);
  assert.equal(dry.scanned, 3);
  assert.equal(dry.purged.length, 2);
  await t.app.registry.uploads.get('p/a', old.id);
  const real = await purgeUploads(driver, cutoff, false);
  assert.equal(real.purged.length, 2);
  await assert.rejects(t.app.registry.uploads.get('p/a', old.id), /upload unknown/);
  await t.app.registry.uploads.get('p/b/c', young.id);
  await t.http.get('/v2/keep/me/manifests/v1').expect(200);
});
