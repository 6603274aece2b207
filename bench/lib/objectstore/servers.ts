/**
 * bench/lib/objectstore/servers.ts — config and process handling for a registry (Berth or the
 * reference) on the benchmark's Swift: the same distribution-format config for both, with the
 * `s3` driver (Swift's s3api, path style) or the `swift` driver (tempauth v1), a prefix of its
 * own per measurement, redirects off (so pulls go through the registry, not straight to Swift),
 * upload purging off, a shared `http.secret`. Started and stopped with bench/lib/registry.ts's
 * launchRegistry/stopRegistry (a free loopback port, the PID is the server's, ready on `GET /v2/`).
 *
 * AWS_CA_BUNDLE is removed from both servers' environment: distribution 2.8's s3 driver panics at
 * start-up when it is set ("LoadCustomCABundleError … HTTPClient's transport unsupported type"),
 * and plain-HTTP loopback needs no CA bundle.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { killAllStarted, launchRegistry, stopRegistry, tail, type RegistryKey, type RunningRegistry } from '../registry.js';
import type { RssReport } from '../rss.js';
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


/** Starts a server in a new directory under `parent` on the given storage (ready: GET /v2/ 200/401). */
export async function startObjectRegistry(
  spec: ServerSpec,
  parent: string,
  env: SwiftEnv,
  place: StorePlace,
  readyTimeoutMs = 60_000,
): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(parent, `${spec.key}-`));
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv['AWS_CA_BUNDLE'];
  const launched = await launchRegistry({
    label: spec.label,
    cmd: spec.cmd,
    dir,
    config: (port) => objectStoreConfig(port, spec.logLevel, storageLines(env, place)),
    env: childEnv,
    readyTimeoutMs,
  });
  return {
    spec: { key: spec.key, label: spec.label, cmd: spec.cmd, extraStorage: [], logLevel: spec.logLevel },
    dir,
    storage: `${place.backend}:${place.container}/${place.prefix}`,
    ...launched,
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
  killAllStarted();
}
