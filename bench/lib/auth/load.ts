/**
 * bench/lib/auth/load.ts — wrk for the authenticated benchmark, parsed by lib/wrk.ts's parseWrk.
 * It differs from lib/wrk.ts's runWrk in two ways the reference's htpasswd mode needs: the
 * per-request `--timeout` is long (default 30 s; at 50 connections one bcrypt per request queues
 * requests for seconds, and a request wrk drops at 5 s would vanish from the latency percentiles),
 * and a warm-up that completes no request is not an error. The process is still killed 20 s past
 * its duration.
 */
import { runCommand } from '../exec.js';
import { parseWrk, type WrkResult } from '../wrk.js';

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly threads: number;
  readonly durationS: number;
  readonly headers: Readonly<Record<string, string>>;
  /** wrk --timeout in seconds (default 30). */
  readonly timeoutS?: number;
  /** Accept a run that completed no request (warm-ups). */
  readonly allowEmpty?: boolean;
}

export async function runLoad(o: LoadOptions): Promise<WrkResult> {
  const args = ['-c', String(o.connections), '-t', String(o.threads), '-d', `${o.durationS}s`, '--latency', '--timeout', `${o.timeoutS ?? 30}s`];
  for (const [k, v] of Object.entries(o.headers)) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  const r = await runCommand('wrk', args, (o.durationS + 20) * 1000);
  if (r.timedOut) throw new Error(`wrk did not finish in ${o.durationS + 20} s`);
  if (r.code !== 0) throw new Error(`wrk failed (code ${String(r.code)}): ${r.stderr}${r.stdout}`);
  const res = parseWrk(r.stdout);
  if (res.requests === 0 && o.allowEmpty !== true) throw new Error(`wrk completed no requests in ${o.durationS} s:\n${r.stdout}`);
  return res;
}
