/**
 * bench/lib/objectstore/swift.ts — the loopback OpenStack Swift of the object-store benchmark:
 * started with the test suite's own test/setup/30-swift.sh (in a directory of the run, without
 * Keystone) and stopped with the stop command that script registers, or taken from an env file
 * of an instance already running. Also a small admin client on its Swift API (tempauth): create
 * and empty containers (an S3 bucket of s3api is a Swift container of the same account), delete
 * everything under a prefix, and time a direct curl PUT/GET of the blob (the backend's own
 * ceiling). The CPU time of Swift's processes is read from /proc so the benchmark can tell it
 * apart from unrelated load.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processCpuSeconds } from '../cpu.js';
import { runCommand } from '../exec.js';

export interface SwiftEnv {
  readonly authUrl: string;
  readonly user: string;
  readonly key: string;
  readonly s3Endpoint: string;
  readonly s3AccessKey: string;
  readonly s3SecretKey: string;
  readonly s3Region: string;
  /** Every process of the instance (servers, proxies, memcached). */
  readonly pids: readonly number[];
}

export interface SwiftHandle {
  readonly env: SwiftEnv;
  /** True when this run started the instance (and so stops it). */
  readonly owned: boolean;
  readonly startMs: number;
  stop(): Promise<void>;
  /** Synchronous stop for signal handlers. */
  stopSync(): void;
}

function required(vars: ReadonlyMap<string, string>, name: string, file: string): string {
  const v = vars.get(name);
  if (v === undefined || v === '') throw new Error(`${file} does not export ${name}`);
  return v;
}

/** Reads the `export VAR=…` lines 30-swift.sh wrote (sourced by bash, so its quoting holds). */
export async function loadSwiftEnv(file: string): Promise<SwiftEnv> {
  const r = await runCommand('bash', ['-c', 'set -e; . "$1"; env -0', 'bash', file], 10_000);
  if (r.code !== 0) throw new Error(`cannot source ${file}: ${r.stderr}`);
  const vars = new Map<string, string>();
  for (const entry of r.stdout.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0 && entry.startsWith('BERTH_')) vars.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return {
    authUrl: required(vars, 'BERTH_SWIFT_AUTH_URL', file),
    user: required(vars, 'BERTH_SWIFT_USER', file),
    key: required(vars, 'BERTH_SWIFT_KEY', file),
    s3Endpoint: required(vars, 'BERTH_S3_ENDPOINT', file),
    s3AccessKey: required(vars, 'BERTH_S3_ACCESS_KEY', file),
    s3SecretKey: required(vars, 'BERTH_S3_SECRET_KEY', file),
    s3Region: vars.get('BERTH_S3_REGION') ?? 'us-east-1',
    pids: (vars.get('BERTH_SWIFT_PIDS') ?? '')
      .split(/\s+/)
      .filter((p) => /^\d+$/.test(p))
      .map(Number),
  };
}

/** Starts a Swift of this run under `dir` with test/setup/30-swift.sh (at most 10 minutes). */
export async function startSwift(repoRoot: string, dir: string): Promise<SwiftHandle> {
  mkdirSync(dir, { recursive: true });
  const envFile = join(dir, 'env.sh');
  const cleanup = join(dir, 'cleanup.sh');
  writeFileSync(envFile, '');
  writeFileSync(cleanup, '');
  const script = join(repoRoot, 'test', 'setup', '30-swift.sh');
  const t0 = Date.now();
  const r = await runCommand(
    'env',
    [`BERTH_TEST_TMP=${dir}`, `BERTH_TEST_ENV=${envFile}`, `BERTH_TEST_CLEANUP=${cleanup}`, 'BERTH_SWIFT_KEYSTONE=0', 'bash', script],
    600_000,
  );
  const stopArgs = ['-c', 'if [ -s "$1" ]; then tac "$1" | bash; fi', 'bash', cleanup];
  const stop = async (): Promise<void> => {
    await runCommand('bash', stopArgs, 120_000);
  };
  if (r.code !== 0 || r.timedOut) {
    await stop();
    const out = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`test/setup/30-swift.sh failed (code ${String(r.code)}${r.timedOut ? ', timed out' : ''}):\n${out}`);
  }
  const env = await loadSwiftEnv(envFile);
  return {
    env,
    owned: true,
    startMs: Date.now() - t0,
    stop,
    stopSync: () => {
      try {
        execFileSync('bash', stopArgs, { stdio: 'ignore', timeout: 60_000 });
      } catch {
        /* best effort */
      }
    },
  };
}

/** An instance somebody else started: used as it is, never stopped. */
export async function attachSwift(envFile: string): Promise<SwiftHandle> {
  return { env: await loadSwiftEnv(envFile), owned: false, startMs: 0, stop: async () => undefined, stopSync: () => undefined };
}

/** CPU seconds used so far by the instance's processes (those still alive). */
export function swiftCpuSeconds(env: SwiftEnv): number {
  let sum = 0;
  for (const pid of env.pids) {
    const s = processCpuSeconds(pid);
    if (Number.isFinite(s)) sum += s;
  }
  return sum;
}

interface Session {
  readonly storageUrl: string;
  readonly token: string;
}

function encodeName(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/** Admin operations on the Swift API with the instance's tempauth user. */
export class SwiftAdmin {
  private session: Session | undefined;

  constructor(private readonly env: SwiftEnv) {}

  async login(): Promise<Session> {
    if (this.session !== undefined) return this.session;
    const res = await fetch(this.env.authUrl, {
      headers: { 'X-Auth-User': this.env.user, 'X-Auth-Key': this.env.key },
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    const token = res.headers.get('x-auth-token');
    const storageUrl = res.headers.get('x-storage-url');
    if (res.status >= 300 || token === null || storageUrl === null) throw new Error(`swift login at ${this.env.authUrl}: ${res.status}`);
    this.session = { storageUrl, token };
    return this.session;
  }

  private async call(method: string, path: string, query = ''): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const { storageUrl, token } = await this.login();
      const res = await fetch(`${storageUrl}/${path}${query}`, {
        method,
        headers: { 'X-Auth-Token': token },
        signal: AbortSignal.timeout(60_000),
      });
      if (res.status !== 401 || attempt > 0) return res;
      await res.arrayBuffer();
      this.session = undefined;
    }
  }

  async createContainer(name: string): Promise<void> {
    const res = await this.call('PUT', encodeURIComponent(name));
    await res.arrayBuffer();
    if (res.status >= 300) throw new Error(`PUT container ${name}: ${res.status}`);
  }

  /** Names under `prefix` in `container` (all pages, at most 1000 pages). */
  async list(container: string, prefix: string): Promise<string[]> {
    const names: string[] = [];
    let marker = '';
    for (let page = 0; page < 1000; page++) {
      const query = new URLSearchParams({ format: 'json', limit: '10000', prefix, marker });
      const res = await this.call('GET', encodeURIComponent(container), `?${query.toString()}`);
      if (res.status === 404 || res.status === 204) {
        await res.arrayBuffer();
        return names;
      }
      if (res.status >= 300) throw new Error(`list ${container}: ${res.status}`);
      const entries: unknown = await res.json();
      if (!Array.isArray(entries) || entries.length === 0) return names;
      for (const e of entries) {
        const name = (e as Record<string, unknown>)['name'];
        if (typeof name === 'string') names.push(name);
      }
      marker = names[names.length - 1] ?? '';
    }
    return names;
  }

  /** Deletes every object under `prefix` (8 at a time); returns how many. */
  async deletePrefix(container: string, prefix: string): Promise<number> {
    let deleted = 0;
    for (let pass = 0; pass < 5; pass++) {
      const names = await this.list(container, prefix);
      if (names.length === 0) break;
      for (let i = 0; i < names.length; i += 8) {
        await Promise.all(
          names.slice(i, i + 8).map(async (name) => {
            const res = await this.call('DELETE', `${encodeURIComponent(container)}/${encodeName(name)}`);
            await res.arrayBuffer();
          }),
        );
      }
      deleted += names.length;
    }
    return deleted;
  }

  /** Empties and deletes a container; a missing one is fine. */
  async deleteContainer(name: string): Promise<void> {
    await this.deletePrefix(name, '');
    const res = await this.call('DELETE', encodeURIComponent(name));
    await res.arrayBuffer();
  }

  /** URL and token for curl (the token is only ever passed in a header). */
  async objectUrl(container: string, name: string): Promise<{ url: string; token: string }> {
    const { storageUrl, token } = await this.login();
    return { url: `${storageUrl}/${encodeURIComponent(container)}/${encodeName(name)}`, token };
  }
}

/**
 * The backend's own speed for the blob: curl PUT (one object) and GET straight to the Swift
 * proxy, best of two each, in MiB/s.
 */
export async function backendCeiling(
  admin: SwiftAdmin,
  container: string,
  blobPath: string,
  size: number,
): Promise<{ put: number; get: number }> {
  const { url, token } = await admin.objectUrl(container, 'ceiling/blob');
  const curl = async (args: string[]): Promise<number> => {
    const r = await runCommand('curl', ['-sS', '-H', `X-Auth-Token: ${token}`, '-H', 'Expect:', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', ...args, url], 600_000);
    const [code = '', total = ''] = r.stdout.trim().split(' ');
    if (r.code !== 0 || !code.startsWith('2')) throw new Error(`curl ${args.join(' ')} ${url}: code ${String(r.code)} status ${code} ${r.stderr}`);
    return Number(total);
  };
  const MiB = 1024 * 1024;
  const put = Math.min(await curl(['-T', blobPath]), await curl(['-T', blobPath]));
  const get = Math.min(await curl([]), await curl([]));
  await admin.deletePrefix(container, 'ceiling/');
  return { put: size / MiB / put, get: size / MiB / get };
}
