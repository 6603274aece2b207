/**
 * bench/lib/objectstore/report.ts — medians per backend and workload for the object-store
 * benchmark, ratios Berth/reference against the targets (push ≥ 1.5×, pull and manifest
 * rate ≥ 1×, each backend), and the markdown tables bench/objectstore.ts prints: summary,
 * per-round samples with spread, and CPU (server and Swift, per GiB or per request).
 */
import { fmt } from '../report.js';
import type { RssReport } from '../rss.js';
import { maxOf, median, minOf } from '../stats.js';
import type { Details } from '../workloads.js';
import type { Backend, ObjectStoreWorkload } from './args.js';

export type ServerKey = 'berth' | 'ref';

export interface ObjectStoreSample {
  backend: Backend;
  workload: ObjectStoreWorkload;
  round: number;
  registry: ServerKey;
  label: string;
  ok: boolean;
  value?: number;
  unit?: string;
  p99Ms?: number;
  details?: Details;
  error?: string;
  startupMs?: number;
  rss?: RssReport;
  /** CPU seconds Swift's processes used during the timed part. */
  swiftCpuS?: number;
  /** Share (0..1) of the machine's CPU used by processes other than ours and Swift's. */
  otherCpu?: number;
  retries?: number;
}

export interface ObjectStoreRow {
  backend: Backend;
  workload: string;
  unit: string;
  berth: number | undefined;
  ref: number | undefined;
  ratio: number | undefined;
  target: string;
  met: boolean | undefined;
  berthSamples: number[];
  refSamples: number[];
}

interface RowSpec {
  workload: ObjectStoreWorkload;
  name: string;
  unit: string;
  get: (s: ObjectStoreSample) => number | undefined;
  target: string;
  met: ((ratio: number) => boolean) | undefined;
}

/** The targets of the object-storage performance issue (13), per backend. */
function rowSpecs(backend: Backend, sizeMiB: number, chunkMiB: number): RowSpec[] {
  const cpu = (s: ObjectStoreSample): number | undefined => (typeof s.details?.['cpuCost'] === 'number' ? s.details['cpuCost'] : undefined);
  const pullTarget = backend === 's3' ? 1.2 : 1;
  return [
    { workload: 'push', name: `monolithic push ${sizeMiB} MiB`, unit: 'MiB/s', get: (s) => s.value, target: '≥ 1.5×', met: (x) => x >= 1.5 },
    ...(backend === 'swift'
      ? [{ workload: 'push' as const, name: 'monolithic push: server CPU', unit: 's/GiB', get: cpu, target: '≤ 1× (≤ the reference)', met: (x: number) => x <= 1 }]
      : []),
    { workload: 'chunked', name: `chunked push (${chunkMiB} MiB PATCHes)`, unit: 'MiB/s', get: (s) => s.value, target: '≥ 1.5×', met: (x) => x >= 1.5 },
    { workload: 'pull', name: `pull ${sizeMiB} MiB`, unit: 'MiB/s', get: (s) => s.value, target: `≥ ${pullTarget}×`, met: (x) => x >= pullTarget },
    { workload: 'manifest', name: 'manifest GET rate', unit: 'req/s', get: (s) => s.value, target: '≥ 10×', met: (x) => x >= 10 },
    { workload: 'manifest', name: 'manifest GET p99', unit: 'ms', get: (s) => s.p99Ms, target: '(info)', met: undefined },
  ];
}

/** Largest peak RSS per Berth process the issue allows on these runs. */
export const RSS_LIMIT_MIB = 128;

function pick(samples: readonly ObjectStoreSample[], backend: Backend, w: ObjectStoreWorkload, r: ServerKey, f: (s: ObjectStoreSample) => number | undefined): number[] {
  return samples
    .filter((s) => s.backend === backend && s.workload === w && s.registry === r && s.ok)
    .map(f)
    .filter((v): v is number => v !== undefined && Number.isFinite(v));
}

function med(xs: readonly number[]): number | undefined {
  return xs.length > 0 ? median(xs) : undefined;
}

/**
 * Summary rows per backend. `ceiling` (a direct curl PUT of the blob to the Swift proxy, same
 * run) adds the swift push row against it: Berth's push must reach 85 % of it.
 */
export function summarizeObjectStore(
  samples: readonly ObjectStoreSample[],
  backends: readonly Backend[],
  sizeMiB: number,
  chunkMiB: number,
  ceiling?: { readonly put: number; readonly get: number },
): ObjectStoreRow[] {
  const rows: ObjectStoreRow[] = [];
  for (const backend of backends) {
    const pushes = pick(samples, backend, 'push', 'berth', (s) => s.value);
    if (backend === 'swift' && ceiling !== undefined && pushes.length > 0) {
      const b = med(pushes);
      rows.push({
        backend,
        workload: `monolithic push vs direct curl -T PUT to Swift (Berth, curl)`,
        unit: 'MiB/s',
        berth: b,
        ref: ceiling.put,
        ratio: b !== undefined && ceiling.put > 0 ? b / ceiling.put : undefined,
        target: '≥ 0.85×',
        met: b !== undefined && ceiling.put > 0 ? b / ceiling.put >= 0.85 : undefined,
        berthSamples: pushes,
        refSamples: [ceiling.put],
      });
    }
    for (const spec of rowSpecs(backend, sizeMiB, chunkMiB)) {
      if (!samples.some((s) => s.backend === backend && s.workload === spec.workload)) continue;
      const bs = pick(samples, backend, spec.workload, 'berth', spec.get);
      const rs = pick(samples, backend, spec.workload, 'ref', spec.get);
      const b = med(bs);
      const r = med(rs);
      const ratio = b !== undefined && r !== undefined && r > 0 ? b / r : undefined;
      rows.push({
        backend,
        workload: spec.name,
        unit: spec.unit,
        berth: b,
        ref: r,
        ratio,
        target: spec.target,
        met: ratio !== undefined && spec.met !== undefined ? spec.met(ratio) : undefined,
        berthSamples: bs,
        refSamples: rs,
      });
    }
    const peak = (k: ServerKey): number | undefined => {
      const xs = samples.filter((s) => s.backend === backend && s.registry === k && s.rss !== undefined).map((s) => s.rss?.peakMiB ?? 0);
      return xs.length > 0 ? maxOf(xs) : undefined;
    };
    const b = peak('berth');
    const r = peak('ref');
    rows.push({
      backend,
      workload: 'peak RSS (max over runs)',
      unit: 'MiB',
      berth: b,
      ref: r,
      ratio: b !== undefined && r !== undefined && r > 0 ? b / r : undefined,
      target: `Berth ≤ ${RSS_LIMIT_MIB} MiB`,
      met: b !== undefined ? b <= RSS_LIMIT_MIB : undefined,
      berthSamples: [],
      refSamples: [],
    });
  }
  return rows;
}

export function renderObjectStoreSummary(rows: readonly ObjectStoreRow[]): string {
  const out = ['| backend | workload | Berth | reference | ratio Berth/ref | target | met? |', '|---|---|---:|---:|---:|---|---|'];
  for (const r of rows) {
    const ratio = r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : 'n/a';
    const met = r.met === undefined ? (r.target === '(info)' ? '' : 'n/a') : r.met ? 'yes' : '**no**';
    out.push(`| ${r.backend} | ${r.workload} (${r.unit}) | ${fmt(r.berth, r.unit)} | ${fmt(r.ref, r.unit)} | ${ratio} | ${r.target} | ${met} |`);
  }
  return out.join('\n');
}

export function renderObjectStoreSamples(rows: readonly ObjectStoreRow[]): string {
  const out = ['| backend | workload | Berth samples | reference samples |', '|---|---|---|---|'];
  const cell = (xs: readonly number[], unit: string): string =>
    xs.length === 0 ? 'n/a' : `${xs.map((x) => fmt(x, unit)).join(', ')} (spread ${fmt(maxOf(xs) - minOf(xs), unit)})`;
  for (const r of rows) {
    if (r.unit === 'MiB') continue;
    out.push(`| ${r.backend} | ${r.workload} (${r.unit}) | ${cell(r.berthSamples, r.unit)} | ${cell(r.refSamples, r.unit)} |`);
  }
  return out.join('\n');
}

/** Server CPU and Swift CPU per unit of work (medians), peak RSS, other-process CPU (max). */
export function renderObjectStoreCpu(samples: readonly ObjectStoreSample[], backends: readonly Backend[]): string {
  const out = [
    '| backend | workload | unit | Berth CPU | ref CPU | Swift CPU under Berth | Swift CPU under ref | Berth peak RSS MiB | ref peak RSS MiB | max other CPU |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const c = (v: number | undefined): string => (v === undefined ? 'n/a' : v.toFixed(v < 10 ? 2 : 0));
  for (const backend of backends) {
    for (const w of [...new Set(samples.filter((s) => s.backend === backend).map((s) => s.workload))]) {
      const mine = samples.filter((s) => s.backend === backend && s.workload === w);
      const unit = mine.find((s) => typeof s.details?.['cpuCostUnit'] === 'string')?.details?.['cpuCostUnit'];
      const perUnit = (s: ObjectStoreSample): number | undefined => {
        const server = s.details?.['serverCpuS'];
        const cost = s.details?.['cpuCost'];
        if (s.swiftCpuS === undefined || typeof server !== 'number' || typeof cost !== 'number' || server <= 0) return undefined;
        // Same unit as the server's cost: scale Swift's seconds by the server's cost/seconds.
        return (s.swiftCpuS * cost) / server;
      };
      const cost = (k: ServerKey): number | undefined =>
        med(pick(samples, backend, w, k, (s) => (typeof s.details?.['cpuCost'] === 'number' ? s.details['cpuCost'] : undefined)));
      const swift = (k: ServerKey): number | undefined => med(pick(samples, backend, w, k, perUnit));
      const rss = (k: ServerKey): number | undefined => {
        const xs = mine.filter((s) => s.registry === k && s.rss).map((s) => s.rss?.peakMiB ?? 0);
        return xs.length > 0 ? maxOf(xs) : undefined;
      };
      const other = maxOf(mine.map((s) => s.otherCpu ?? 0));
      out.push(
        `| ${backend} | ${w} | ${String(unit ?? '')} | ${c(cost('berth'))} | ${c(cost('ref'))} | ${c(swift('berth'))} | ${c(swift('ref'))} | ${fmt(rss('berth'), 'MiB')} | ${fmt(rss('ref'), 'MiB')} | ${(other * 100).toFixed(0)}% |`,
      );
    }
  }
  return out.join('\n');
}
