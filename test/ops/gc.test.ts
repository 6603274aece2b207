/**
 * Garbage collection on a store built through the real APIs (test/ops/fixtures.ts) on the
 * in-memory driver: nothing referenced is deleted (every image pulls back byte-identical through
 * v2, the v1 push and the bridged image through v1), everything unreferenced is, storage shrinks
 * by exactly the bytes unique to deleted images, --dry-run changes nothing, --delete-untagged
 * keeps index children, referrers of kept manifests and subjects of tagged referrers, the grace
 * period keeps young blobs, and a touch during the sweep puts a hidden blob back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { garbageCollect, type GcEvent } from '../../src/ops/gc/run.js';
import { GcLease, LeaseBusyError } from '../../src/ops/gc/lease.js';
import { tryParseDigest } from '../../src/core/digest.js';
import { paths } from '../../src/core/paths.js';
import { buildTestApp, pushBlob } from '../helpers/build-app.js';
import { populate, pullBack, pullV1, sha, snapshot, storedBlobs, total, SEES_OUT_OF_BAND } from './fixtures.js';

const FAST = { gracePeriodMs: 0, leaseOptions: { settleMs: 10 } } as const;

describe('garbage collection', () => {
  it('deletes exactly the unreferenced blobs and every image still pulls', async () => {
    const t = buildTestApp({ config: SEES_OUT_OF_BAND });
    const p = await populate(t);
    const before = await storedBlobs(t.driver);
    for (const d of p.garbage.keys()) assert.ok(before.has(d), `garbage ${d} stored before`);
    const events: GcEvent[] = [];
    const report = await garbageCollect(t.driver, { ...FAST, onEvent: (e) => events.push(e) });
    const after = await storedBlobs(t.driver);
    for (const d of p.garbage.keys()) assert.ok(!after.has(d), `garbage ${d} deleted`);
    assert.equal(before.size - after.size, p.garbage.size);
    assert.equal(total(before) - total(after), total(p.garbage), 'storage shrinks by the unique bytes');
    assert.equal(report.blobsDeleted, p.garbage.size);
    assert.equal(report.bytesDeleted, total(p.garbage));
    assert.deepEqual(new Set(events.filter((e) => e.kind === 'blob').map((e) => (e.kind === 'blob' ? e.digest : ''))), new Set(p.garbage.keys()));
    // The repositories' links to deleted blobs went too.
    for (const d of p.garbage.keys()) {
      const parsed = tryParseDigest(d);
      assert.ok(parsed !== undefined);
      await assert.rejects(t.driver.stat(paths.layerLink('scratch', parsed)).then(() => t.driver.stat(paths.layerLink('team/app', parsed))));
    }
    for (const e of [...p.keep, ...p.untagged, p.orphanReferrer]) await pullBack(t, e);
    await pullV1(t, p);
    // A second run finds nothing more.
    const again = await garbageCollect(t.driver, FAST);
    assert.equal(again.blobsDeleted, 0);
    assert.equal(again.layerLinksDeleted, 0);
  });

  it('--dry-run reports the same and changes nothing', async () => {
    const t = buildTestApp({ config: SEES_OUT_OF_BAND });
    const p = await populate(t);
    const before = await snapshot(t.driver);
    const report = await garbageCollect(t.driver, { ...FAST, dryRun: true });
    assert.equal(report.blobsDeleted, p.garbage.size);
    assert.equal(report.bytesDeleted, total(p.garbage));
    assert.deepEqual(await snapshot(t.driver), before);
  });

  it('--delete-untagged removes untagged manifests but keeps index children, referrers and signed subjects', async () => {
    const t = buildTestApp({ config: SEES_OUT_OF_BAND });
    const p = await populate(t);
    const dry = await garbageCollect(t.driver, { ...FAST, dryRun: true, deleteUntagged: true });
    const report = await garbageCollect(t.driver, { ...FAST, deleteUntagged: true });
    assert.equal(report.manifestsDeleted, 2, 'the loose image and its untagged referrer');
    assert.equal(dry.manifestsDeleted, report.manifestsDeleted);
    assert.equal(dry.blobsDeleted, report.blobsDeleted);
    for (const e of p.keep) await pullBack(t, e);
    await pullBack(t, p.signedUntagged);
    await pullV1(t, p);
    const loose = p.untagged[0];
    assert.ok(loose !== undefined);
    await t.http.get(`/v2/${loose.repo}/manifests/${loose.ref}`).expect(404);
    await t.http.get(`/v2/${p.orphanReferrer.repo}/manifests/${p.orphanReferrer.ref}`).expect(404);
    const stored = await storedBlobs(t.driver);
    for (const blob of [loose.manifest, ...loose.blobs]) assert.ok(!stored.has(sha(blob)), 'loose image blobs swept');
    const referrers = await t.http.get(`/v2/team/app/referrers/${sha(loose.manifest)}`).expect(200);
    assert.deepEqual((referrers.body as { manifests: unknown[] }).manifests, []);
  });

  it('keeps blobs inside the grace period and puts back a blob touched during the sweep', async () => {
    const t = buildTestApp({ config: SEES_OUT_OF_BAND });
    const young = Buffer.from('young orphan');
    await pushBlob(t, 'scratch', young);
    const report = await garbageCollect(t.driver, { gracePeriodMs: 60_000, leaseOptions: { settleMs: 10 } });
    assert.equal(report.blobsDeleted, 0);
    assert.equal(report.keptYoung, 1);
    // Old enough, but a push touches it while the collector has it hidden.
    const d = tryParseDigest(sha(young));
    assert.ok(d !== undefined);
    const race = await garbageCollect(t.driver, { ...FAST, now: () => Date.now() + 120_000 });
    assert.equal(race.blobsDeleted, 1, 'without a touch it goes');
    await pushBlob(t, 'scratch', young);
    const driver = t.driver;
    const originalMove = driver.move.bind(driver);
    let touched = false;
    driver.move = async (from, to) => {
      await originalMove(from, to);
      if (to.endsWith('/gc-hidden') && !touched) {
        touched = true;
        await t.app.registry.blobs.touch(d);
      }
    };
    const kept = await garbageCollect(driver, { ...FAST, now: () => Date.now() + 120_000, leaseOptions: { settleMs: 10 } });
    driver.move = originalMove;
    assert.ok(touched);
    assert.equal(kept.blobsDeleted, 0);
    assert.equal(kept.keptTouched, 1);
    await t.http.get(`/v2/scratch/blobs/${sha(young)}`).expect(200);
  });

  it('one collection at a time: the lease', async () => {
    const t = buildTestApp({ config: SEES_OUT_OF_BAND });
    const a = new GcLease(t.driver, { settleMs: 10, ttlMs: 60_000 });
    await a.acquire();
    await assert.rejects(garbageCollect(t.driver, FAST), LeaseBusyError);
    await a.release();
    const expired = new GcLease(t.driver, { settleMs: 10, ttlMs: 1 });
    await expired.acquire();
    await new Promise((r) => setTimeout(r, 20));
    const report = await garbageCollect(t.driver, FAST);
    assert.equal(report.blobsDeleted, 0, 'an expired lease is taken over');
    assert.throws(() => expired.assertHeld());
  });
});
