/**
 * bench/lib/objectstore/workloads.ts — the object-store benchmark's workloads: push, chunked and
 * pull are bench/lib/workloads.ts's own; the manifest GET rate differs in one thing only: its
 * fixture (a 4 KiB layer, a config and a schema2 manifest tagged `latest`) does not include the
 * zero-length blob. distribution 2.8 cannot store an empty blob on either object-store driver
 * (s3: CompleteMultipartUpload with no parts → 400 MalformedXML from s3api → 500; swift: "timeout
 * expired while waiting for segments … to show up" after ~13 s → 500), and only the HEAD
 * workload (not run here) needs it.
 */
import { randomBytes } from 'node:crypto';
import { sha256Digest } from '../blob.js';
import { header, request } from '../http.js';
import { runWrk } from '../wrk.js';
import { pushSmallBlob, SCHEMA2, workloads, type Measurement, type WorkloadContext } from '../workloads.js';
import type { ObjectStoreWorkload } from './args.js';

function fail(msg: string): never {
  throw new Error(msg);
}

/** Pushes a 4 KiB layer, its config and a schema2 manifest tagged `latest`; returns the manifest. */
async function pushFixture(base: string, repo: string): Promise<{ manifest: Buffer; digest: string }> {
  const layer = randomBytes(4096);
  const layerDigest = await pushSmallBlob(base, repo, layer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
  const configDigest = await pushSmallBlob(base, repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: SCHEMA2,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: configDigest },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: layerDigest }],
    }),
  );
  const digest = sha256Digest(manifest);
  const url = `${base}/v2/${repo}/manifests/latest`;
  const r = await request(url, { method: 'PUT', body: manifest, headers: { 'content-type': SCHEMA2 } });
  if (r.status !== 201) fail(`PUT ${url}: expected 201, got ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  if (header(r.headers, 'docker-content-digest') !== digest) fail(`PUT ${url}: wrong Docker-Content-Digest`);
  return { manifest, digest };
}

async function manifestRate(ctx: WorkloadContext): Promise<Measurement> {
  const repo = 'bench/manifest';
  const fixture = await pushFixture(ctx.base, repo);
  const url = `${ctx.base}/v2/${repo}/manifests/latest`;
  const r = await request(url, { method: 'GET', headers: { accept: SCHEMA2 } });
  if (r.status !== 200) fail(`GET ${url}: status ${r.status}`);
  if (!r.body.equals(fixture.manifest)) fail(`GET ${url}: body differs from the pushed manifest`);
  const ct = header(r.headers, 'content-type') ?? '';
  if (!ct.startsWith(SCHEMA2)) fail(`GET ${url}: Content-Type ${ct}`);
  if (header(r.headers, 'docker-content-digest') !== fixture.digest) fail(`GET ${url}: wrong Docker-Content-Digest`);
  const common = { url, method: 'GET', headers: { Accept: SCHEMA2 }, connections: ctx.connections, threads: ctx.threads, scriptDir: ctx.scratchDir };
  if (ctx.warmupS > 0) await runWrk({ ...common, durationS: ctx.warmupS });
  const c0 = ctx.serverCpu();
  const w = await runWrk({ ...common, durationS: ctx.durationS });
  const cpu = ctx.serverCpu() - c0;
  if (w.non2xx > 0) fail(`wrk GET ${url}: ${w.non2xx} non-2xx/3xx responses of ${w.requests}`);
  const socketErrors = w.socketErrors.connect + w.socketErrors.read + w.socketErrors.write + w.socketErrors.timeout;
  return {
    value: w.rps,
    unit: 'req/s',
    p99Ms: w.latencyMs.p99,
    details: {
      requests: w.requests,
      seconds: w.seconds,
      latencyAvgMs: w.latencyMs.avg,
      p50Ms: w.latencyMs.p50,
      p90Ms: w.latencyMs.p90,
      p99Ms: w.latencyMs.p99,
      non2xx: w.non2xx,
      socketErrors,
      serverCpuS: cpu,
      cpuCost: (cpu * 1e6) / Math.max(1, w.requests),
      cpuCostUnit: 'server CPU µs/request',
    },
  };
}

export const objectStoreWorkloads: Readonly<Record<ObjectStoreWorkload, (ctx: WorkloadContext) => Promise<Measurement>>> = {
  push: workloads.push,
  chunked: workloads.chunked,
  pull: workloads.pull,
  manifest: manifestRate,
};
