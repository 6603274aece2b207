/**
 * bench/lib/objectstore/servers.ts — config and process handling for a registry (Berth or the
 * reference) on the benchmark's Swift: the same distribution-format config for both, with the
 * `s3` driver (Swift's s3api, path style) or the `swift` driver (tempauth v1), a prefix of its
 * own per measurement, redirects off (so pulls go through the registry, not straight to Swift),
 * upload purging off, a shared `http.secret`. Started like bench/lib/registry.ts does it (a free
 * loopback port, `/bin/sh -c 'exec <cmd>'` so the PID is the server's, wait for `GET /v2/`), and
 * stopped with its stopRegistry; every process started here can be killed by PID in an
 * emergency.
 *
 * AWS_CA_BUNDLE is removed from both servers' environment: distribution 2.8's s3 driver panics at
 * start-up when it is set ("LoadCustomCABundleError … HTTPClient's transport unsupported type"),
 * and plain-HTTP loopback needs no CA bundle.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellQuote, sleep } from '../exec.js';
import { freePort, killPid, probe, stopRegistry, tail, type RegistryKey, type RunningRegistry } from '../registry.js';
import { RssSampler, type RssReport } from '../rss.js';
import type { Backend } from './args.js';
import type { SwiftEnv } from './swift.js';

export interface StorePlace {
  readonly backend: Backend;
  /** The bucket (s3) or container (swift). */
  readonly container: string;
  /** Key prefix / object-name prefix of this measurement. */
  readonly prefix: string;
}

const q = (s: string): string => JSON.stringify(s);

/** The `storage:` section for a place, as YAML lines (identical for both registries). */
export function storageLines(env: SwiftEnv, place: StorePlace): string[] {
  const driver =
    place.backend === 's3'
      ? [
          '  s3:',
          `    accesskey: ${q(env.s3AccessKey)}`,
          `    secretkey: ${q(env.s3SecretKey)}`,
          `    region: ${q(env.s3Region)}`,
          `    regionendpoint: ${q(env.s3Endpoint)}`,
          `    bucket: ${q(place.container)}`,
          `    rootdirectory: ${q(`/${place.prefix}`)}`,
          // Berth needs path style for Swift; distribution 2.8 uses it whenever regionendpoint is
          // set and ignores the key.
          '    forcepathstyle: true',
          '    secure: false',
          '    v4auth: true',
        ]
      : [
          '  swift:',
          `    authurl: ${q(env.authUrl)}`,
          `    username: ${q(env.user)}`,
          `    password: ${q(env.key)}`,
          `    container: ${q(place.container)}`,
          `    prefix: ${q(place.prefix)}`,
        ];
  return [
    'storage:',
    ...driver,
    '  delete:',
    '    enabled: true',
    '  redirect:',
    '    disable: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
  ];
}

export function objectStoreConfig(port: number, logLevel: string, storage: readonly string[]): string {
  return [
    'version: 0.1',
    'log:',
    `  level: ${logLevel}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: berth-objectstore-bench',
    ...storage,
  ]
    .join('\n')
    .concat('\n');
}

export interface ServerSpec {
  readonly key: RegistryKey;
  readonly label: string;
  readonly cmd: string;
  readonly logLevel: string;
}

const started = new Map<number, true>();

/** Starts a server in a new directory under `parent` on the given storage (ready: GET /v2/ 200/401). */
export async function startObjectRegistry(
  spec: ServerSpec,
  parent: string,
  env: SwiftEnv,
  place: StorePlace,
  readyTimeoutMs = 60_000,
): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(parent, `${spec.key}-`));
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, objectStoreConfig(port, spec.logLevel, storageLines(env, place)));
  const cmd = spec.cmd.includes('{config}') ? spec.cmd.split('{config}').join(shellQuote(configPath)) : `${spec.cmd} ${shellQuote(configPath)}`;
  const logPath = join(dir, 'server.log');
  const logFd = openSync(logPath, 'a');
  const childEnv: NodeJS.ProcessEnv = { ...process.env, REGISTRY_HTTP_ADDR: `127.0.0.1:${port}` };
  delete childEnv['AWS_CA_BUNDLE'];
  const t0 = process.hrtime.bigint();
  const child = spawn('/bin/sh', ['-c', `exec ${cmd}`], { stdio: ['ignore', logFd, logFd], env: childEnv });
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn: ${cmd}`);
  started.set(pid, true);
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = `exit code ${String(code)} signal ${String(signal)}`;
      started.delete(pid);
      resolve();
    });
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exitInfo !== undefined) throw new Error(`${spec.label} exited during startup (${exitInfo}); command: ${cmd}\n${tail(logPath)}`);
    const status = await probe(base);
    if (status === 200 || status === 401) break;
    if (Date.now() > deadline) {
      killPid(pid, 'SIGKILL');
      throw new Error(`${spec.label} not ready after ${readyTimeoutMs} ms (last status ${status}); command: ${cmd}\n${tail(logPath)}`);
    }
    await sleep(50);
  }
  const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const sampler = new RssSampler(pid);
  sampler.start();
  return {
    spec: { key: spec.key, label: spec.label, cmd: spec.cmd, extraStorage: [], logLevel: spec.logLevel },
    pid,
    port,
    base,
    dir,
    storage: `${place.backend}:${place.container}/${place.prefix}`,
    logPath,
    startupMs,
    child,
    sampler,
    exited,
  };
}

export function stopObjectRegistry(r: RunningRegistry, keep: boolean): Promise<RssReport> {
  return stopRegistry(r, keep);
}

/** The error lines among the server log's last lines (else its last 3), shortened, for error messages. */
export function logTail(r: RunningRegistry, lines = 30): string {
  const all = tail(r.logPath, lines).split('\n').filter((l) => l.trim() !== '');
  const errors = all.filter((l) => /level=error|"level":(50|60)|panic|Error/i.test(l));
  return (errors.length > 0 ? errors.slice(-4) : all.slice(-3)).map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l)).join('\n');
}

/** Emergency cleanup: SIGKILL every server started here, by PID. */
export function killAllObjectRegistries(): void {
  for (const pid of started.keys()) killPid(pid, 'SIGKILL');
  started.clear();
}
