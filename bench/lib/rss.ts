/**
 * bench/lib/rss.ts — memory sampling for a server process (and any children
 * it forks, e.g. cluster workers) from /proc. Two numbers are kept:
 *   - VmHWM ("high water mark", the kernel's own peak RSS) of every process
 *     in the tree, read at each sample and at the end;
 *   - the largest sampled sum of VmRSS over the tree.
 * For a single process VmHWM is exact; for a tree the peak reported is the
 * larger of the two (sum of HWMs is an upper bound, sampled sum a lower one).
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface RssReport {
  /** Sum over the process tree of each process's VmHWM (KiB). */
  hwmKiB: number;
  /** Largest sampled sum of VmRSS over the tree (KiB). */
  sampledMaxKiB: number;
  /** Number of distinct PIDs seen in the tree. */
  processes: number;
  /** max(hwmKiB, sampledMaxKiB) in MiB. */
  peakMiB: number;
}

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/** `pid` and all its descendants, via /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const seen: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    if (p === undefined || seen.includes(p)) continue;
    seen.push(p);
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const kids = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim();
        if (kids.length > 0) for (const k of kids.split(/\s+/)) stack.push(Number(k));
      } catch {
        /* thread exited */
      }
    }
  }
  return seen;
}

export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly hwm = new Map<number, number>();
  private sampledMax = 0;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Takes one sample now (also called by the interval). */
  sample(): void {
    let sum = 0;
    for (const p of processTree(this.pid)) {
      const rss = statusField(p, 'VmRSS');
      const hwm = statusField(p, 'VmHWM');
      if (rss !== undefined) sum += rss;
      if (hwm !== undefined) this.hwm.set(p, Math.max(this.hwm.get(p) ?? 0, hwm));
    }
    this.sampledMax = Math.max(this.sampledMax, sum);
  }

  /** Final sample (call before the process is signalled) and report. */
  stop(): RssReport {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    let hwmKiB = 0;
    for (const v of this.hwm.values()) hwmKiB += v;
    return {
      hwmKiB,
      sampledMaxKiB: this.sampledMax,
      processes: this.hwm.size,
      peakMiB: Math.max(hwmKiB, this.sampledMax) / 1024,
    };
  }
}
