/**
 * bench/lib/report.ts — aggregate per-round samples into medians, compare
 * Berth with the reference against the issue's targets, and render the
 * markdown tables printed by bench/run.ts.
 */
import type { RssReport } from './rss.js';
import type { RegistryKey } from './registry.js';
import { maxOf, median, minOf } from './stats.js';
import type { Details, WorkloadName } from './workloads.js';

export interface Sample {
  workload: WorkloadName;
  round: number;
  registry: RegistryKey;
  label: string;
  ok: boolean;
  value?: number;
  unit?: string;
  p99Ms?: number;
  details?: Details;
  error?: string;
  startupMs?: number;
  rss?: RssReport;
  /** Share (0..1) of the machine's CPU used by unrelated processes during this sample. */
  foreignCpu?: number;
  /** Set when this sample is a re-measurement (see --max-other-cpu). */
  retries?: number;
}

export interface SummaryRow {
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

function pick(samples: readonly Sample[], w: WorkloadName, r: RegistryKey, f: (s: Sample) => number | undefined): number[] {
  return samples
    .filter((s) => s.workload === w && s.registry === r && s.ok)
    .map(f)
    .filter((v): v is number => v !== undefined && Number.isFinite(v));
}

function med(xs: readonly number[]): number | undefined {
  return xs.length > 0 ? median(xs) : undefined;
}

function ratioOf(b: number | undefined, r: number | undefined): number | undefined {
  return b !== undefined && r !== undefined && r > 0 ? b / r : undefined;
}

interface RowSpec {
  workload: WorkloadName;
  name: string;
  unit: string;
  get: (s: Sample) => number | undefined;
  target: string;
  met: (berth: number, ref: number, ratio: number) => boolean;
}

const ROWS: RowSpec[] = [
  { workload: 'push', name: 'monolithic push 512 MiB', unit: 'MiB/s', get: (s) => s.value, target: '≥ 1.5×', met: (_b, _r, x) => x >= 1.5 },
  { workload: 'chunked', name: 'chunked push (PATCH)', unit: 'MiB/s', get: (s) => s.value, target: '≥ 2×', met: (_b, _r, x) => x >= 2 },
  { workload: 'pull', name: 'pull', unit: 'MiB/s', get: (s) => s.value, target: '≥ 1×', met: (_b, _r, x) => x >= 1 },
  { workload: 'manifest', name: 'manifest GET rate', unit: 'req/s', get: (s) => s.value, target: '≥ 3×', met: (_b, _r, x) => x >= 3 },
  { workload: 'manifest', name: 'manifest GET p99', unit: 'ms', get: (s) => s.p99Ms, target: 'lower', met: (b, r) => b < r },
  { workload: 'head', name: 'blob HEAD rate', unit: 'req/s', get: (s) => s.value, target: '≥ 3×', met: (_b, _r, x) => x >= 3 },
  { workload: 'head', name: 'blob HEAD p99', unit: 'ms', get: (s) => s.p99Ms, target: 'lower', met: (b, r) => b < r },
];

export const RSS_LIMIT_MIB = 150;

export function summarize(samples: readonly Sample[], sizeMiB: number): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const spec of ROWS) {
    if (!samples.some((s) => s.workload === spec.workload)) continue;
    const bs = pick(samples, spec.workload, 'berth', spec.get);
    const rs = pick(samples, spec.workload, 'ref', spec.get);
    const b = med(bs);
    const r = med(rs);
    const ratio = ratioOf(b, r);
    rows.push({
      workload: spec.name.replace('512 MiB', `${sizeMiB} MiB`),
      unit: spec.unit,
      berth: b,
      ref: r,
      ratio,
      target: spec.target,
      met: b !== undefined && r !== undefined && ratio !== undefined ? spec.met(b, r, ratio) : undefined,
      berthSamples: bs,
      refSamples: rs,
    });
  }
  const peak = (k: RegistryKey): number[] =>
    samples.filter((s) => s.registry === k && s.rss !== undefined).map((s) => s.rss?.peakMiB ?? 0);
  const bp = peak('berth');
  const rp = peak('ref');
  const b = bp.length > 0 ? maxOf(bp) : undefined;
  const r = rp.length > 0 ? maxOf(rp) : undefined;
  rows.push({
    workload: 'peak RSS (max over all runs)',
    unit: 'MiB',
    berth: b,
    ref: r,
    ratio: ratioOf(b, r),
    target: `≤ ${RSS_LIMIT_MIB} MiB`,
    met: b !== undefined ? b <= RSS_LIMIT_MIB : undefined,
    berthSamples: bp,
    refSamples: rp,
  });
  return rows;
}

export function fmt(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  if (unit === 'req/s') return Math.round(v).toString();
  if (unit === 'ms') return v < 10 ? v.toFixed(2) : v.toFixed(1);
  return v.toFixed(1);
}

export function renderSummary(rows: readonly SummaryRow[], labels: { berth: string; ref: string }): string {
  const out = [
    `| workload | ${labels.berth} | ${labels.ref} | ratio ${labels.berth}/${labels.ref} | target | met? |`,
    '|---|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    const ratio = r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : 'n/a';
    const met = r.met === undefined ? 'n/a' : r.met ? 'yes' : '**no**';
    out.push(`| ${r.workload} (${r.unit}) | ${fmt(r.berth, r.unit)} | ${fmt(r.ref, r.unit)} | ${ratio} | ${r.target} | ${met} |`);
  }
  return out.join('\n');
}

/** Per-round values, min–max, so the noise is visible next to the medians. */
export function renderSamples(rows: readonly SummaryRow[], labels: { berth: string; ref: string }): string {
  const out = [`| workload | ${labels.berth} samples | ${labels.ref} samples |`, '|---|---|---|'];
  const cell = (xs: readonly number[], unit: string): string =>
    xs.length === 0 ? 'n/a' : `${xs.map((x) => fmt(x, unit)).join(', ')} (spread ${fmt(maxOf(xs) - minOf(xs), unit)})`;
  for (const r of rows) {
    if (r.unit === 'MiB' && r.workload.startsWith('peak RSS')) continue; // shown per workload below
    out.push(`| ${r.workload} (${r.unit}) | ${cell(r.berthSamples, r.unit)} | ${cell(r.refSamples, r.unit)} |`);
  }
  return out.join('\n');
}

/** Server CPU cost per unit of work (median over rounds) and peak RSS per workload. */
export function renderCpu(samples: readonly Sample[], labels: { berth: string; ref: string }): string {
  const out = [
    `| workload | ${labels.berth} server CPU | ${labels.ref} server CPU | ratio | ${labels.berth} peak RSS MiB | ${labels.ref} peak RSS MiB |`,
    '|---|---:|---:|---:|---:|---:|',
  ];
  const workloads = [...new Set(samples.map((s) => s.workload))];
  for (const w of workloads) {
    const cost = (k: RegistryKey): number | undefined =>
      med(pick(samples, w, k, (s) => (typeof s.details?.['cpuCost'] === 'number' ? s.details['cpuCost'] : undefined)));
    const rss = (k: RegistryKey): number | undefined => {
      const xs = samples.filter((s) => s.workload === w && s.registry === k && s.rss).map((s) => s.rss?.peakMiB ?? 0);
      return xs.length > 0 ? maxOf(xs) : undefined;
    };
    const unit = samples.find((s) => s.workload === w && typeof s.details?.['cpuCostUnit'] === 'string')?.details?.['cpuCostUnit'];
    const b = cost('berth');
    const r = cost('ref');
    const ratio = ratioOf(b, r);
    const c = (v: number | undefined): string => (v === undefined ? 'n/a' : v.toFixed(v < 10 ? 2 : 0));
    out.push(
      `| ${w} (${String(unit ?? '')}) | ${c(b)} | ${c(r)} | ${ratio !== undefined ? `${ratio.toFixed(2)}×` : 'n/a'} | ${fmt(rss('berth'), 'MiB')} | ${fmt(rss('ref'), 'MiB')} |`,
    );
  }
  return out.join('\n');
}

/** One line on how much CPU unrelated processes took while measuring (noise indicator). */
export function foreignNote(samples: readonly Sample[]): string {
  const xs = samples.map((s) => s.foreignCpu).filter((v): v is number => v !== undefined);
  if (xs.length === 0) return '';
  const busy = samples.filter((s) => (s.foreignCpu ?? 0) > 0.1);
  const list = busy.map((s) => `${s.workload} r${s.round + 1} ${s.label} ${((s.foreignCpu ?? 0) * 100).toFixed(0)}%`).join(', ');
  return (
    `Other processes on the machine used median ${(median(xs) * 100).toFixed(1)}%, max ${(maxOf(xs) * 100).toFixed(1)}% of its CPU during the measurements` +
    (busy.length > 0 ? `; samples above 10% (noisy): ${list}.` : '.')
  );
}
