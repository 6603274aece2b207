/**
 * bench/lib/auth/servers.ts — configurations and start/stop of the registries of the authenticated
 * benchmark. Each registry gets one storage directory, filled once by an unauthenticated instance
 * (lib/workloads.ts's pushImage), then every measured instance is a fresh process on that storage
 * with the base config of lib/registry.ts plus the auth section of its mode:
 *
 *   none       no auth section
 *   htpasswd   auth.htpasswd {realm, path}                              (both registries alike)
 *   token      Berth: auth.htpasswd + berth.auth.tokenserver.enabled     (Berth issues tokens at /token)
 *              reference: auth.token {realm, service, issuer, rootcertbundle} (hand-signed token)
 *   limited    Berth only: htpasswd + berth.ratelimit.failedlogins {rate, burst}
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { RssReport } from '../rss.js';
import { configYaml, launchRegistry, stopRegistry, type Launched, type RegistryKey } from '../registry.js';
import { pushImage, type ImageFixture } from '../workloads.js';

export type AuthMode = 'none' | 'htpasswd' | 'token' | 'limited';
export type Side = Extract<RegistryKey, 'berth' | 'ref'>;

export const REALM = 'berth-bench';
/** `service` and `issuer` of the reference's auth.token (and of the hand-signed token). */
export const REF_TOKEN_SERVICE = 'berth-bench-registry';
export const REF_TOKEN_ISSUER = 'berth-bench-issuer';
/** berth.ratelimit.failedlogins of the `limited` mode. */
export const FAILED_LOGINS = { rate: 0.1, burst: 5 } as const;
export const REPO = 'bench/auth';

export interface AuthFiles {
  readonly htpasswdPath: string;
  readonly certPath: string;
}

export interface ServerSetup {
  readonly side: Side;
  readonly label: string;
  readonly cmd: string;
  /** Shared by every instance of this registry. */
  readonly storage: string;
  readonly logLevel: string;
  readonly files: AuthFiles;
}

/** The auth-related YAML appended to the base config. */
export function authYaml(side: Side, mode: AuthMode, files: AuthFiles, port: number): string[] {
  const htpasswd = ['auth:', '  htpasswd:', `    realm: ${REALM}`, `    path: ${JSON.stringify(files.htpasswdPath)}`];
  switch (mode) {
    case 'none':
      return [];
    case 'htpasswd':
      return htpasswd;
    case 'token':
      if (side === 'berth') return [...htpasswd, 'berth:', '  auth:', '    tokenserver:', '      enabled: true'];
      return [
        'auth:',
        '  token:',
        `    realm: http://127.0.0.1:${port}/token`,
        `    service: ${REF_TOKEN_SERVICE}`,
        `    issuer: ${REF_TOKEN_ISSUER}`,
        `    rootcertbundle: ${JSON.stringify(files.certPath)}`,
      ];
    case 'limited':
      if (side !== 'berth') throw new Error('the reference has no rate limits');
      return [...htpasswd, 'berth:', '  ratelimit:', '    failedlogins:', `      rate: ${FAILED_LOGINS.rate}`, `      burst: ${FAILED_LOGINS.burst}`];
  }
}

export interface Instance {
  readonly setup: ServerSetup;
  readonly mode: AuthMode;
  readonly launched: Launched;
  readonly dir: string;
}

/** Starts a fresh process of `setup` in `mode` on its shared storage; config and log in a new dir under `parent`. */
export async function startInstance(setup: ServerSetup, mode: AuthMode, parent: string): Promise<Instance> {
  const dir = mkdtempSync(join(parent, `${setup.side}-${mode}-`));
  const launched = await launchRegistry({
    label: `${setup.label} (${mode})`,
    cmd: setup.cmd,
    dir,
    config: (port) => configYaml(setup.storage, port, setup.logLevel, []) + authYaml(setup.side, mode, setup.files, port).map((l) => `${l}\n`).join(''),
    readyTimeoutMs: 30_000,
  });
  return { setup, mode, launched, dir };
}

/** SIGTERM (SIGKILL after 5 s); the storage stays, the instance dir too (the run's temp dir is removed at the end). */
export function stopInstance(i: Instance): Promise<RssReport> {
  const spec = { key: i.setup.side, label: i.setup.label, cmd: i.setup.cmd, extraStorage: [], logLevel: i.setup.logLevel };
  return stopRegistry({ ...i.launched, spec, dir: i.dir, storage: i.setup.storage }, true);
}

/** Creates the registry's storage and pushes the fixture image through an unauthenticated instance. */
export async function prepareStorage(setup: ServerSetup, parent: string): Promise<ImageFixture> {
  mkdirSync(setup.storage, { recursive: true });
  const i = await startInstance(setup, 'none', parent);
  try {
    return await pushImage(i.launched.base, REPO);
  } finally {
    await stopInstance(i);
  }
}
