/**
 * bench/lib/workloads.ts — the measured workloads, each run against one
 * freshly started registry (base URL), with correctness checks:
 *   push     monolithic POST + PUT ?digest= of the whole blob (curl -T)  → MiB/s
 *   chunked  POST, PATCH chunks with Content-Range, PUT ?digest=        → MiB/s
 *   pull     GET of the blob (curl → /dev/null; verified by a hashed GET) → MiB/s
 *   manifest wrk GET /v2/<name>/manifests/latest (schema2 Accept)       → req/s, p99
 *   head     wrk HEAD /v2/<name>/blobs/<digest>                         → req/s, p99
 * Pushes must answer 201 with the right Docker-Content-Digest; pulled bytes
 * must hash to the digest.
 */
import { randomBytes } from 'node:crypto';
import { sha256Digest, type BlobFile } from './blob.js';
import { runCommand } from './exec.js';
import { getHashed, header, keepAliveAgent, request, resolveLocation, withDigest } from './http.js';
import type { Agent } from 'node:http';
import { runWrk, type WrkResult } from './wrk.js';

export const MiB = 1024 * 1024;
export const SCHEMA2 = 'application/vnd.docker.distribution.manifest.v2+json';
export const EMPTY_DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export type Details = Record<string, number | string | boolean>;

export interface Measurement {
  value: number;
  unit: 'MiB/s' | 'req/s';
  p99Ms?: number;
  details: Details;
}

export interface WorkloadContext {
  base: string;
  blob: BlobFile;
  scratchDir: string;
  chunkBytes: number;
  durationS: number;
  warmupS: number;
  connections: number;
  threads: number;
  /** CPU seconds (user+sys) the server process has used so far. */
  serverCpu: () => number;
}

function fail(msg: string): never {
  throw new Error(msg);
}

function secondsSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** POST /v2/<repo>/blobs/uploads/ → absolute upload URL from the 202's Location. */
export async function startUpload(base: string, repo: string, agent?: Agent): Promise<string> {
  const url = `${base}/v2/${repo}/blobs/uploads/`;
  const r = await request(url, agent ? { method: 'POST', agent } : { method: 'POST' });
  if (r.status !== 202) fail(`POST ${url}: expected 202, got ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  const loc = header(r.headers, 'location') ?? fail(`POST ${url}: 202 without Location`);
  return resolveLocation(loc, url);
}

function checkCommitted(what: string, status: number, got: string | undefined, digest: string): void {
  if (status !== 201) fail(`${what}: expected 201, got ${status}`);
  if (got !== digest) fail(`${what}: Docker-Content-Digest ${String(got)} != ${digest}`);
}

export interface UploadTiming {
  seconds: number;
  postMs: number;
}

/**
 * Monolithic push: POST (node), then `curl -T file -X PUT <location>&digest=…`.
 * Time = POST round trip + curl's own time_total for the PUT.
 */
export async function monolithicUpload(base: string, repo: string, blob: BlobFile): Promise<UploadTiming> {
  const t0 = process.hrtime.bigint();
  const loc = await startUpload(base, repo);
  const postMs = secondsSince(t0) * 1000;
  const url = withDigest(loc, blob.digest);
  const r = await runCommand(
    'curl',
    [
      '-sS', '-X', 'PUT', '-T', blob.path,
      '-H', 'Expect:', '-H', 'Content-Type: application/octet-stream',
      '-D', '-', '-o', '/dev/null',
      '-w', '\n@@curl %{http_code} %{time_total} %{size_upload}\n',
      url,
    ],
    600_000,
  );
  if (r.timedOut || r.code !== 0) fail(`curl PUT failed (code ${String(r.code)}): ${r.stderr}`);
  const [head = '', tail = ''] = r.stdout.split('\n@@curl ');
  const [code = '', total = '', uploaded = ''] = tail.trim().split(' ');
  const digestLine = head
    .split(/\r?\n/)
    .map((l) => /^docker-content-digest:\s*(\S+)/i.exec(l)?.[1])
    .filter((v): v is string => v !== undefined)
    .pop();
  checkCommitted(`PUT ${url}`, Number(code), digestLine, blob.digest);
  if (Number(uploaded) !== blob.size) fail(`curl uploaded ${uploaded} bytes, expected ${blob.size}`);
  return { seconds: postMs / 1000 + Number(total), postMs };
}

/**
 * Chunked push on one keep-alive connection: POST, then PATCH chunks with
 * `Content-Range: start-end` (inclusive), following each Location, then
 * PUT ?digest= with an empty body. Time = hrtime from POST to the 201.
 */
export async function chunkedUpload(base: string, repo: string, data: Buffer, digest: string, chunkBytes: number): Promise<UploadTiming & { chunks: number }> {
  const agent = keepAliveAgent();
  try {
    const t0 = process.hrtime.bigint();
    let loc = await startUpload(base, repo, agent);
    const postMs = secondsSince(t0) * 1000;
    let off = 0;
    let chunks = 0;
    while (off < data.length) {
      const end = Math.min(data.length, off + chunkBytes);
      const r = await request(loc, {
        method: 'PATCH',
        agent,
        body: data.subarray(off, end),
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${off}-${end - 1}` },
      });
      if (r.status !== 202) fail(`PATCH #${chunks} ${off}-${end - 1}: expected 202, got ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
      const range = header(r.headers, 'range')?.replace(/^bytes=/, '');
      if (range !== undefined && range !== `0-${end - 1}`) fail(`PATCH #${chunks}: Range ${range}, expected 0-${end - 1}`);
      const next = header(r.headers, 'location') ?? fail(`PATCH #${chunks}: 202 without Location`);
      loc = resolveLocation(next, loc);
      off = end;
      chunks++;
    }
    const r = await request(withDigest(loc, digest), { method: 'PUT', agent });
    checkCommitted('final PUT', r.status, header(r.headers, 'docker-content-digest'), digest);
    return { seconds: secondsSince(t0), postMs, chunks };
  } finally {
    agent.destroy();
  }
}

/** GET via curl to /dev/null; curl's time_total. Checks status and byte count. */
export async function curlPull(url: string, expectedBytes: number): Promise<number> {
  const r = await runCommand('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url], 600_000);
  if (r.timedOut || r.code !== 0) fail(`curl GET failed (code ${String(r.code)}): ${r.stderr}`);
  const [code = '', size = '', total = ''] = r.stdout.trim().split(' ');
  if (code !== '200') fail(`GET ${url}: status ${code}`);
  if (Number(size) !== expectedBytes) fail(`GET ${url}: ${size} bytes, expected ${expectedBytes}`);
  return Number(total);
}

/** HEAD a blob: 200, Content-Length = size, Docker-Content-Digest = digest. */
export async function verifyBlobHead(base: string, repo: string, digest: string, size: number): Promise<void> {
  const url = `${base}/v2/${repo}/blobs/${digest}`;
  const r = await request(url, { method: 'HEAD' });
  if (r.status !== 200) fail(`HEAD ${url}: status ${r.status}`);
  const len = header(r.headers, 'content-length');
  if (Number(len) !== size) fail(`HEAD ${url}: Content-Length ${String(len)}, expected ${size}`);
  const d = header(r.headers, 'docker-content-digest');
  if (d !== undefined && d !== digest) fail(`HEAD ${url}: Docker-Content-Digest ${d}`);
}

/** Small monolithic push (POST + PUT with body) through node:http. */
export async function pushSmallBlob(base: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256Digest(bytes);
  const loc = await startUpload(base, repo);
  const r = await request(withDigest(loc, digest), {
    method: 'PUT',
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
  checkCommitted(`PUT small blob`, r.status, header(r.headers, 'docker-content-digest'), digest);
  return digest;
}

export interface ImageFixture {
  repo: string;
  manifestDigest: string;
  manifest: Buffer;
  layerDigest: string;
  layerSize: number;
}

/** Pushes a config blob, a layer blob, the empty blob and a schema2 manifest tagged `latest`. */
export async function pushImage(base: string, repo: string): Promise<ImageFixture> {
  const layer = randomBytes(4096);
  const layerDigest = await pushSmallBlob(base, repo, layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
    }),
  );
  const configDigest = await pushSmallBlob(base, repo, config);
  const empty = await pushSmallBlob(base, repo, Buffer.alloc(0));
  if (empty !== EMPTY_DIGEST) fail('empty blob digest mismatch');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: SCHEMA2,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: configDigest },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: layerDigest }],
    }),
  );
  const manifestDigest = sha256Digest(manifest);
  const url = `${base}/v2/${repo}/manifests/latest`;
  const r = await request(url, { method: 'PUT', body: manifest, headers: { 'content-type': SCHEMA2 } });
  checkCommitted(`PUT ${url}`, r.status, header(r.headers, 'docker-content-digest'), manifestDigest);
  return { repo, manifestDigest, manifest, layerDigest, layerSize: layer.length };
}

function cpuPerGiB(cpuS: number, bytes: number): Details {
  return { serverCpuS: cpuS, cpuCost: cpuS / (bytes / (1024 * MiB)), cpuCostUnit: 'server CPU s/GiB' };
}

function wrkDetails(w: WrkResult): Details {
  return {
    requests: w.requests,
    seconds: w.seconds,
    latencyAvgMs: w.latencyMs.avg,
    p50Ms: w.latencyMs.p50,
    p90Ms: w.latencyMs.p90,
    p99Ms: w.latencyMs.p99,
    non2xx: w.non2xx,
    socketErrors: w.socketErrors.connect + w.socketErrors.read + w.socketErrors.write + w.socketErrors.timeout,
  };
}

async function wrkMeasure(ctx: WorkloadContext, url: string, method: string, headers: Record<string, string>): Promise<Measurement> {
  const common = { url, method, headers, connections: ctx.connections, threads: ctx.threads, scriptDir: ctx.scratchDir };
  if (ctx.warmupS > 0) await runWrk({ ...common, durationS: ctx.warmupS });
  const c0 = ctx.serverCpu();
  const w = await runWrk({ ...common, durationS: ctx.durationS });
  const cpu = ctx.serverCpu() - c0;
  if (w.non2xx > 0) fail(`wrk ${method} ${url}: ${w.non2xx} non-2xx/3xx responses of ${w.requests}`);
  return {
    value: w.rps,
    unit: 'req/s',
    p99Ms: w.latencyMs.p99,
    details: { ...wrkDetails(w), serverCpuS: cpu, cpuCost: (cpu * 1e6) / w.requests, cpuCostUnit: 'server CPU µs/request' },
  };
}

export const workloads = {
  async push(ctx: WorkloadContext): Promise<Measurement> {
    const c0 = ctx.serverCpu();
    const t = await monolithicUpload(ctx.base, 'bench/push', ctx.blob);
    const cpu = ctx.serverCpu() - c0;
    await verifyBlobHead(ctx.base, 'bench/push', ctx.blob.digest, ctx.blob.size);
    return {
      value: ctx.blob.size / MiB / t.seconds,
      unit: 'MiB/s',
      details: { seconds: t.seconds, postMs: t.postMs, ...cpuPerGiB(cpu, ctx.blob.size) },
    };
  },

  async chunked(ctx: WorkloadContext): Promise<Measurement> {
    const c0 = ctx.serverCpu();
    const t = await chunkedUpload(ctx.base, 'bench/chunked', ctx.blob.data, ctx.blob.digest, ctx.chunkBytes);
    const cpu = ctx.serverCpu() - c0;
    await verifyBlobHead(ctx.base, 'bench/chunked', ctx.blob.digest, ctx.blob.size);
    return {
      value: ctx.blob.size / MiB / t.seconds,
      unit: 'MiB/s',
      details: { seconds: t.seconds, postMs: t.postMs, chunks: t.chunks, chunkBytes: ctx.chunkBytes, ...cpuPerGiB(cpu, ctx.blob.size) },
    };
  },

  async pull(ctx: WorkloadContext): Promise<Measurement> {
    const repo = 'bench/pull';
    await monolithicUpload(ctx.base, repo, ctx.blob);
    const url = `${ctx.base}/v2/${repo}/blobs/${ctx.blob.digest}`;
    // Untimed verification pull first (also warms both servers the same way).
    const v = await getHashed(url);
    if (v.status !== 200) fail(`GET ${url}: status ${v.status}`);
    if (v.bytes !== ctx.blob.size || v.digest !== ctx.blob.digest) fail(`GET ${url}: got ${v.bytes} bytes hashing to ${v.digest}`);
    const c0 = ctx.serverCpu();
    const seconds = await curlPull(url, ctx.blob.size);
    const cpu = ctx.serverCpu() - c0;
    return { value: ctx.blob.size / MiB / seconds, unit: 'MiB/s', details: { seconds, verified: true, ...cpuPerGiB(cpu, ctx.blob.size) } };
  },

  async manifest(ctx: WorkloadContext): Promise<Measurement> {
    const img = await pushImage(ctx.base, 'bench/manifest');
    const url = `${ctx.base}/v2/${img.repo}/manifests/latest`;
    const r = await request(url, { method: 'GET', headers: { accept: SCHEMA2 } });
    if (r.status !== 200) fail(`GET ${url}: status ${r.status}`);
    if (!r.body.equals(img.manifest)) fail(`GET ${url}: body differs from the pushed manifest`);
    const ct = header(r.headers, 'content-type') ?? '';
    if (!ct.startsWith(SCHEMA2)) fail(`GET ${url}: Content-Type ${ct}`);
    const d = header(r.headers, 'docker-content-digest');
    if (d !== img.manifestDigest) fail(`GET ${url}: Docker-Content-Digest ${String(d)}`);
    return wrkMeasure(ctx, url, 'GET', { Accept: SCHEMA2 });
  },

  async head(ctx: WorkloadContext): Promise<Measurement> {
    const img = await pushImage(ctx.base, 'bench/head');
    await verifyBlobHead(ctx.base, img.repo, img.layerDigest, img.layerSize);
    await verifyBlobHead(ctx.base, img.repo, EMPTY_DIGEST, 0);
    // wrk 4.1 waits for a body after a HEAD whose Content-Length is > 0, so the
    // load runs on the (pushed, real) zero-length blob; the 4 KiB layer is checked above.
    return wrkMeasure(ctx, `${ctx.base}/v2/${img.repo}/blobs/${EMPTY_DIGEST}`, 'HEAD', {});
  },
} as const;

export type WorkloadName = keyof typeof workloads;
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['push', 'chunked', 'pull', 'manifest', 'head'];
