/**
 * bench/lib/cpu.ts — CPU accounting from /proc, to make the shared 2-core
 * machine's noise visible:
 *   - processCpuSeconds(pid): utime+stime of a live process (the server),
 *     used to report server CPU cost per GiB or per request;
 *   - ForeignCpu: CPU used by processes that are NOT this benchmark, its
 *     children (curl, wrk) or the server it started, over an interval:
 *     Δ(machine busy ticks in /proc/stat) − Δ(self + reaped children ticks in
 *     /proc/self/stat). Only valid when all children are reaped at both ends.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

let clkTck: number | undefined;

export function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Fields of /proc/<pid>/stat after the "(comm)" part, 0-based from field 3 (state). */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime+stime of a process in seconds (NaN if it is gone). */
export function processCpuSeconds(pid: number): number {
  const f = statFields(pid);
  if (!f) return Number.NaN;
  // field 14 utime, 15 stime → indices 11, 12 here
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
}

function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest is inside user).
  // irq/softirq are left out: loopback traffic of our own processes lands there.
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = v;
  return user + nice + system + steal;
}

function ownTicks(): number {
  const f = statFields('self');
  if (!f) return 0;
  // utime, stime, cutime, cstime = fields 14..17 → indices 11..14
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
}

export class ForeignCpu {
  private readonly busy0 = machineBusyTicks();
  private readonly own0 = ownTicks();
  private readonly t0 = process.hrtime.bigint();

  /** Share (0..1) of the machine's total CPU capacity used by other processes since construction. */
  share(): number {
    const wall = Number(process.hrtime.bigint() - this.t0) / 1e9;
    const foreign = machineBusyTicks() - this.busy0 - (ownTicks() - this.own0);
    const capacity = wall * ticksPerSecond() * cpus().length;
    return capacity > 0 ? Math.max(0, foreign / capacity) : 0;
  }
}
