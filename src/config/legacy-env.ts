/**
 * The old Python docker-registry (0.9.x) image's environment, mapped onto distribution's config
 * keys, so `docker run -e SETTINGS_FLAVOR=swift -e OS_AUTH_URL=… -e OS_USERNAME=… …` works with
 * Berth's image. Active only when SETTINGS_FLAVOR is set (OS_* and AWS_* alone are common in
 * OpenStack and AWS shells and must not switch Berth's storage).
 *
 * Precedence: the flavor chooses the storage driver the way REGISTRY_STORAGE does (an explicit
 * REGISTRY_STORAGE wins), every single key set in the config file wins over the legacy variable
 * that maps to it, and REGISTRY_* variables win over both (applied afterwards by env.ts).
 * REGISTRY_PORT is honoured only as a bare port number (a Kubernetes service named `registry`
 * injects `tcp://…` there). The result names legacy variables and modern keys, never values, so
 * it can be logged as it is (OS_PASSWORD and AWS_SECRET never appear in it).
 */
import type { ConfigObject } from './env.js';
import { STORAGE_DRIVERS } from './schema.js';

export interface LegacyKey {
  /** The legacy variable (or `SETTINGS_FLAVOR (default)` for a flavor default). */
  readonly legacy: string;
  /** The modern dotted key it sets. */
  readonly key: string;
  /** False when the config file (or REGISTRY_*) already sets that key. */
  readonly applied: boolean;
}

export interface LegacyEnvResult {
  readonly flavor: string;
  readonly keys: readonly LegacyKey[];
  /** Variables read but with no Berth equivalent, and why (e.g. GUNICORN_WORKERS). */
  readonly notes: readonly string[];
  /** GUNICORN_WORKERS as given (mapped onto `berth.workers`, at most 256). */
  readonly workers?: number;
  /** Problems that stop the start (unknown flavor, unsupported auth version, …). */
  readonly problems: readonly string[];
}

type Env = NodeJS.ProcessEnv;
type Value = string | number | boolean;

const FILESYSTEM_FLAVORS: Readonly<Record<string, string>> = { local: '/tmp/registry', dev: '/tmp/registry', test: './tmp/test' };
const S3_FLAVORS: Readonly<Record<string, { readonly root: string; readonly secureDefault: boolean }>> = {
  s3: { root: '/registry', secureDefault: true },
  prod: { root: '/prod', secureDefault: true },
  'ceph-s3': { root: '/registry', secureDefault: false },
};
const UNSUPPORTED_FLAVORS = ['cloudfronts3', 'azureblob', 'gcs', 'glance', 'openstack', 'glance-swift', 'openstack-swift', 'elliptics', 'oss'];

function get(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The old registry YAML-parsed `_env:` values: true/yes/on and false/no/off are booleans. */
function yamlBool(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (['true', 'yes', 'on', 'y', '1'].includes(v)) return true;
  if (['false', 'no', 'off', 'n', '0'].includes(v)) return false;
  return undefined;
}

function isObject(value: unknown): value is ConfigObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasPath(doc: ConfigObject, path: readonly string[]): boolean {
  let node: unknown = doc;
  for (const key of path) {
    if (!isObject(node)) return false;
    node = node[key];
  }
  return node !== undefined;
}

function setPath(doc: ConfigObject, path: readonly string[], value: Value): void {
  let node = doc;
  for (const key of path.slice(0, -1)) {
    if (!isObject(node[key])) node[key] = {};
    node = node[key] as ConfigObject;
  }
  node[path[path.length - 1] as string] = value;
}

class Mapper {
  readonly keys: LegacyKey[] = [];
  constructor(private readonly doc: ConfigObject) {}

  /** Sets `key` unless the document already has it (the config file wins). */
  fill(legacy: string, key: string, value: Value | undefined): void {
    if (value === undefined) return;
    const path = key.split('.');
    const applied = !hasPath(this.doc, path);
    if (applied) setPath(this.doc, path, value);
    this.keys.push({ legacy, key, applied });
  }
}

/** Makes `driver` the only storage driver of the document (the flavor's driver switch). */
function switchDriver(doc: ConfigObject, driver: string, notes: string[]): void {
  const storage = isObject(doc['storage']) ? doc['storage'] : {};
  for (const d of STORAGE_DRIVERS) {
    if (d !== driver && storage[d] !== undefined) {
      notes.push(`SETTINGS_FLAVOR selects storage.${driver}; the configuration's storage.${d} section is not used`);
      delete storage[d];
    }
  }
  if (!isObject(storage[driver])) storage[driver] = {};
  doc['storage'] = storage;
}

function mapSwift(m: Mapper, env: Env, problems: string[]): void {
  m.fill('OS_AUTH_URL', 'storage.swift.authurl', get(env, 'OS_AUTH_URL'));
  m.fill('OS_USERNAME', 'storage.swift.username', get(env, 'OS_USERNAME'));
  m.fill('OS_PASSWORD', 'storage.swift.password', get(env, 'OS_PASSWORD'));
  // The old swift driver's default container.
  m.fill(get(env, 'OS_CONTAINER') === undefined ? 'OS_CONTAINER (default)' : 'OS_CONTAINER', 'storage.swift.container', get(env, 'OS_CONTAINER') ?? 'dev_container');
  m.fill('OS_TENANT_NAME', 'storage.swift.tenant', get(env, 'OS_TENANT_NAME'));
  m.fill('OS_REGION_NAME', 'storage.swift.region', get(env, 'OS_REGION_NAME'));
  const version = get(env, 'OS_AUTH_VERSION');
  if (version !== undefined) {
    const v = version.trim().replace(/^v/i, '').replace(/\.0$/, '');
    if (v === '1' || v === '3') m.fill('OS_AUTH_VERSION', 'storage.swift.authversion', Number(v));
    else problems.push(`OS_AUTH_VERSION=${version}: Berth's swift driver speaks auth v1 (tempauth, swauth) and Keystone v3; use 1 or 3`);
  } else if (/\/v2(\.0)?\/?$/.test(get(env, 'OS_AUTH_URL') ?? '')) {
    problems.push('OS_AUTH_URL names Keystone v2.0, which Berth does not speak: use the Keystone v3 URL (…/v3) or auth v1 (…/auth/v1.0)');
  }
  m.fill(get(env, 'STORAGE_PATH') === undefined ? 'STORAGE_PATH (default)' : 'STORAGE_PATH', 'storage.swift.prefix', get(env, 'STORAGE_PATH') ?? '/registry');
}

function mapS3(m: Mapper, env: Env, flavor: string): void {
  const defaults = S3_FLAVORS[flavor] ?? { root: '/registry', secureDefault: true };
  m.fill('AWS_BUCKET', 'storage.s3.bucket', get(env, 'AWS_BUCKET'));
  m.fill('AWS_KEY', 'storage.s3.accesskey', get(env, 'AWS_KEY'));
  m.fill('AWS_SECRET', 'storage.s3.secretkey', get(env, 'AWS_SECRET'));
  const region = get(env, 'AWS_REGION');
  const host = get(env, 'AWS_HOST');
  // boto's default region when none is given.
  m.fill(region === undefined ? 'AWS_REGION (default)' : 'AWS_REGION', 'storage.s3.region', region ?? 'us-east-1');
  const secure = yamlBool(get(env, 'AWS_SECURE')) ?? defaults.secureDefault;
  m.fill(get(env, 'AWS_SECURE') === undefined ? 'AWS_SECURE (default)' : 'AWS_SECURE', 'storage.s3.secure', secure);
  if (host !== undefined) {
    const port = get(env, 'AWS_PORT');
    const endpoint = /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `${secure ? 'https' : 'http'}://${host}${port === undefined ? '' : `:${port}`}`;
    m.fill(port === undefined ? 'AWS_HOST' : 'AWS_HOST, AWS_PORT', 'storage.s3.regionendpoint', endpoint);
    // boto's OrdinaryCallingFormat (path style) is what S3-compatible hosts need; only an
    // explicit SubdomainCallingFormat keeps virtual-host style.
    const subdomain = /subdomain/i.test(get(env, 'AWS_CALLING_FORMAT') ?? '');
    m.fill('AWS_HOST (path-style)', 'storage.s3.forcepathstyle', !subdomain);
  }
  const encrypt = yamlBool(get(env, 'AWS_ENCRYPT')) ?? flavor !== 'ceph-s3';
  m.fill(get(env, 'AWS_ENCRYPT') === undefined ? 'AWS_ENCRYPT (default)' : 'AWS_ENCRYPT', 'storage.s3.encrypt', encrypt);
  m.fill(get(env, 'STORAGE_PATH') === undefined ? 'STORAGE_PATH (default)' : 'STORAGE_PATH', 'storage.s3.rootdirectory', get(env, 'STORAGE_PATH') ?? defaults.root);
}

const LOG_LEVELS: Readonly<Record<string, string>> = { debug: 'debug', info: 'info', warning: 'warn', warn: 'warn', error: 'error', critical: 'error' };

/**
 * Applies the legacy variables to `doc` in place (before REGISTRY_* overrides); undefined when
 * SETTINGS_FLAVOR is unset (then only a bare-number REGISTRY_PORT is looked at, by env.ts).
 */
export function applyLegacyEnv(doc: ConfigObject, env: Env): LegacyEnvResult | undefined {
  const flavorValue = get(env, 'SETTINGS_FLAVOR');
  if (flavorValue === undefined) return undefined;
  const flavor = flavorValue.trim().toLowerCase();
  const notes: string[] = [];
  const problems: string[] = [];
  const m = new Mapper(doc);
  const explicitDriver = get(env, 'REGISTRY_STORAGE') !== undefined;

  let driver: string | undefined;
  if (FILESYSTEM_FLAVORS[flavor] !== undefined) driver = 'filesystem';
  else if (S3_FLAVORS[flavor] !== undefined) driver = 's3';
  else if (flavor === 'swift') driver = 'swift';
  else if (UNSUPPORTED_FLAVORS.includes(flavor)) problems.push(`SETTINGS_FLAVOR=${flavorValue}: Berth has no driver for that storage (drivers: filesystem, s3, swift)`);
  else problems.push(`SETTINGS_FLAVOR=${flavorValue}: unknown flavor (the old registry's flavors Berth maps: local, dev, test, s3, prod, ceph-s3, swift)`);

  if (driver !== undefined) {
    if (explicitDriver) notes.push(`REGISTRY_STORAGE is set and chooses the driver; SETTINGS_FLAVOR=${flavorValue} only fills keys of storage.${driver}`);
    else switchDriver(doc, driver, notes);
    if (driver === 'filesystem') {
      const path = get(env, 'STORAGE_PATH');
      m.fill(path === undefined ? 'STORAGE_PATH (default)' : 'STORAGE_PATH', 'storage.filesystem.rootdirectory', path ?? FILESYSTEM_FLAVORS[flavor] ?? '/tmp/registry');
    } else if (driver === 's3') {
      mapS3(m, env, flavor);
    } else {
      mapSwift(m, env, problems);
    }
  }

  // The old launcher listened on REGISTRY_HOST:REGISTRY_PORT, 0.0.0.0:5000 by default.
  const port = get(env, 'REGISTRY_PORT');
  const host = get(env, 'REGISTRY_HOST') ?? '0.0.0.0';
  const barePort = port !== undefined && /^\d{1,5}$/.test(port) ? port : undefined;
  m.fill(barePort === undefined ? 'REGISTRY_HOST, REGISTRY_PORT (defaults)' : 'REGISTRY_HOST, REGISTRY_PORT', 'http.addr', `${host.includes(':') ? `[${host}]` : host}:${barePort ?? '5000'}`);

  const level = get(env, 'LOGLEVEL');
  if (level !== undefined && LOG_LEVELS[level.toLowerCase()] !== undefined) m.fill('LOGLEVEL', 'log.level', LOG_LEVELS[level.toLowerCase()]);
  const redirect = yamlBool(get(env, 'STORAGE_REDIRECT'));
  if (redirect !== undefined) m.fill('STORAGE_REDIRECT', 'storage.redirect.disable', !redirect);

  const search = get(env, 'SEARCH_BACKEND');
  if (search !== undefined) notes.push(`SEARCH_BACKEND=${search.slice(0, 40)}: Berth keeps no search index; v1 search is answered from the repositories in storage`);
  let workers: number | undefined;
  const gunicorn = get(env, 'GUNICORN_WORKERS');
  if (gunicorn !== undefined) {
    if (/^\d{1,4}$/.test(gunicorn) && Number(gunicorn) >= 1) {
      workers = Math.min(Number(gunicorn), 256);
      m.fill('GUNICORN_WORKERS', 'berth.workers', workers);
    } else {
      notes.push('GUNICORN_WORKERS: not a positive number (ignored)');
    }
  }
  for (const ignored of ['GUNICORN_GRACEFUL_TIMEOUT', 'GUNICORN_SILENT_TIMEOUT', 'STANDALONE', 'DISABLE_TOKEN_AUTH', 'DOCKER_REGISTRY_CONFIG']) {
    if (get(env, ignored) !== undefined) notes.push(`${ignored}: no Berth equivalent (ignored)`);
  }
  return { flavor, keys: m.keys, notes, ...(workers !== undefined ? { workers } : {}), problems };
}

/**
 * REGISTRY_PORT outside a legacy flavor: a bare number sets the port of http.addr (keeping its
 * host) unless REGISTRY_HTTP_ADDR is set; anything else (Kubernetes' `tcp://…`) is ignored.
 * Returns a warning for the ignored case.
 */
export function applyRegistryPort(doc: ConfigObject, env: Env): string | undefined {
  const port = get(env, 'REGISTRY_PORT');
  if (port === undefined || get(env, 'REGISTRY_HTTP_ADDR') !== undefined) return undefined;
  if (!/^\d{1,5}$/.test(port)) return 'REGISTRY_PORT: not a bare port number (e.g. set by a Kubernetes service named "registry"); ignored';
  const http = isObject(doc['http']) ? doc['http'] : {};
  const current = typeof http['addr'] === 'string' ? http['addr'] : '127.0.0.1:5000';
  const hostPart = current.replace(/:\d{1,5}$/, '');
  http['addr'] = `${hostPart}:${port}`;
  doc['http'] = http;
  return undefined;
}

/**
 * `GUNICORN_WORKERS` without `SETTINGS_FLAVOR`: the old image's worker count is an alias of
 * `berth.workers` on its own too (the config file and `REGISTRY_BERTH_WORKERS` win).
 */
export function applyWorkersAlias(doc: ConfigObject, env: Env): string | undefined {
  const value = get(env, 'GUNICORN_WORKERS');
  if (value === undefined || get(env, 'SETTINGS_FLAVOR') !== undefined) return undefined;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1) return 'GUNICORN_WORKERS: not a positive number (ignored)';
  const berth = isObject(doc['berth']) ? doc['berth'] : {};
  if (berth['workers'] === undefined) berth['workers'] = Math.min(Number(value), 256);
  doc['berth'] = berth;
  return undefined;
}
