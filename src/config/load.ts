/**
 * Loads the configuration: YAML file (optional) → `REGISTRY_*` env overrides → validation →
 * normalised, frozen {@link Config}. Unknown keys produce warnings, invalid values a
 * {@link ConfigError} naming each bad key. The only module that reads `process.env`-like input.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { parseAddr } from './addr.js';
import { applyEnv, unknownKeys, type ConfigObject } from './env.js';
import { applyLegacyEnv, applyRegistryPort, applyWorkersAlias, type LegacyEnvResult } from './legacy-env.js';
import { normaliseOps } from './ops-schema.js';
import { normaliseProxy } from './proxy-schema.js';
import { NOT_IMPLEMENTED, RAW_SCHEMA, STORAGE_DRIVERS, type Config, type LogLevel, type RawConfig } from './schema.js';
import { DEFAULT_MINIMUM_TLS, opensslCiphers, TLS_VERSIONS } from './tls.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly problems: readonly string[],
    readonly warnings: readonly string[] = [],
  ) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: readonly string[];
  /** The old Python registry's variables that were mapped (SETTINGS_FLAVOR set), for the start-up log. */
  readonly legacy?: LegacyEnvResult;
}

export async function loadConfigFile(path: string | undefined, env: NodeJS.ProcessEnv = {}): Promise<LoadedConfig> {
  if (path === undefined) return buildConfig({}, env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new ConfigError([`${path}: not valid YAML: ${(error as Error).message.split('\n')[0] ?? ''}`]);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError([`${path}: the top level must be a mapping`]);
  return buildConfig(doc as ConfigObject, env);
}

/** Builds a Config from an already parsed document (tests use this directly). */
export function buildConfig(document: ConfigObject, env: NodeJS.ProcessEnv = {}): LoadedConfig {
  const doc = structuredClone(document);
  // Layers, lowest first: the old registry's variables (file keys win), REGISTRY_PORT, REGISTRY_*.
  const legacy = applyLegacyEnv(doc, env);
  const portWarning = applyRegistryPort(doc, env);
  const workersWarning = applyWorkersAlias(doc, env);
  const handled = new Set(['REGISTRY_PORT', ...(legacy !== undefined ? ['REGISTRY_HOST'] : [])]);
  const warnings = [
    ...(portWarning !== undefined ? [portWarning] : []),
    ...(workersWarning !== undefined ? [workersWarning] : []),
    ...applyEnv(doc, env, handled),
  ];
  if (legacy !== undefined && legacy.problems.length > 0) throw new ConfigError(legacy.problems, warnings);
  for (const key of unknownKeys(doc)) warnings.push(`${key}: unknown configuration key (ignored)`);
  for (const key of NOT_IMPLEMENTED) if (hasPath(doc, key)) warnings.push(`${key}: not implemented by Berth yet (ignored)`);
  const result = RAW_SCHEMA.safeParse(doc);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`),
      warnings,
    );
  }
  const config = normalise(result.data, warnings);
  return legacy !== undefined ? { config, warnings, legacy } : { config, warnings };
}

function hasPath(doc: ConfigObject, dotted: string): boolean {
  let node: unknown = doc;
  for (const key of dotted.split('.')) {
    if (typeof node !== 'object' || node === null) return false;
    node = (node as ConfigObject)[key];
  }
  return node !== undefined;
}

function normalise(raw: RawConfig, warnings: string[]): Config {
  const problems: string[] = [];
  if (raw.version !== undefined && String(raw.version) !== '0.1') problems.push(`version: only 0.1 is supported, got ${String(raw.version)}`);
  const addr = parseAddr(raw.http?.addr ?? '127.0.0.1:5000');
  if (addr === undefined) problems.push(`http.addr: expected "host:port" or ":port", got ${JSON.stringify(raw.http?.addr)}`);

  const storage = raw.storage ?? {};
  const drivers = STORAGE_DRIVERS.filter((d) => storage[d] !== undefined);
  if (drivers.length > 1) problems.push(`storage: exactly one driver may be configured, found ${drivers.join(', ')}`);
  const driver = drivers[0] ?? 'filesystem';
  const params: Record<string, unknown> = { ...(storage[driver] ?? {}) };
  if (driver === 'filesystem' && params['rootdirectory'] === undefined) params['rootdirectory'] = resolve('data');

  const tls = raw.http?.tls;
  if (tls !== undefined && (tls.certificate === undefined) !== (tls.key === undefined)) {
    problems.push('http.tls: certificate and key must be given together');
  }
  if (tls?.certificate === undefined && (tls?.clientcas ?? []).length > 0) {
    problems.push('http.tls.clientcas: client certificates need TLS (set http.tls.certificate and http.tls.key)');
  }
  let baseUrl: string | undefined;
  if (raw.http?.host !== undefined) {
    try {
      const u = new URL(raw.http.host);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
      baseUrl = `${u.protocol}//${u.host}`;
    } catch {
      problems.push(`http.host: expected an absolute http(s) URL, got ${JSON.stringify(raw.http.host)}`);
    }
  }
  const prefix = (raw.http?.prefix ?? '/').replace(/\/+$/, '');
  if (prefix !== '' && !/^\/[A-Za-z0-9._~\/-]*$/.test(prefix)) problems.push(`http.prefix: invalid path ${JSON.stringify(raw.http?.prefix)}`);
  if (raw.http?.secret === undefined) {
    warnings.push('http.secret: not set; upload URLs are not signed (set the same secret on every node)');
  }
  const ops = normaliseOps({ debug: raw.http?.debug, health: raw.health, notifications: raw.notifications, metrics: raw.berth?.metrics }, problems);
  const proxy = normaliseProxy({ proxy: raw.proxy, berth: raw.berth?.proxy }, problems, warnings);
  if (problems.length > 0) throw new ConfigError(problems, warnings);

  const level = (raw.log?.level ?? raw.loglevel ?? 'info') as string;
  const headers: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(raw.http?.headers ?? {})) headers[k] = Array.isArray(v) ? v : [v];
  const purging = storage.maintenance?.uploadpurging;
  const limits = raw.berth?.limits;
  const config: Config = {
    log: {
      level: (level === 'panic' ? 'fatal' : level) as LogLevel,
      formatter: raw.log?.formatter === 'text' ? 'text' : 'json',
      accessLog: raw.log?.accesslog?.disabled !== true,
    },
    http: {
      host: addr?.host ?? '127.0.0.1',
      port: addr?.port ?? 5000,
      ...(baseUrl !== undefined ? { baseUrl } : {}),
      prefix,
      ...(raw.http?.secret !== undefined ? { secret: raw.http.secret } : {}),
      relativeUrls: raw.http?.relativeurls ?? false,
      drainTimeoutMs: raw.http?.draintimeout ?? 10_000,
      ...(tls?.certificate !== undefined && tls.key !== undefined
        ? {
            tls: {
              certificate: tls.certificate,
              key: tls.key,
              clientCas: tls.clientcas ?? [],
              minVersion: TLS_VERSIONS[tls.minimumtls ?? DEFAULT_MINIMUM_TLS] ?? 'TLSv1.2',
              ciphers: opensslCiphers(tls.ciphersuites),
            },
          }
        : {}),
      headers,
    },
    storage: {
      driver,
      params,
      deleteEnabled: storage.delete?.enabled ?? false,
      readOnly: storage.maintenance?.readonly?.enabled ?? false,
      redirect: storage.redirect?.disable === false,
      uploadPurging: {
        enabled: purging?.enabled ?? true,
        ageMs: purging?.age ?? 168 * 3_600_000,
        intervalMs: purging?.interval ?? 24 * 3_600_000,
        dryRun: purging?.dryrun ?? false,
      },
    },
    catalog: { maxEntries: raw.catalog?.maxentries ?? 1000 },
    berth: {
      v1Enabled: raw.berth?.v1?.enabled ?? true,
      uiEnabled: raw.berth?.ui?.enabled ?? true,
      maxManifestBytes: limits?.manifestbytes ?? 4 * 1024 * 1024,
      maxBlobBytes: limits?.blobbytes ?? 0,
      headersTimeoutMs: limits?.headerstimeout ?? 60_000,
      idleTimeoutMs: limits?.idletimeout ?? 120_000,
      manifestCacheBytes: raw.berth?.cache?.manifestbytes ?? 64 * 1024 * 1024,
      linkTtlMs: raw.berth?.cache?.linkttl ?? 1000,
      maxTagsPage: raw.berth?.tags?.maxpage ?? 1000,
      gc: {
        enabled: raw.berth?.gc?.enabled ?? false,
        intervalMs: raw.berth?.gc?.interval ?? 24 * 3_600_000,
        gracePeriodMs: raw.berth?.gc?.graceperiod ?? 3_600_000,
      },
      workers: raw.berth?.workers === 'auto' ? availableParallelism() : (raw.berth?.workers ?? 1),
    },
    authSections: {
      ...(raw.auth !== undefined && raw.auth !== null ? { auth: raw.auth } : {}),
      ...(raw.berth?.auth !== undefined ? { berthAuth: raw.berth.auth } : {}),
      ...(raw.berth?.access !== undefined ? { access: raw.berth.access } : {}),
      ...(raw.berth?.ratelimit !== undefined ? { rateLimit: raw.berth.ratelimit } : {}),
      ...(raw.berth?.trustedproxies !== undefined ? { trustedProxies: raw.berth.trustedproxies } : {}),
    },
    ops,
    proxy,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
