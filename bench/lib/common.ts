/**
 * What the benchmark entry points (run.ts, warm.ts, auth.ts, objectstore.ts) share: where the
 * repository and the built Berth are, the command Berth is started with, stderr progress lines, a
 * check that the commands a run needs exist, a tool's version line and the machine description for
 * the result file, writing that file, and how an entry exits.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveCommand, runCommand } from './exec.js';

/** Compiled to <repo>/dist/bench/lib/common.js: the repository root is three levels up. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const berthMain = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
/**
 * Plain `node main.js serve`, as a new user would start it: Berth bounds its heap in-process
 * (src/cli/heap-settings.ts), so no launcher V8 flag is needed or assumed.
 */
export const defaultBerthCmd = `node ${berthMain} serve {config}`;

export function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

export function firstWord(cmd: string): string {
  return cmd.trim().split(/\s+/)[0] ?? '';
}

/** Throws naming every missing tool or server command (env assignments are skipped). */
export async function requireCommands(tools: readonly string[], commands: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const tool of tools) if (!(await haveCommand(tool))) missing.push(tool);
  for (const cmd of commands) {
    const w = firstWord(cmd);
    if (w !== '' && !w.includes('=') && !(await haveCommand(w))) missing.push(w);
  }
  if (missing.length > 0) throw new Error(`missing commands: ${[...new Set(missing)].join(', ')} — run bench/setup.sh`);
}

/** First line of `cmd args` output, or 'unknown'. */
export async function versionOf(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await runCommand(cmd, args, 5000);
    return (r.stdout || r.stderr).split('\n')[0]?.trim() ?? '';
  } catch {
    return 'unknown';
  }
}

/** The machine a result file was measured on; `refCmd` undefined: no reference ran. */
export async function machineInfo(refCmd: string | undefined): Promise<Record<string, unknown>> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '',
    totalMemMiB: Math.round(totalmem() / (1024 * 1024)),
    kernel: release(),
    node: process.version,
    wrk: await versionOf('wrk', ['--version']),
    reference: refCmd === undefined ? null : await versionOf(firstWord(refCmd), ['--version']),
  };
}

/** Writes a result file as indented JSON (creating its directory) and says where. */
export function writeResults(path: string, result: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  log(`results written to ${path}`);
}

/** Runs an entry's main: exits with its code; on a crash kills what it started, logs, exits 1. */
export function runEntry(main: () => Promise<number>, killStarted: () => void): void {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      killStarted();
      log(e instanceof Error ? (e.stack ?? e.message) : String(e));
      process.exit(1);
    },
  );
}
