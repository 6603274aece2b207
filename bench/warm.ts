/**
 * bench/warm.ts — the warm, interleaved benchmark (issue 10's method): ONE server process per
 * registry (Berth and the reference, each on fresh storage) for the whole run, never restarted;
 * every round runs the workloads in the same order, each on Berth then on the reference:
 *   push     monolithic push of a random blob with `curl -T` (a fresh blob every time)
 *   chunked  chunked push of another fresh blob, 5 MiB PATCHes on one keep-alive connection
 *   pull     `curl -o /dev/null` of the first blob (pushed and verified before round 1)
 *   manifest manifest GET at 50 connections, with wrk and with hey (two rows)
 *   head     blob HEAD (the 4 KiB layer) with hey
 *   close    manifest GET with `Connection: close` (hey -disable-keepalive), as docker 20.10 and
 *            skopeo send
 * The disk limit (dd conv=fdatasync into the storage's directory) and the sha256 limit (one core)
 * are measured every round and printed beside the push rates. Server CPU per GiB or per request
 * comes from /proc (steadier than rates on a shared machine); peak RSS is the kernel's VmHWM of
 * each server's process tree over the whole run. Before the rounds, the GC regression check
 * (lib/gc-check.ts) runs on a separate `--trace-gc` Berth.
 *
 * Build with the project's tsc; run `node dist/bench/warm.js --help`.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { sha256Digest, generateBlob, type BlobFile } from './lib/blob.js';
import { berthMain, defaultBerthCmd, log, machineInfo, repoRoot, requireCommands, runEntry, writeResults } from './lib/common.js';
import { ForeignCpu, processCpuSeconds } from './lib/cpu.js';
import { runCommand } from './lib/exec.js';
import { gcCheck, type GcCheck } from './lib/gc-check.js';
import { runHey } from './lib/hey.js';
import { getHashed, request } from './lib/http.js';
import { diskLimit, hashLimit } from './lib/limits.js';
import { benchWorkDir, killAllStarted, startRegistry, stopRegistry, type RegistryKey, type RunningRegistry } from './lib/registry.js';
import type { RssReport } from './lib/rss.js';
import { processTree } from './lib/rss.js';
import { median } from './lib/stats.js';
import { parseWarmArgs, WARM_USAGE, type WarmOptions, type WarmWorkload } from './lib/warm-args.js';
import { chunkedUpload, curlPull, MiB, monolithicUpload, pushImage, SCHEMA2, verifyBlobHead, type ImageFixture } from './lib/workloads.js';
import { runWrk } from './lib/wrk.js';

/** One measured row kind: a workload may produce several (manifest: wrk and hey). */
type Metric = 'push' | 'chunked' | 'pull' | 'manifest-wrk' | 'manifest-hey' | 'head' | 'close';

interface Sample {
  metric: Metric;
  round: number;
  registry: RegistryKey;
  ok: boolean;
  value?: number;
  unit?: 'MiB/s' | 'req/s';
  p99Ms?: number;
  /** Server CPU s/GiB or µs/request. */
  cpuCost?: number;
  foreignCpu?: number;
  /** VmHWM of the server's process tree after the sample (MiB): shows which workload raised the peak. */
  hwmMiB?: number;
  error?: string;
}

interface Server {
  key: RegistryKey;
  label: string;
  reg: RunningRegistry;
  image: ImageFixture;
  pullDigest: string;
}

interface Limits {
  round: number;
  diskMiBs: number;
  hashMiBs: number;
}

const METRICS: { metric: Metric; from: WarmWorkload; name: string }[] = [
  { metric: 'push', from: 'push', name: 'monolithic push (curl -T)' },
  { metric: 'chunked', from: 'chunked', name: 'chunked push (5 MiB PATCHes)' },
  { metric: 'pull', from: 'pull', name: 'pull (curl)' },
  { metric: 'manifest-wrk', from: 'manifest', name: 'manifest GET, keep-alive (wrk)' },
  { metric: 'manifest-hey', from: 'manifest', name: 'manifest GET, keep-alive (hey)' },
  { metric: 'head', from: 'head', name: 'blob HEAD (hey)' },
  { metric: 'close', from: 'close', name: 'manifest GET, Connection: close (hey)' },
];

const RSS_LIMIT_MIB = 128;

function treeHwmMiB(pid: number): number {
  let kib = 0;
  for (const p of processTree(pid)) {
    try {
      kib += Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kib / 1024;
}

function serverCpu(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + (processCpuSeconds(p) || 0), 0);
}

/** A copy of `blob` made unique by an 8-byte tag at its start (file and memory), with its digest. */
function freshen(blob: BlobFile, tag: number): BlobFile {
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(tag) + 0x8000_0000_0000_0000n);
  head.copy(blob.data, 0);
  const fd = openSync(blob.path, 'r+');
  try {
    writeSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  return { ...blob, digest: sha256Digest(blob.data) };
}

function withWorkers(cmd: string, workers: number | undefined): string {
  if (workers === undefined) return cmd;
  return cmd.includes('{config}') ? cmd.split('{config}').join(`{config} --workers ${workers}`) : `${cmd} {config} --workers ${workers}`;
}

async function setUp(key: RegistryKey, label: string, cmd: string, workDir: string, blob: BlobFile, o: WarmOptions): Promise<Server> {
  const reg = await startRegistry({ key, label, cmd, extraStorage: [], logLevel: o.logLevel }, workDir);
  // Untimed: the pull source (verified by a hashed GET, which also warms the page cache), the
  // manifest/HEAD fixture.
  await monolithicUpload(reg.base, 'bench/pull', blob);
  const v = await getHashed(`${reg.base}/v2/bench/pull/blobs/${blob.digest}`);
  if (v.status !== 200 || v.digest !== blob.digest || v.bytes !== blob.size) throw new Error(`${label}: verification pull got ${v.status}, ${v.bytes} bytes, ${v.digest}`);
  const image = await pushImage(reg.base, 'bench/manifest');
  const r = await request(`${reg.base}/v2/${image.repo}/manifests/latest`, { method: 'GET', headers: { accept: SCHEMA2 } });
  if (r.status !== 200 || !r.body.equals(image.manifest)) throw new Error(`${label}: manifest GET ${r.status} or body differs`);
  await verifyBlobHead(reg.base, image.repo, image.layerDigest, image.layerSize);
  return { key, label, reg, image, pullDigest: blob.digest };
}

async function measure(s: Server, w: WarmWorkload, round: number, a: BlobFile, b: BlobFile, o: WarmOptions, tag: number): Promise<Sample[]> {
  const base = s.reg.base;
  const gib = (bytes: number): number => bytes / (1024 * MiB);
  const one = async (metric: Metric, run: () => Promise<Omit<Sample, 'metric' | 'round' | 'registry' | 'ok'>>): Promise<Sample> => {
    const foreign = new ForeignCpu();
    try {
      return { metric, round, registry: s.key, ok: true, ...(await run()), foreignCpu: foreign.share() };
    } catch (e) {
      return { metric, round, registry: s.key, ok: false, error: e instanceof Error ? e.message : String(e), foreignCpu: foreign.share() };
    }
  };
  const cpuOf = (): number => serverCpu(s.reg.pid);
  switch (w) {
    case 'push': {
      const blob = freshen(a, tag);
      const sample = await one('push', async () => {
        const c0 = cpuOf();
        const t = await monolithicUpload(base, `bench/push-r${round}`, blob);
        const cpu = cpuOf() - c0;
        await verifyBlobHead(base, `bench/push-r${round}`, blob.digest, blob.size);
        return { value: blob.size / MiB / t.seconds, unit: 'MiB/s', cpuCost: cpu / gib(blob.size) };
      });
      await runCommand('sync', [], 120_000);
      return [sample];
    }
    case 'chunked': {
      const blob = freshen(b, tag);
      const sample = await one('chunked', async () => {
        const c0 = cpuOf();
        const t = await chunkedUpload(base, `bench/chunked-r${round}`, blob.data, blob.digest, Math.round(o.chunkMiB * MiB));
        const cpu = cpuOf() - c0;
        await verifyBlobHead(base, `bench/chunked-r${round}`, blob.digest, blob.size);
        return { value: blob.size / MiB / t.seconds, unit: 'MiB/s', cpuCost: cpu / gib(blob.size) };
      });
      await runCommand('sync', [], 120_000);
      return [sample];
    }
    case 'pull':
      return [
        await one('pull', async () => {
          const c0 = cpuOf();
          const seconds = await curlPull(`${base}/v2/bench/pull/blobs/${s.pullDigest}`, a.size);
          return { value: a.size / MiB / seconds, unit: 'MiB/s', cpuCost: (cpuOf() - c0) / gib(a.size) };
        }),
      ];
    case 'manifest': {
      const url = `${base}/v2/${s.image.repo}/manifests/latest`;
      const headers = { Accept: SCHEMA2 };
      const wrk = await one('manifest-wrk', async () => {
        const common = { url, headers, connections: o.connections, threads: o.threads, scriptDir: s.reg.dir };
        if (o.warmupS > 0) await runWrk({ ...common, durationS: o.warmupS });
        const c0 = cpuOf();
        const r = await runWrk({ ...common, durationS: o.durationS });
        const cpu = cpuOf() - c0;
        if (r.non2xx > 0) throw new Error(`wrk: ${r.non2xx} non-2xx responses`);
        return { value: r.rps, unit: 'req/s', p99Ms: r.latencyMs.p99, cpuCost: (cpu * 1e6) / r.requests };
      });
      const hey = await one('manifest-hey', () => heyMeasure(cpuOf, { url, headers, connections: o.connections, durationS: o.durationS }));
      return [wrk, hey];
    }
    case 'head':
      return [await one('head', () => heyMeasure(cpuOf, { url: `${base}/v2/${s.image.repo}/blobs/${s.image.layerDigest}`, method: 'HEAD', connections: o.connections, durationS: o.durationS }))];
    case 'close':
      return [
        await one('close', () =>
          heyMeasure(cpuOf, { url: `${base}/v2/${s.image.repo}/manifests/latest`, headers: { Accept: SCHEMA2 }, noKeepAlive: true, connections: o.connections, durationS: o.durationS }),
        ),
      ];
  }
}

async function heyMeasure(cpuOf: () => number, h: Parameters<typeof runHey>[0]): Promise<Omit<Sample, 'metric' | 'round' | 'registry' | 'ok'>> {
  const c0 = cpuOf();
  const r = await runHey(h);
  const cpu = cpuOf() - c0;
  const bad = r.requests - r.ok;
  if (bad > 0.001 * r.requests) throw new Error(`hey: ${bad} of ${r.requests} requests failed or were not 2xx (${JSON.stringify(r.statuses)}, ${r.errors} errors)`);
  return { value: r.rps, unit: 'req/s', p99Ms: r.p99Ms, cpuCost: (cpu * 1e6) / Math.max(1, r.ok) };
}

interface Row {
  name: string;
  unit: string;
  berth?: number;
  ref?: number;
  ratio?: number;
  /** Lowest per-round ratio (rounds where both measured). */
  minRatio?: number;
  berthP99?: number;
  refP99?: number;
  berthCpu?: number;
  refCpu?: number;
  limit?: string;
  target: string;
  met?: boolean;
  samples: string;
}

function fmt(v: number | undefined, digits = 0): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);
}

function summarize(samples: readonly Sample[], limits: readonly Limits[], o: WarmOptions): Row[] {
  const disk = median(limits.map((l) => l.diskMiBs));
  const rows: Row[] = [];
  for (const m of METRICS) {
    if (!o.only.includes(m.from)) continue;
    const of = (k: RegistryKey): Sample[] => samples.filter((s) => s.metric === m.metric && s.registry === k && s.ok);
    const med = (xs: Sample[], f: (s: Sample) => number | undefined): number | undefined => {
      const v = xs.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
      return v.length > 0 ? median(v) : undefined;
    };
    const bs = of('berth');
    const rs = of('ref');
    const berth = med(bs, (s) => s.value);
    const ref = med(rs, (s) => s.value);
    const ratio = berth !== undefined && ref !== undefined && ref > 0 ? berth / ref : undefined;
    const perRound = bs.flatMap((b) => {
      const r = rs.find((x) => x.round === b.round);
      return r?.value !== undefined && b.value !== undefined && r.value > 0 ? [b.value / r.value] : [];
    });
    const minRatio = perRound.length > 0 ? Math.min(...perRound) : undefined;
    const berthP99 = med(bs, (s) => s.p99Ms);
    const refP99 = med(rs, (s) => s.p99Ms);
    const berthCpu = med(bs, (s) => s.cpuCost);
    const refCpu = med(rs, (s) => s.cpuCost);
    const p99Ok = berthP99 !== undefined && refP99 !== undefined ? berthP99 <= refP99 / 3 : undefined;
    let target = '';
    let met: boolean | undefined;
    let limit: string | undefined;
    const unit = m.metric === 'push' || m.metric === 'chunked' || m.metric === 'pull' ? 'MiB/s' : 'req/s';
    switch (m.metric) {
      case 'push':
        limit = `disk ${fmt(disk)} MiB/s; Berth ${fmt(berth !== undefined ? (100 * berth) / disk : undefined)} %`;
        target = '≥ 90 % of disk';
        met = berth !== undefined ? berth >= 0.9 * disk : undefined;
        break;
      case 'chunked':
        limit = `disk ${fmt(disk)} MiB/s; Berth ${fmt(berth !== undefined ? (100 * berth) / disk : undefined)} %`;
        target = ref !== undefined && 2 * ref <= disk ? '≥ 85 % of disk, ≥ 2× ref' : '≥ 85 % of disk (2× ref > disk)';
        met = berth !== undefined ? berth >= 0.85 * disk && (ref === undefined || 2 * ref > disk || (ratio ?? 0) >= 2) : undefined;
        break;
      case 'pull':
        target = '≥ 1× every round, CPU/GiB ≤ ref';
        met = minRatio !== undefined && berthCpu !== undefined && refCpu !== undefined ? minRatio >= 1 && berthCpu <= refCpu : undefined;
        break;
      case 'manifest-wrk':
      case 'manifest-hey':
      case 'head':
        target = '≥ 5×, p99 ≤ ⅓';
        met = ratio !== undefined && p99Ok !== undefined ? ratio >= 5 && p99Ok : undefined;
        break;
      case 'close':
        target = '≥ 3×, p99 ≤ ⅓';
        met = ratio !== undefined && p99Ok !== undefined ? ratio >= 3 && p99Ok : undefined;
        break;
    }
    const list = (xs: Sample[]): string => xs.map((s) => fmt(s.value, unit === 'MiB/s' ? 0 : 0)).join(', ');
    rows.push({
      name: m.name,
      unit,
      ...(berth !== undefined ? { berth } : {}),
      ...(ref !== undefined ? { ref } : {}),
      ...(ratio !== undefined ? { ratio } : {}),
      ...(minRatio !== undefined ? { minRatio } : {}),
      ...(berthP99 !== undefined ? { berthP99 } : {}),
      ...(refP99 !== undefined ? { refP99 } : {}),
      ...(berthCpu !== undefined ? { berthCpu } : {}),
      ...(refCpu !== undefined ? { refCpu } : {}),
      ...(limit !== undefined ? { limit } : {}),
      target,
      ...(met !== undefined ? { met } : {}),
      samples: `${list(bs)} / ${list(rs)}`,
    });
  }
  return rows;
}

function render(rows: readonly Row[], rss: Record<string, RssReport | undefined>, limits: readonly Limits[], gc: GcCheck | undefined, o: WarmOptions): string {
  const out = [
    '| workload | Berth | reference | ratio (lowest round) | p99 ms Berth / ref | server CPU Berth / ref | machine limit | target | met |',
    '|---|---:|---:|---:|---:|---:|---|---|---|',
  ];
  for (const r of rows) {
    const cpuUnit = r.unit === 'MiB/s' ? 's/GiB' : 'µs/req';
    const cpuDigits = r.unit === 'MiB/s' ? 2 : 0;
    out.push(
      `| ${r.name} | ${fmt(r.berth)} ${r.unit} | ${fmt(r.ref)} ${r.unit} | ${r.ratio !== undefined ? `${r.ratio.toFixed(2)}× (${fmt(r.minRatio, 2)}×)` : 'n/a'} | ` +
        `${r.berthP99 !== undefined ? `${fmt(r.berthP99, 1)} / ${fmt(r.refP99, 1)}` : ''} | ${fmt(r.berthCpu, cpuDigits)} / ${fmt(r.refCpu, cpuDigits)} ${cpuUnit} | ${r.limit ?? ''} | ${r.target} | ${r.met === undefined ? 'n/a' : r.met ? 'yes' : '**no**'} |`,
    );
  }
  const b = rss['berth'];
  const ref = rss['ref'];
  out.push(
    `| peak RSS, whole run (VmHWM of the process tree) | ${fmt(b?.peakMiB, 1)} MiB | ${fmt(ref?.peakMiB, 1)} MiB | | | | | ≤ ${RSS_LIMIT_MIB} MiB | ${b === undefined ? 'n/a' : b.peakMiB <= RSS_LIMIT_MIB ? 'yes' : '**no**'} |`,
  );
  const lines = [out.join('\n'), ''];
  lines.push(
    `Machine limits (median of ${limits.length} rounds): disk ${fmt(median(limits.map((l) => l.diskMiBs)))} MiB/s (dd bs=1M count=${Math.round(o.sizeMiB)} conv=fdatasync in the storage's directory), ` +
      `sha256 ${fmt(median(limits.map((l) => l.hashMiBs)))} MiB/s per core. Per round: ${limits.map((l) => `r${l.round + 1} disk ${fmt(l.diskMiBs)} / sha256 ${fmt(l.hashMiBs)}`).join('; ')}.`,
    '',
    'Samples (Berth / reference, in round order):',
    ...rows.map((r) => `- ${r.name}: ${r.samples}`),
    '',
  );
  if (gc !== undefined) {
    lines.push(`GC regression check (${gc.command}): ${gc.verdict}`);
    for (const p of gc.pulls) lines.push(`- pull ${p.phase}: ${fmt(p.mibPerS)} MiB/s, ${fmt(p.cpuSPerGiB, 2)} CPU s/GiB, ${p.markCompacts} Mark-Compact, ${p.scavenges} Scavenge`);
    lines.push('');
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const o = parseWarmArgs(process.argv.slice(2), { berthCmd: defaultBerthCmd, out: join(repoRoot, 'bench', 'results', 'warm.json') });
  if (o.help) {
    process.stdout.write(WARM_USAGE);
    return 0;
  }
  await requireCommands(['curl', 'wrk', 'hey', 'dd', ...(o.pin ? ['taskset'] : [])], o.noRef ? [o.berthCmd] : [o.berthCmd, o.refCmd]);
  if (o.berthCmd === defaultBerthCmd) {
    const { existsSync } = await import('node:fs');
    if (!existsSync(berthMain)) throw new Error(`Berth is not built (${berthMain} missing): run \`npm run build\``);
  }
  const t0 = Date.now();
  const { workDir, cleanup } = benchWorkDir('berth-warm-', o);
  try {
    const serverPrefix = o.pin ? 'taskset -c 1 ' : '';
    if (o.pin) {
      const r = await runCommand('taskset', ['-pc', '0', String(process.pid)], 5000);
      if (r.code !== 0) throw new Error(`taskset failed: ${r.stderr}`);
    }
    const size = Math.round(o.sizeMiB * MiB);
    const a0 = generateBlob(join(workDir, 'a.bin'), size);
    const b0 = generateBlob(join(workDir, 'b.bin'), size);
    log(`work dir ${workDir}; blobs ${o.sizeMiB} MiB`);

    let gc: GcCheck | undefined;
    if (o.gcCheck && o.only.includes('pull')) {
      gc = await gcCheck(serverPrefix + withWorkers(o.berthCmd, o.berthWorkers), workDir, a0, b0, Math.round(o.chunkMiB * MiB));
      log(`GC check: ${gc.verdict}`);
    }

    const berthCmd = serverPrefix + withWorkers(o.berthCmd, o.berthWorkers);
    const servers: Server[] = [await setUp('berth', 'Berth', berthCmd, workDir, a0, o)];
    if (!o.noRef) servers.push(await setUp('ref', 'reference', serverPrefix + o.refCmd, workDir, a0, o));
    for (const s of servers) log(`${s.label}: pid ${s.reg.pid}, ${s.reg.base}`);
    const a = { ...a0 };
    const b = { ...b0 };

    const samples: Sample[] = [];
    const limits: Limits[] = [];
    let tag = 1;
    for (let round = 0; round < o.rounds; round++) {
      const l = { round, diskMiBs: await diskLimit(workDir, o.sizeMiB), hashMiBs: hashLimit() };
      limits.push(l);
      log(`[r${round + 1}] disk ${l.diskMiBs.toFixed(0)} MiB/s (fdatasync), sha256 ${l.hashMiBs.toFixed(0)} MiB/s per core`);
      for (const w of o.only) {
        for (const s of servers) {
          const got = await measure(s, w, round, a, b, o, tag++);
          for (const x of got) {
            x.hwmMiB = treeHwmMiB(s.reg.pid);
            samples.push(x);
            const cost = x.cpuCost === undefined ? '' : `, server CPU ${x.unit === 'MiB/s' ? `${x.cpuCost.toFixed(2)} s/GiB` : `${x.cpuCost.toFixed(0)} µs/req`}`;
            log(`[r${round + 1} ${x.metric}] ${s.label}: ${x.ok ? `${(x.value ?? 0).toFixed(0)} ${x.unit ?? ''}${x.p99Ms !== undefined ? `, p99 ${x.p99Ms.toFixed(1)} ms` : ''}${cost}` : `ERROR ${x.error ?? ''}`}; peak RSS so far ${(x.hwmMiB ?? 0).toFixed(0)} MiB; other processes ${((x.foreignCpu ?? 0) * 100).toFixed(0)}% CPU`);
          }
        }
      }
    }
    const rss: Record<string, RssReport | undefined> = {};
    for (const s of servers) {
      rss[s.key] = await stopRegistry(s.reg, o.keep);
    }
    const rows = summarize(samples, limits, o);
    const errors = samples.filter((s) => !s.ok);
    const foreign = samples.map((s) => s.foreignCpu ?? 0);
    const header = [
      `## Berth warm, interleaved benchmark — ${new Date().toISOString()}`,
      '',
      `One server per registry for the whole run, ${o.rounds} rounds (workloads in the same order, Berth then the reference), medians; blobs ${o.sizeMiB} MiB, PATCH ${o.chunkMiB} MiB, ` +
        `wrk/hey -c ${o.connections} ${o.durationS} s; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})${o.pin ? ', clients on CPU 0 and servers on CPU 1 (taskset)' : ', shared by clients and servers'}` +
        `${o.berthWorkers !== undefined ? `; Berth --workers ${o.berthWorkers}` : ''}. Other processes used median ${(median(foreign) * 100).toFixed(0)} %, max ${(Math.max(0, ...foreign) * 100).toFixed(0)} % of the CPU during the samples.`,
      '',
      '',
    ];
    const report = header.join('\n') + render(rows, rss, limits, gc, o) + (errors.length > 0 ? `\n${errors.length} failed measurement(s):\n${errors.map((e) => `- r${e.round + 1} ${e.metric} ${e.registry}: ${e.error ?? ''}`).join('\n')}\n` : '') + `\nTotal time ${((Date.now() - t0) / 1000).toFixed(0)} s.\n`;
    process.stdout.write(report);
    writeResults(o.out, {
      schema: 1,
      mode: 'warm-interleaved',
      finishedAt: new Date().toISOString(),
      machine: await machineInfo(o.noRef ? undefined : o.refCmd),
      options: o,
      commands: { berth: berthCmd, ref: o.noRef ? null : serverPrefix + o.refCmd },
      limits,
      rows,
      rss,
      gcCheck: gc ?? null,
      samples,
    });
    if (gc !== undefined && !gc.ok) return 4;
    return errors.length > 0 ? 2 : 0;
  } finally {
    cleanup();
  }
}

runEntry(main, killAllStarted);
