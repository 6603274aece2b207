/**
 * Garbage collection on the object stores (test/helpers/object-backends.ts: the s3 driver on
 * Swift's s3api and the swift driver, both from test/setup/30-swift.sh): the populated store of
 * test/ops/fixtures.ts (shared layers, index, referrers, v1 push, bridged image, deleted image,
 * orphan blob) loses exactly its garbage, every image pulls back byte-identical, a dry run
 * changes nothing, and two apps on the bucket running GC at once leave one to do the work (the
 * lease); scrub finds a byte flipped in a stored layer and --repair makes that blob unknown.
 * Skipped without the environment, a failure under CI=true.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createDriver } from '../../storage-drivers/index.js';
import { LeaseBusyError } from '../../src/ops/gc/lease.js';
import { garbageCollect } from '../../src/ops/gc/run.js';
import { scrub } from '../../src/ops/scrub.js';
import { tryParseDigest } from '../../src/core/digest.js';
import { paths } from '../../src/core/paths.js';
import { s3Backend, swiftBackend, type Backend } from '../helpers/object-backends.js';
import { buildTestApp, pushImage } from '../helpers/build-app.js';
import { populate, pullBack, pullV1, snapshot, storedBlobs, total, SEES_OUT_OF_BAND } from './fixtures.js';

const inCi = process.env['CI'] === 'true';
const tag = `gc-${randomBytes(4).toString('hex')}`;

for (const backend of [s3Backend({ tag: `${tag}-s3` }), swiftBackend({ tag: `${tag}-swift` })] as Backend[]) {
  const skip = backend.missing !== undefined && !inCi ? backend.missing : false;
  describe(`garbage collection on ${backend.name}`, { skip }, () => {
    before(async () => {
      if (backend.missing !== undefined) throw new Error(backend.missing);
      await backend.prepare();
    });
    after(async () => {
      if (backend.missing === undefined) await backend.cleanup();
    });

    it('deletes exactly the garbage; everything else pulls back', { timeout: 180_000 }, async () => {
      const storage = backend.storage(`/${tag}`);
      const [name, params] = Object.entries(storage)[0] as [string, Record<string, unknown>];
      const driver = createDriver(name, params);
      const t = buildTestApp({ driver, config: { ...SEES_OUT_OF_BAND, storage: { ...storage, delete: { enabled: true } } } });
      const p = await populate(t);
      const before = await storedBlobs(driver);
      const snap = await snapshot(driver);
      const dry = await garbageCollect(driver, { gracePeriodMs: 0, dryRun: true });
      assert.equal(dry.blobsDeleted, p.garbage.size);
      assert.deepEqual(await snapshot(driver), snap, 'a dry run changes nothing');
      const second = garbageCollect(driver, { gracePeriodMs: 0, leaseOptions: { settleMs: 500 } });
      const first = await Promise.allSettled([garbageCollect(driver, { gracePeriodMs: 0, leaseOptions: { settleMs: 500 } }), second]);
      const done = first.filter((r) => r.status === 'fulfilled');
      const busy = first.filter((r) => r.status === 'rejected' && r.reason instanceof LeaseBusyError);
      assert.equal(done.length + busy.length, 2, JSON.stringify(first.filter((r) => r.status === 'rejected').map((r) => String(r.reason))));
      assert.ok(done.length >= 1);
      const after = await storedBlobs(driver);
      for (const d of p.garbage.keys()) assert.ok(!after.has(d), `${d} deleted`);
      assert.equal(total(before) - total(after), total(p.garbage));
      for (const e of [...p.keep, ...p.untagged, p.orphanReferrer]) await pullBack(t, e);
      await pullV1(t, p);
    });

    it('scrub finds a byte flipped in a stored layer; --repair makes it unknown', { timeout: 120_000 }, async () => {
      const storage = backend.storage(`/${tag}-scrub`);
      const [name, params] = Object.entries(storage)[0] as [string, Record<string, unknown>];
      const driver = createDriver(name, params);
      const t = buildTestApp({ driver, config: { ...SEES_OUT_OF_BAND, storage: { ...storage, delete: { enabled: true } } } });
      const img = await pushImage(t, 'scrub/app', '1', { layers: 2 });
      assert.deepEqual((await scrub(driver)).issues, []);
      const bad = tryParseDigest(img.layerDigests[0] ?? '');
      assert.ok(bad !== undefined);
      const bytes = await driver.getContent(paths.blobData(bad));
      bytes[0] = (bytes[0] ?? 0) ^ 0xff;
      await driver.putContent(paths.blobData(bad), bytes);
      const report = await scrub(driver);
      assert.equal(report.issues.length, 1, JSON.stringify(report.issues));
      assert.equal(report.issues[0]?.kind, 'corrupt-blob');
      assert.equal(report.issues[0]?.digest, bad.digest);
      assert.deepEqual(report.issues[0]?.repositories, ['scrub/app']);
      const repaired = await scrub(driver, { repair: true });
      assert.deepEqual(repaired.issues.filter((i) => i.repaired).map((i) => i.kind), ['corrupt-blob']);
      await t.http.head(`/v2/scrub/app/blobs/${bad.digest}`).expect(404);
      await t.http.get(`/v2/scrub/app/blobs/${img.layerDigests[1] ?? ''}`).expect(200);
    });
  });
}
