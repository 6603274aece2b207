/**
 * bench/lib/limits.ts — the machine's own limits, measured in the same run as the registries so
 * that push rates can be read against them:
 *   - disk: `dd if=/dev/zero of=<dir>/… bs=1M count=N conv=fdatasync` in the storage's directory
 *     (Berth fdatasyncs what it stores, so this is the ceiling of a durable push);
 *   - hash: sha256 over an in-memory buffer on one core (Berth hashes every pushed byte once).
 */
import { createHash, randomFillSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './exec.js';

const MiB = 1024 * 1024;

/** MiB/s of a `dd … conv=fdatasync` of `sizeMiB` into `dir` (the file is removed afterwards). */
export async function diskLimit(dir: string, sizeMiB: number): Promise<number> {
  const file = join(dir, `dd-limit-${process.pid}.bin`);
  try {
    const t0 = process.hrtime.bigint();
    const r = await runCommand('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${Math.max(1, Math.round(sizeMiB))}`, 'conv=fdatasync'], 600_000);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.timedOut || r.code !== 0) throw new Error(`dd failed (code ${String(r.code)}): ${r.stderr}`);
    return Math.round(sizeMiB) / seconds;
  } finally {
    rmSync(file, { force: true });
  }
}

let hashInput: Buffer | undefined;

/** MiB/s of sha256 on this (one) core over a 64 MiB buffer, best of 3. */
export function hashLimit(): number {
  hashInput ??= randomFillSync(Buffer.allocUnsafe(64 * MiB));
  let best = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    createHash('sha256').update(hashInput).digest();
    best = Math.max(best, 64 / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return best;
}
