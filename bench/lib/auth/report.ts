/**
 * bench/lib/auth/report.ts — samples of the authenticated benchmark, their medians over rounds,
 * the checks against the security issue's targets (authenticated ≥ 70 % of unauthenticated, a
 * lower p99 than the reference, htpasswd ≫ 100× the reference, wrong passwords slow and limited),
 * and the markdown tables bench/auth.ts prints.
 */
import { median } from '../stats.js';
import type { LoopResult } from './probes.js';
import type { AuthMode, Side } from './servers.js';

export interface AuthSample {
  side: Side;
  mode: AuthMode;
  label: string;
  round: number;
  ok: boolean;
  error?: string;
  rps?: number;
  p50Ms?: number;
  p99Ms?: number;
  requests?: number;
  non2xx?: number;
  socketErrors?: number;
  /** Server CPU (user+sys, whole process tree) per request during the timed part. */
  cpuUsPerRequest?: number;
  /** First request with the measured credentials (Basic: one bcrypt compare on a cold cache). */
  firstAuthMs?: number;
  /** Berth's token request (one bcrypt compare). */
  tokenMs?: number;
  startupMs?: number;
  /** wrk seconds of the measurement (longer than --duration for a server answering in waves). */
  durationS?: number;
  /** How long the server stayed busy after the warm-up (see bench/auth.ts settle). */
  settleMs?: number;
  peakRssMiB?: number;
  /** Share (0..1) of the machine's CPU used by unrelated processes during the sample. */
  foreignCpu?: number;
}

export interface WrongLoop {
  name: string;
  /** What the loop shows. */
  expect: string;
  result?: LoopResult;
  error?: string;
  /** Status of one request with the right password after the loop, if made. */
  afterRightPassword?: number;
}

export interface Check {
  name: string;
  value: string;
  target: string;
  met: boolean | undefined;
}

const MODES: readonly AuthMode[] = ['none', 'htpasswd', 'token'];
const MODE_NAMES: Readonly<Record<AuthMode, string>> = {
  none: 'no auth',
  htpasswd: 'htpasswd (Basic on every request)',
  token: 'token (Bearer)',
  limited: 'htpasswd + failedlogins limit',
};

export function medianOf(samples: readonly AuthSample[], side: Side, mode: AuthMode, f: (s: AuthSample) => number | undefined): number | undefined {
  const xs = samples
    .filter((s) => s.ok && s.side === side && s.mode === mode)
    .map(f)
    .filter((v): v is number => v !== undefined && Number.isFinite(v));
  return xs.length > 0 ? median(xs) : undefined;
}

function n(v: number | undefined, digits = 0): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);
}

function msText(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : v < 10 ? v.toFixed(2) : v.toFixed(0);
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

export function renderRates(samples: readonly AuthSample[], labels: Record<Side, string>): string {
  const out = [
    `| manifest GET | ${labels.berth} req/s | ${labels.berth} p99 ms | ${labels.ref} req/s | ${labels.ref} p99 ms | rate ${labels.berth}/${labels.ref} | p99 ${labels.berth}/${labels.ref} |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const mode of MODES) {
    const br = medianOf(samples, 'berth', mode, (s) => s.rps);
    const bp = medianOf(samples, 'berth', mode, (s) => s.p99Ms);
    const rr = medianOf(samples, 'ref', mode, (s) => s.rps);
    const rp = medianOf(samples, 'ref', mode, (s) => s.p99Ms);
    const x = ratio(br, rr);
    const y = ratio(bp, rp);
    out.push(
      `| ${MODE_NAMES[mode]} | ${n(br)} | ${msText(bp)} | ${n(rr, rr !== undefined && rr < 100 ? 1 : 0)} | ${msText(rp)} | ${x !== undefined ? `${x.toFixed(x < 10 ? 2 : 0)}×` : 'n/a'} | ${y !== undefined ? `${y.toFixed(3)}×` : 'n/a'} |`,
    );
  }
  return out.join('\n');
}

export function renderDetails(samples: readonly AuthSample[]): string {
  const out = [
    '| sample | wrk s | req/s | p50 ms | p99 ms | requests | non-2xx | socket errors | server CPU µs/req | first auth request ms | token request ms | peak RSS MiB | other processes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of samples) {
    if (!s.ok) {
      out.push(`| r${s.round + 1} ${s.label} ${s.mode} | ERROR: ${(s.error ?? '').split('\n')[0] ?? ''} | | | | | | | | | | | |`);
      continue;
    }
    out.push(
      `| r${s.round + 1} ${s.label} ${s.mode} | ${n(s.durationS)} | ${n(s.rps, s.rps !== undefined && s.rps < 100 ? 1 : 0)} | ${msText(s.p50Ms)} | ${msText(s.p99Ms)} | ${n(s.requests)} | ${n(s.non2xx)} | ${n(s.socketErrors)} | ${n(s.cpuUsPerRequest)} | ${msText(s.firstAuthMs)} | ${msText(s.tokenMs)} | ${n(s.peakRssMiB, 1)} | ${n((s.foreignCpu ?? Number.NaN) * 100)}% |`,
    );
  }
  return out.join('\n');
}

function statusText(r: LoopResult): string {
  return Object.entries(r.statuses)
    .map(([k, v]) => `${v}× ${k} (median ${msText(median(r.latencyMs[k] ?? []))} ms)`)
    .join(', ');
}

export function renderLoops(loops: readonly WrongLoop[]): string {
  const out = ['| wrong-password loop (sequential) | requests | req/s | answers | Retry-After | right password afterwards | shows |', '|---|---:|---:|---|---|---|---|'];
  for (const l of loops) {
    if (l.result === undefined) {
      out.push(`| ${l.name} | ERROR: ${(l.error ?? '').split('\n')[0] ?? ''} | | | | | ${l.expect} |`);
      continue;
    }
    const ra = [...new Set(l.result.retryAfter)].join(', ') || '—';
    const after = l.afterRightPassword !== undefined ? String(l.afterRightPassword) : '—';
    out.push(`| ${l.name} | ${l.result.requests} | ${l.result.rps.toFixed(1)} | ${statusText(l.result)} | ${ra} | ${after} | ${l.expect} |`);
  }
  return out.join('\n');
}

export interface CheckInputs {
  samples: readonly AuthSample[];
  berthWrong?: LoopResult;
  limited?: LoopResult;
  bcryptMs: number;
  limitBurst: number;
}

export function checks(c: CheckInputs): Check[] {
  const rate = (side: Side, mode: AuthMode): number | undefined => medianOf(c.samples, side, mode, (s) => s.rps);
  const p99 = (side: Side, mode: AuthMode): number | undefined => medianOf(c.samples, side, mode, (s) => s.p99Ms);
  const out: Check[] = [];
  const unauth = rate('berth', 'none');
  for (const mode of ['htpasswd', 'token'] as const) {
    const x = ratio(rate('berth', mode), unauth);
    out.push({ name: `Berth ${MODE_NAMES[mode]} / Berth no auth, rate`, value: x !== undefined ? `${(x * 100).toFixed(0)} %` : 'n/a', target: '≥ 70 %', met: x !== undefined ? x >= 0.7 : undefined });
  }
  // Less sensitive to the shared machine than the rates: the server's own CPU per request. When the
  // server is CPU-bound, ≥ 70 % of the rate means ≤ 1/0.7 ≈ 1.43× the CPU per request.
  const cpu = (mode: AuthMode): number | undefined => medianOf(c.samples, 'berth', mode, (s) => s.cpuUsPerRequest);
  for (const mode of ['htpasswd', 'token'] as const) {
    const x = ratio(cpu(mode), cpu('none'));
    out.push({
      name: `Berth ${MODE_NAMES[mode]} / Berth no auth, server CPU per request`,
      value: x !== undefined ? `${x.toFixed(2)}× (${n(cpu(mode))} vs ${n(cpu('none'))} µs)` : 'n/a',
      target: '≤ 1.43× (= ≥ 70 % when CPU-bound)',
      met: x !== undefined ? x <= 1 / 0.7 : undefined,
    });
  }
  const h = ratio(rate('berth', 'htpasswd'), rate('ref', 'htpasswd'));
  out.push({ name: 'Berth htpasswd / reference htpasswd, rate', value: h !== undefined ? `${h.toFixed(0)}×` : 'n/a', target: '≫ 100× (issue)', met: h !== undefined ? h >= 100 : undefined });
  const t = ratio(rate('berth', 'token'), rate('ref', 'token'));
  out.push({ name: 'Berth token / reference token, rate', value: t !== undefined ? `${t.toFixed(2)}×` : 'n/a', target: '(information)', met: undefined });
  for (const mode of ['htpasswd', 'token'] as const) {
    const b = p99('berth', mode);
    const r = p99('ref', mode);
    out.push({
      name: `p99 ${MODE_NAMES[mode]}: Berth vs reference`,
      value: `${msText(b)} ms vs ${msText(r)} ms`,
      target: 'lower',
      met: b !== undefined && r !== undefined ? b < r : undefined,
    });
  }
  if (c.berthWrong !== undefined) {
    const lat = median(c.berthWrong.latencyMs['401'] ?? []);
    const all401 = (c.berthWrong.statuses['401'] ?? 0) === c.berthWrong.requests;
    out.push({
      name: 'Berth wrong password: every answer 401, each ≥ ½ bcrypt compare',
      value: `${c.berthWrong.rps.toFixed(1)} req/s, median ${msText(lat)} ms (one compare here: ${msText(c.bcryptMs)} ms)`,
      target: 'slow',
      met: all401 && lat >= 0.5 * c.bcryptMs,
    });
  }
  if (c.limited !== undefined) {
    const n429 = c.limited.statuses['429'] ?? 0;
    const n401 = c.limited.statuses['401'] ?? 0;
    out.push({
      name: `Berth wrong password with failedlogins {burst ${c.limitBurst}}: 429s`,
      value: `${n401}× 401, ${n429}× 429`,
      target: `401 × ${c.limitBurst}, then 429`,
      met: n401 === c.limitBurst && n429 === c.limited.requests - c.limitBurst,
    });
  }
  return out;
}

export function renderChecks(list: readonly Check[]): string {
  const out = ['| check | value | target | met? |', '|---|---|---|---|'];
  for (const c of list) out.push(`| ${c.name} | ${c.value} | ${c.target} | ${c.met === undefined ? '—' : c.met ? 'yes' : '**no**'} |`);
  return out.join('\n');
}
