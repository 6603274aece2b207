/**
 * bench/lib/hey.ts — run `hey` (bounded: killed 30 s past its duration) and parse its summary:
 * total seconds, responses per status code, errors, latency percentiles. The rate reported is
 * successful (2xx) responses per second, so refused or failed requests never count as work.
 */
import { runCommand } from './exec.js';

export interface HeyResult {
  rps: number;
  requests: number;
  ok: number;
  seconds: number;
  errors: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  statuses: Record<string, number>;
  raw: string;
}

export interface HeyOptions {
  url: string;
  connections: number;
  durationS: number;
  method?: string;
  headers?: Record<string, string>;
  /** hey -disable-keepalive: a new connection per request (Connection: close). */
  noKeepAlive?: boolean;
}

export function parseHey(text: string): HeyResult {
  const total = /Total:\s+([\d.]+) secs/.exec(text);
  if (total?.[1] === undefined) throw new Error(`hey output has no total:\n${text}`);
  const seconds = Number(total[1]);
  const statuses: Record<string, number> = {};
  for (const m of text.matchAll(/^\s*\[(\d{3})\]\s+(\d+) responses/gm)) statuses[m[1] ?? '?'] = Number(m[2]);
  let errors = 0;
  const errorPart = text.split('Error distribution:')[1] ?? '';
  for (const m of errorPart.matchAll(/^\s*\[(\d+)\]\s/gm)) errors += Number(m[1]);
  const pct = (p: number): number => {
    const m = new RegExp(`^\\s*${p}% in ([\\d.]+) secs`, 'm').exec(text);
    return m?.[1] !== undefined ? Number(m[1]) * 1000 : Number.NaN;
  };
  const ok = Object.entries(statuses).filter(([s]) => s.startsWith('2')).reduce((n, [, v]) => n + v, 0);
  const requests = Object.values(statuses).reduce((n, v) => n + v, 0) + errors;
  return { rps: seconds > 0 ? ok / seconds : 0, requests, ok, seconds, errors, p50Ms: pct(50), p90Ms: pct(90), p99Ms: pct(99), statuses, raw: text };
}

export async function runHey(o: HeyOptions): Promise<HeyResult> {
  const args = ['-z', `${o.durationS}s`, '-c', String(o.connections), '-m', o.method ?? 'GET'];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  if (o.noKeepAlive === true) args.push('-disable-keepalive');
  args.push(o.url);
  const r = await runCommand('hey', args, (o.durationS + 30) * 1000);
  if (r.timedOut) throw new Error(`hey did not finish in ${o.durationS + 30} s`);
  if (r.code !== 0) throw new Error(`hey failed (code ${String(r.code)}): ${r.stderr}${r.stdout}`);
  const res = parseHey(r.stdout);
  if (res.ok === 0) throw new Error(`hey got no 2xx responses:\n${r.stdout}`);
  return res;
}
