/**
 * What both benchmark entry points (run.ts: filesystem; objectstore.ts: S3/Swift) share: where the
 * repository and the built Berth are, the command Berth is started with, stderr progress lines, a
 * check that the commands a run needs exist, and a tool's version line for the report header.
 */
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
