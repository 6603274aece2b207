/**
 * Garbage-collection benchmark (not a test): builds a store of about `--blobs` blobs (default
 * 10,000) in `--repos` repositories (default 1,000) on the filesystem driver in a temp dir —
 * two images per repository, each a config, a layer from a pool shared across repositories, a
 * unique layer and the manifest; one image in every fourth repository deleted — then runs one
 * garbage collection (grace period 0) and prints its time, what it marked and deleted, and the
 * peak RSS of this process during the run (sampled every 20 ms, and getrusage's maxRSS).
 * `--scale 0.1` builds a tenth of the default size. The store is removed afterwards unless
 * `--keep`.
 *
 *   node dist/bench/gc.js [--blobs 10000] [--repos 1000] [--scale 1] [--keep]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDriver } from '../storage-drivers/index.js';
import { createRegistry } from '../src/core/registry.js';
import { digestOf, tryParseDigest, type ParsedDigest } from '../src/core/digest.js';
import { garbageCollect } from '../src/ops/gc/run.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i === -1 ? undefined : Number(process.argv[i + 1]);
  return v === undefined || !Number.isFinite(v) ? fallback : v;
}

function d(bytes: Buffer): ParsedDigest {
  const p = tryParseDigest(digestOf(bytes));
  if (p === undefined) throw new Error('digest');
  return p;
}

async function main(): Promise<void> {
  const scale = arg('scale', 1);
  const repos = Math.max(1, Math.round(arg('repos', 1000) * scale));
  const targetBlobs = Math.max(8, Math.round(arg('blobs', 10_000) * scale));
  const perRepo = Math.max(2, Math.round(targetBlobs / repos / 3.5));
  const dir = await mkdtemp(join(tmpdir(), 'berth-bench-gc-'));
  const driver = createDriver('filesystem', { rootdirectory: dir });
  const registry = createRegistry(driver, { maxBlobBytes: 0, manifestCacheBytes: 0, now: () => new Date() });
  const pool = Array.from({ length: 50 }, () => randomBytes(4096));
  const started = Date.now();
  let blobs = pool.length;
  for (let r = 0; r < repos; r++) {
    const name = `bench/r${r}`;
    for (let i = 0; i < perRepo; i++) {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', r, i, n: randomBytes(8).toString('hex') }));
      const shared = pool[(r + i) % pool.length] as Buffer;
      const unique = randomBytes(2048 + ((r * 7 + i) % 4096));
      for (const b of [config, shared, unique]) {
        await registry.blobs.putSmall(d(b), b);
        await registry.blobs.link(name, d(b));
      }
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d(config).digest, size: config.length },
          layers: [shared, unique].map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d(l).digest, size: l.length })),
        }),
      );
      const put = await registry.manifests.put(name, manifest, 'application/vnd.oci.image.manifest.v1+json', undefined, [`v${i}`]);
      blobs += 3;
      if (r % 4 === 0 && i === 0) await registry.manifests.delete(name, put.digest);
    }
  }
  const buildMs = Date.now() - started;
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const rssBefore = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  const report = await garbageCollect(driver, { gracePeriodMs: 0, leaseOptions: { settleMs: 0 } });
  const gcMs = Number(process.hrtime.bigint() - t0) / 1e6;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  process.stdout.write(
    `${JSON.stringify(
      {
        store: { repositories: repos, imagesPerRepository: perRepo, blobsWritten: blobs, buildMs },
        gc: {
          ms: Math.round(gcMs),
          blobsScanned: report.blobsScanned,
          marked: report.markedBlobs,
          deleted: report.blobsDeleted,
          bytesFreed: report.bytesDeleted,
          layerLinksDeleted: report.layerLinksDeleted,
        },
        rss: { beforeGc: mib(rssBefore), peakDuringGc: mib(peak), maxRssProcess: mib(process.resourceUsage().maxRSS * 1024) },
      },
      null,
      2,
    )}\n`,
  );
  if (!process.argv.includes('--keep')) await rm(dir, { recursive: true, force: true });
  else process.stdout.write(`store kept in ${dir}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/gc: ${String(error)}\n`);
  process.exit(1);
});
