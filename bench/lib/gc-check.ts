/**
 * bench/lib/gc-check.ts — the test-free regression check for issue 10's lead: a pull must not make
 * V8 collect garbage, before or after a chunked push. One Berth process (the run's command with
 * `--trace-gc` added after `node`, fresh storage) gets: a monolithic push of blob A, two pulls,
 * a chunked push of blob B (5 MiB PATCHes), two more pulls. For each pull the Mark-Compact and
 * Scavenge lines of its trace and the server CPU per GiB are counted. It fails when a pull after
 * the chunked push runs more than {@link MAX_MARK_COMPACTS_PER_PULL} Mark-Compacts or costs more
 * than 1.5× (+0.15 s/GiB, +2 clock ticks) the CPU of the fresh pulls. Before the fix: 7–19 Mark-Compacts per
 * pull after a chunked push, 1.0–1.4 s/GiB against 0.4.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobFile } from './blob.js';
import { processCpuSeconds, ticksPerSecond } from './cpu.js';
import { configYaml, launchRegistry, stopRegistry, type RunningRegistry } from './registry.js';
import { processTree } from './rss.js';
import { chunkedUpload, curlPull, MiB, monolithicUpload } from './workloads.js';

export const MAX_MARK_COMPACTS_PER_PULL = 1;

export interface PullGc {
  phase: 'fresh' | 'after chunked push';
  mibPerS: number;
  cpuSPerGiB: number;
  markCompacts: number;
  scavenges: number;
}

export interface GcCheck {
  ok: boolean;
  skipped?: string;
  command: string;
  pulls: PullGc[];
  verdict: string;
}

/** `node …` → `node --trace-gc …`; undefined when the command does not start with node. */
export function withTraceGc(cmd: string): string | undefined {
  const m = /^(\s*(?:\S*\/)?node)(\s.*)$/.exec(cmd);
  return m?.[1] !== undefined && m[2] !== undefined ? `${m[1]} --trace-gc${m[2]}` : undefined;
}

export async function gcCheck(berthCmd: string, workDir: string, a: BlobFile, b: BlobFile, chunkBytes: number): Promise<GcCheck> {
  const command = withTraceGc(berthCmd);
  if (command === undefined) return { ok: true, skipped: 'the Berth command does not start with node', command: berthCmd, pulls: [], verdict: 'skipped' };
  const dir = mkdtempSync(join(workDir, 'gc-check-'));
  const storage = join(dir, 'storage');
  mkdirSync(storage);
  let reg: RunningRegistry | undefined;
  try {
    const launched = await launchRegistry({ label: 'Berth (--trace-gc)', cmd: command, dir, config: (port) => configYaml(storage, port, 'warn', []), readyTimeoutMs: 30_000 });
    reg = { spec: { key: 'berth', label: 'Berth (--trace-gc)', cmd: command, extraStorage: [], logLevel: 'warn' }, dir, storage, ...launched };
    const running = reg;
    const count = (word: string): number => (readFileSync(running.logPath, 'utf8').match(new RegExp(word, 'g')) ?? []).length;
    const cpu = (): number => processTree(running.pid).reduce((s, p) => s + (processCpuSeconds(p) || 0), 0);
    await monolithicUpload(running.base, 'gc/a', a);
    const url = `${running.base}/v2/gc/a/blobs/${a.digest}`;
    const pulls: PullGc[] = [];
    const pull = async (phase: PullGc['phase']): Promise<void> => {
      const m0 = count('Mark-Compact');
      const s0 = count('Scavenge');
      const c0 = cpu();
      const seconds = await curlPull(url, a.size);
      pulls.push({
        phase,
        mibPerS: a.size / MiB / seconds,
        cpuSPerGiB: (cpu() - c0) / (a.size / (1024 * MiB)),
        markCompacts: count('Mark-Compact') - m0,
        scavenges: count('Scavenge') - s0,
      });
    };
    await pull('fresh');
    await pull('fresh');
    await chunkedUpload(running.base, 'gc/b', b.data, b.digest, chunkBytes);
    await pull('after chunked push');
    await pull('after chunked push');
    const fresh = pulls.filter((p) => p.phase === 'fresh');
    const later = pulls.filter((p) => p.phase !== 'fresh');
    const freshCpu = Math.min(...fresh.map((p) => p.cpuSPerGiB));
    const worstMc = Math.max(...later.map((p) => p.markCompacts));
    const worstCpu = Math.max(...later.map((p) => p.cpuSPerGiB));
    // CPU time comes in clock ticks: allow two ticks of rounding on top of the relative margin.
    const tickPerGiB = 2 / ticksPerSecond() / (a.size / (1024 * MiB));
    const cpuLimit = Math.max(1.5 * freshCpu, freshCpu + 0.15) + tickPerGiB;
    const ok = worstMc <= MAX_MARK_COMPACTS_PER_PULL && worstCpu <= cpuLimit;
    const verdict =
      `${ok ? 'PASS' : 'REGRESSION'}: pulls after a chunked push ran at most ${worstMc} Mark-Compact(s) (limit ${MAX_MARK_COMPACTS_PER_PULL}) ` +
      `and ${worstCpu.toFixed(2)} CPU s/GiB (limit ${cpuLimit.toFixed(2)}, fresh ${freshCpu.toFixed(2)})`;
    return { ok, command, pulls, verdict };
  } finally {
    if (reg) await stopRegistry(reg, true);
    rmSync(dir, { recursive: true, force: true });
  }
}
