/**
 * Starts a real Berth server process (the built CLI, `dist/src/cli/main.js serve`) on a free
 * loopback port for end-to-end tests, and stops exactly that process. The config is written as a
 * distribution-format YAML file; the address is passed with REGISTRY_HTTP_ADDR as an operator would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const here = fileURLToPath(new URL('.', import.meta.url));
/** dist/test/helpers → repository root → dist/src/cli/main.js */
export const BERTH_CLI = resolve(here, '../../src/cli/main.js');

export interface BerthProcess {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly rootDir: string;
  readonly output: () => string;
  stop(): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export interface StartOptions {
  /** Filesystem root; a fresh temp dir when absent (ignored if config sets another driver). */
  readonly rootDir?: string;
  /** Extra distribution-format config merged over the defaults. */
  readonly config?: Record<string, unknown>;
  readonly env?: Record<string, string>;
  readonly port?: number;
  /** The config enables TLS: probe and report an https URL (the probe accepts any certificate). */
  readonly tls?: boolean;
  /** A client certificate and key (PEM) for the TLS probe, when the config requires one. */
  readonly tlsClient?: { readonly cert: string | Buffer; readonly key: string | Buffer };
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export async function startBerth(options: StartOptions = {}): Promise<BerthProcess> {
  // Two concurrent starts can be handed the same free port; the loser exits with EADDRINUSE.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= 3 || options.port !== undefined || !String(error).includes('EADDRINUSE')) throw error;
    }
  }
}

async function startOnce(options: StartOptions): Promise<BerthProcess> {
  const workDir = await mkdtemp(join(tmpdir(), 'berth-e2e-'));
  const rootDir = options.rootDir ?? join(workDir, 'data');
  const port = options.port ?? (await freePort());
  const configPath = join(workDir, 'config.yml');
  const config = {
    version: 0.1,
    log: { level: 'warn' },
    storage: { filesystem: { rootdirectory: rootDir }, delete: { enabled: true } },
    ...options.config,
  };
  await writeFile(configPath, stringify(config));
  const child: ChildProcess = spawn(process.execPath, [BERTH_CLI, 'serve', configPath], {
    env: { ...process.env, REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `${options.tls === true ? 'https' : 'http'}://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`berth exited early (${child.exitCode}):\n${output}`);
    try {
      const status = options.tls === true ? await probeTls(port, options.tlsClient) : (await fetch(`${url}/v2/`)).status;
      if (status === 200 || status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`berth did not start in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // The answer may have come from another process on the same port: make sure ours is alive.
  await new Promise((r) => setTimeout(r, 100));
  if (child.exitCode !== null) throw new Error(`berth exited early (${child.exitCode}):\n${output}`);
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited;
    }
  };
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    pid: child.pid ?? 0,
    rootDir,
    output: () => output,
    stop: async () => {
      await kill('SIGTERM');
      await rm(workDir, { recursive: true, force: true });
    },
    kill,
  };
}

/** GET /v2/ over TLS without verifying the (test) certificate; resolves with the status. */
function probeTls(port: number, client?: StartOptions['tlsClient']): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/v2/', rejectUnauthorized: false, timeout: 2000, ...client }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}
