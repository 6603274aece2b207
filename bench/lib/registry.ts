/**
 * bench/lib/registry.ts — start and stop a registry server (Berth or the
 * reference `docker-registry`) on a free loopback port with a fresh temp
 * storage directory and a distribution-format config file.
 *
 * The command is a shell template; `{config}` is replaced by the (quoted)
 * config path, or the path is appended when the template has no `{config}`.
 * It runs as `/bin/sh -c 'exec <cmd>'`, so the PID we hold is the server's
 * own (needed for RSS and for killing it by PID). REGISTRY_HTTP_ADDR is set
 * to 127.0.0.1:<port> in its environment (both servers honour it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from './common.js';
import { shellQuote, sleep } from './exec.js';
import { RssSampler, type RssReport } from './rss.js';

export type RegistryKey = 'berth' | 'ref' | 'calib';

export interface RegistrySpec {
  key: RegistryKey;
  label: string;
  /** Shell command template, e.g. `docker-registry serve {config}`. */
  cmd: string;
  /** Extra YAML lines for the `storage:` section, indented by two spaces (e.g. a cache). */
  extraStorage: string[];
  logLevel: string;
}

export interface RunningRegistry {
  spec: RegistrySpec;
  pid: number;
  port: number;
  base: string;
  dir: string;
  storage: string;
  logPath: string;
  startupMs: number;
  child: ChildProcess;
  sampler: RssSampler;
  exited: Promise<void>;
}

const started = new Map<number, ChildProcess>();

/** Asks the kernel for a free loopback port (tiny race, acceptable here). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

export function configYaml(storage: string, port: number, logLevel: string, extraStorage: readonly string[]): string {
  return [
    'version: 0.1',
    'log:',
    `  level: ${logLevel}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storage)}`,
    '  delete:',
    '    enabled: true',
    ...extraStorage,
  ]
    .join('\n')
    .concat('\n');
}

/** One GET /v2/ with a short timeout; resolves to the status or 0 on error. */
export function probe(base: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest(`${base}/v2/`, { method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

export function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** What `launchRegistry` starts: a server command, its config text, where it lives. */
export interface Launch {
  readonly label: string;
  /** Shell command; `{config}` is replaced by the config path (appended when absent). */
  readonly cmd: string;
  /** The server's own (existing) directory: config.yml and server.log go there. */
  readonly dir: string;
  /** The config file for the chosen port. */
  readonly config: (port: number) => string;
  /** Environment of the server (default: this process's); REGISTRY_HTTP_ADDR is added. */
  readonly env?: NodeJS.ProcessEnv;
  readonly readyTimeoutMs: number;
}

export type Launched = Pick<RunningRegistry, 'pid' | 'port' | 'base' | 'logPath' | 'startupMs' | 'child' | 'sampler' | 'exited'>;

/** Starts a registry on a free port and waits until GET /v2/ answers 200/401; its RSS is sampled. */
export async function launchRegistry(l: Launch): Promise<Launched> {
  const port = await freePort();
  const configPath = join(l.dir, 'config.yml');
  writeFileSync(configPath, l.config(port));
  const cmd = l.cmd.includes('{config}') ? l.cmd.split('{config}').join(shellQuote(configPath)) : `${l.cmd} ${shellQuote(configPath)}`;
  const logPath = join(l.dir, 'server.log');
  const logFd = openSync(logPath, 'a');
  const t0 = process.hrtime.bigint();
  const child = spawn('/bin/sh', ['-c', `exec ${cmd}`], {
    stdio: ['ignore', logFd, logFd],
    env: { ...(l.env ?? process.env), REGISTRY_HTTP_ADDR: `127.0.0.1:${port}` },
  });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn: ${cmd}`);
  started.set(pid, child);
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = `exit code ${String(code)} signal ${String(signal)}`;
      started.delete(pid);
      resolve();
    });
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + l.readyTimeoutMs;
  for (;;) {
    if (exitInfo !== undefined) {
      throw new Error(`${l.label} exited during startup (${exitInfo}); command: ${cmd}\n${tail(logPath)}`);
    }
    const status = await probe(base);
    if (status === 200 || status === 401) break;
    if (Date.now() > deadline) {
      killPid(pid, 'SIGKILL');
      throw new Error(`${l.label} not ready after ${l.readyTimeoutMs} ms (last status ${status}); command: ${cmd}\n${tail(logPath)}`);
    }
    await sleep(50);
  }
  const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const sampler = new RssSampler(pid);
  sampler.start();
  return { pid, port, base, logPath, startupMs, child, sampler, exited };
}

/** Starts `spec` in a new directory under `parent` with filesystem storage there. */
export async function startRegistry(spec: RegistrySpec, parent: string, readyTimeoutMs = 30_000): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(parent, `${spec.key}-`));
  const storage = join(dir, 'storage');
  mkdirSync(storage);
  const launched = await launchRegistry({
    label: spec.label,
    cmd: spec.cmd,
    dir,
    config: (port) => configYaml(storage, port, spec.logLevel, spec.extraStorage),
    readyTimeoutMs,
  });
  return { spec, dir, storage, ...launched };
}

export function killPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Reads the final RSS, SIGTERMs the server (SIGKILL after 5 s), removes its directory. */
export async function stopRegistry(r: RunningRegistry, keepDir = false): Promise<RssReport> {
  const rss = r.sampler.stop();
  killPid(r.pid, 'SIGTERM');
  const done = await Promise.race([r.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    killPid(r.pid, 'SIGKILL');
    await Promise.race([r.exited, sleep(2000)]);
  }
  if (!keepDir) rmSync(r.dir, { recursive: true, force: true });
  return rss;
}

/** Emergency cleanup: SIGKILL every server this process started, by PID. */
export function killAllStarted(): void {
  for (const pid of started.keys()) killPid(pid, 'SIGKILL');
  started.clear();
}

/**
 * A benchmark's temporary work directory, and its cleanup: stops every server this process
 * started and removes the directory (unless `keep`); SIGINT/SIGTERM run it before exiting.
 */
export function benchWorkDir(prefix: string, options: { readonly tmpRoot: string | undefined; readonly keep: boolean }): {
  readonly workDir: string;
  readonly cleanup: () => void;
} {
  const workDir = mkdtempSync(join(options.tmpRoot ?? tmpdir(), prefix));
  const cleanup = (): void => {
    killAllStarted();
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`\n${sig}: stopping servers, removing ${workDir}`);
      cleanup();
      process.exit(130);
    });
  }
  return { workDir, cleanup };
}
