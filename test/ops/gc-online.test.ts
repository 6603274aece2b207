/**
 * Online garbage collection under load: two Berth apps on one storage (in-process, sharing a
 * driver), each running the GC loop (interval 150 ms, grace period 1 s, one at a time through the
 * lease), while pushers (blobs through one app, the manifest through the other; existence HEADs,
 * automatic-discovery mounts and uploads, as clients do), a puller and a deleter (which deletes
 * images and later pushes the same bytes again, so "already exists" blobs that are garbage meet
 * a running sweep) work for a few seconds. A push the server refuses with MANIFEST_BLOB_UNKNOWN
 * (the safe failure when a blob vanished between HEAD and the manifest) is retried as a client
 * would. Afterwards every image pushed and not deleted pulls back byte-identical, and once the
 * grace period has passed one more run leaves exactly the referenced blobs. On the in-memory and
 * filesystem drivers, and on the s3 and swift drivers against the real Swift of
 * test/setup/30-swift.sh (a fresh bucket/container per run; without that environment those two
 * are skipped with the reason, and fail under CI=true).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { checked } from '../../storage-drivers/checked.js';
import { createDriver } from '../../storage-drivers/index.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { startOnlineGc } from '../../src/ops/gc/online.js';
import type { GcReport } from '../../src/ops/gc/run.js';
import { buildTestApp, type TestApp } from '../helpers/build-app.js';
import { s3Backend, swiftBackend } from '../helpers/object-backends.js';
import { pullBack, sha, storedBlobs, type Expected } from './fixtures.js';

const GRACE_MS = 1000;
const RUN_MS = 5000;
const HARD_STOP_MS = 25_000;

function gcConfig(storage: Record<string, unknown>): Record<string, unknown> {
  return { storage: { ...storage, delete: { enabled: true } }, berth: { gc: { enabled: true, interval: '150ms', graceperiod: '1s' } } };
}

async function ensureBlob(t: TestApp, repo: string, bytes: Buffer): Promise<void> {
  const d = sha(bytes);
  if ((await t.http.head(`/v2/${repo}/blobs/${d}`)).status === 200) return;
  const mount = await t.http.post(`/v2/${repo}/blobs/uploads/?mount=${d}`);
  if (mount.status === 201) return;
  assert.equal(mount.status, 202);
  const location = new URL(String(mount.headers['location']));
  const put = await t.http
    .put(`${location.pathname}${location.search}${location.search === '' ? '?' : '&'}digest=${d}`)
    .set('Content-Type', 'application/octet-stream')
    .send(bytes);
  assert.equal(put.status, 201, put.text);
}

interface Image {
  readonly repo: string;
  readonly tag: string;
  readonly layers: Buffer[];
  readonly config: Buffer;
  readonly manifest: Buffer;
}

function makeImage(repo: string, tag: string, base: Buffer): Image {
  const layers = [base, randomBytes(2000 + Math.floor(Math.random() * 3000))];
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag, n: Math.random() }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(l), size: l.length })),
    }),
  );
  return { repo, tag, layers, config, manifest };
}

/** Pushes like a client: blobs through `blobsVia`, the manifest through `manifestVia`, retrying a refused manifest. */
async function push(blobsVia: TestApp, manifestVia: TestApp, img: Image, stats: { retries: number }, pauseMs = 0): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    for (const blob of [...img.layers, img.config]) await ensureBlob(blobsVia, img.repo, blob);
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, Math.random() * pauseMs));
    const res = await manifestVia.http.put(`/v2/${img.repo}/manifests/${img.tag}`).set('Content-Type', 'application/vnd.oci.image.manifest.v1+json').send(img.manifest.toString());
    if (res.status === 201) return;
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /MANIFEST_BLOB_UNKNOWN/);
    stats.retries++;
    assert.ok(attempt < 20, 'a push keeps being refused');
  }
}

function expected(img: Image): Expected {
  return { repo: img.repo, ref: img.tag, manifest: img.manifest, blobs: [...img.layers, img.config] };
}

/**
 * `repushAfterMs`: how long every other deleted image waits before its bytes are pushed again (the
 * others come back at once). 0 on the local drivers, where a run takes milliseconds and sweeps
 * between the delete and the re-push; on the object stores a run takes a second or more (every
 * step is a request), so that garbage is left long enough for a run to sweep it. The load runs on
 * until more than `minDeletes` images were deleted (and half as many pushed again).
 */
async function runScenario(driver: StorageDriver, storage: Record<string, unknown>, diagnostic: (m: string) => void, repushAfterMs = 0, minDeletes = 3): Promise<void> {
  const apps = [buildTestApp({ driver, config: gcConfig(storage) }), buildTestApp({ driver, config: gcConfig(storage) })] as const;
  const reports: GcReport[] = [];
  const logged: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line) as Record<string, unknown>) });
  const loops = apps.map((t) =>
    startOnlineGc({
      driver,
      config: t.config,
      logger,
      firstDelayMs: 50,
      // Slow sweeps widen the window between a run's mark and its deletions.
      sweepDelayMs: 40,
      leaseOptions: { settleMs: 20, ttlMs: 10_000 },
    }),
  );
  const bases = Array.from({ length: 3 }, () => randomBytes(4000));
  const live = new Map<string, Image>();
  const deleted: Array<{ img: Image; repushAt: number }> = [];
  const pushedAt = new Map<Image, number>();
  const stats = { retries: 0, pushes: 0, pulls: 0, deletes: 0, repushes: 0 };
  // Run at least RUN_MS, and on until the load has done what the test is about (deletes,
  // re-pushes, a sweep that deleted something) — a loaded machine gets there later — but never
  // past HARD_STOP_MS.
  const deadline = Date.now() + RUN_MS;
  const hardStop = Date.now() + HARD_STOP_MS;
  const sweptSoFar = (): number =>
    logged.filter((l) => l['msg'] === 'garbage collection finished').reduce((sum, l) => sum + Number(l['blobsDeleted']), 0);
  const finished = (): boolean =>
    Date.now() > hardStop || (Date.now() > deadline && stats.deletes > minDeletes && stats.repushes > minDeletes / 2 && sweptSoFar() > 0);
  let n = 0;
  const pusher = async (which: 0 | 1): Promise<void> => {
    while (!finished()) {
      const i = n++;
      const img = makeImage(`load/r${i % 4}`, `t${i}`, bases[i % bases.length] as Buffer);
      await push(apps[which], apps[1 - which] as TestApp, img, stats);
      live.set(`${img.repo}:${img.tag}`, img);
      pushedAt.set(img, Date.now());
      stats.pushes++;
    }
  };
  const puller = async (): Promise<void> => {
    while (!finished()) {
      const stable = [...live.values()].filter((img) => Number(img.tag.slice(1)) % 3 !== 0);
      const img = stable[Math.floor(Math.random() * stable.length)];
      if (img !== undefined) {
        await pullBack(apps[stats.pulls % 2] as TestApp, expected(img));
        stats.pulls++;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const deleter = async (): Promise<void> => {
    while (!finished()) {
      await new Promise((r) => setTimeout(r, 150));
      // Old enough that its blobs become sweepable garbage at once.
      const victim = [...live.values()].find((img) => Number(img.tag.slice(1)) % 3 === 0 && (pushedAt.get(img) ?? Infinity) < Date.now() - GRACE_MS - 100);
      if (victim !== undefined) {
        live.delete(`${victim.repo}:${victim.tag}`);
        await (apps[stats.deletes % 2] as TestApp).http.delete(`/v2/${victim.repo}/manifests/${sha(victim.manifest)}`).expect(202);
        // Every other one comes back at once (its re-push races the sweeps), the rest later.
        deleted.push({ img: victim, repushAt: Date.now() + (stats.deletes % 2 === 0 ? 0 : repushAfterMs) });
        stats.deletes++;
      }
      // Push the bytes of the image just deleted again: its blobs are garbage that still exists,
      // so the client's HEADs say "exists" while sweeps are coming; the client is slow between
      // its HEADs and the manifest.
      const due = deleted.findIndex((d) => d.repushAt <= Date.now());
      const old = due < 0 ? undefined : deleted.splice(due, 1)[0]?.img;
      if (old !== undefined) {
        const again: Image = { ...old, tag: `${old.tag}again` };
        await push(apps[0], apps[1], again, stats, 300);
        live.set(`${again.repo}:${again.tag}`, again);
        stats.repushes++;
      }
    }
  };
  await Promise.all([pusher(0), pusher(1), puller(), deleter()]);
  await Promise.all(loops.map((l) => l.stop()));
  const runs = logged.filter((l) => l['msg'] === 'garbage collection finished');
  assert.ok(!logged.some((l) => l['msg'] === 'garbage collection failed'), JSON.stringify(logged.find((l) => l['msg'] === 'garbage collection failed')));
  const swept = runs.reduce((sum, l) => sum + Number(l['blobsDeleted']), 0);
  const touched = runs.reduce((sum, l) => sum + Number(l['keptTouched']), 0);
  diagnostic(`${JSON.stringify(stats)}; ${runs.length} GC runs deleted ${swept} blobs, ${touched} kept because touched mid-sweep`);
  assert.ok(stats.pushes > 10 && stats.deletes > 3 && stats.repushes > 0, JSON.stringify(stats));
  assert.ok(runs.length >= 3 && swept > 0, `GC ran ${runs.length} times, deleted ${swept}`);
  for (const img of live.values()) await pullBack(apps[0], expected(img));
  // After the grace period, one more run leaves exactly what is referenced.
  await new Promise((r) => setTimeout(r, GRACE_MS + 200));
  const last = await loops[0]?.runOnce();
  assert.ok(last !== undefined);
  reports.push(last);
  const referenced = new Set<string>();
  for (const img of live.values()) for (const b of [img.manifest, img.config, ...img.layers]) referenced.add(sha(b));
  const stored = await storedBlobs(driver);
  assert.deepEqual([...stored.keys()].sort(), [...referenced].sort());
  for (const img of live.values()) await pullBack(apps[1], expected(img));
}

describe('online garbage collection under concurrent pushes, pulls and deletes', () => {
  it('in-memory driver, two apps', { timeout: 60_000 }, async (t) => {
    await runScenario(checked(createInMemoryDriver()), { inmemory: {} }, (m) => t.diagnostic(m));
  });

  it('filesystem driver, two apps', { timeout: 60_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-gc-online-'));
    try {
      const storage = { filesystem: { rootdirectory: dir } };
      await runScenario(createDriver('filesystem', { rootdirectory: dir }), storage, (m) => t.diagnostic(m));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const run = randomBytes(3).toString('hex');
  for (const backend of [s3Backend({ tag: `gco-${run}` }), swiftBackend({ tag: `gco-${run}` })]) {
    const missing = backend.missing;
    if (missing !== undefined && process.env['CI'] === 'true') {
      it(`${backend.name} driver: the backend is available in CI`, () => {
        assert.fail(`CI=true but ${missing}`);
      });
      continue;
    }
    it(`${backend.name} driver on the real Swift, two apps`, { timeout: 90_000, ...(missing === undefined ? {} : { skip: missing }) }, async (t) => {
      await backend.prepare();
      try {
        const storage = backend.storage(`gc-online-${run}`);
        const params = storage[backend.name];
        if (typeof params !== 'object' || params === null) assert.fail(`no ${backend.name} parameters`);
        await runScenario(createDriver(backend.name, params as Record<string, unknown>), storage, (m) => t.diagnostic(m), 3000, 8);
      } finally {
        await backend.cleanup();
      }
    });
  }
});
