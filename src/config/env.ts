/**
 * `REGISTRY_*` environment overrides, mapped onto config keys the way distribution does it:
 * `REGISTRY_HTTP_ADDR` → `http.addr`, `REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY` →
 * `storage.filesystem.rootdirectory`, and `REGISTRY_STORAGE=s3` switches the storage driver.
 * `true`/`false` and plain integers become booleans and numbers; everything else stays a string.
 */
import { KNOWN_KEYS, STORAGE_DRIVERS, type KeyTree } from './schema.js';

export type ConfigObject = Record<string, unknown>;

function isObject(value: unknown): value is ConfigObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalar(value: string): unknown {
  // Only unambiguous scalars are converted, so credentials like "0123" or "1e5" stay strings.
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  if (/^-?(0|[1-9]\d{0,14})$/.test(value)) return Number(value);
  return value;
}

/** Maps `a_b_c` segments onto a key path using the known tree; undefined if no key matches. */
export function envKeyPath(segments: readonly string[], tree: KeyTree = KNOWN_KEYS): string[] | undefined {
  if (segments.length === 0) return undefined;
  for (let take = segments.length; take >= 1; take--) {
    const key = segments.slice(0, take).join('_');
    const node = tree[key];
    if (node === undefined) continue;
    const rest = segments.slice(take);
    if (node === true) return rest.length === 0 ? [key] : undefined;
    if (node === 'map') return rest.length === 0 ? [key] : [key, rest.join('_')];
    if (rest.length === 0) return [key];
    const sub = envKeyPath(rest, node);
    if (sub !== undefined) return [key, ...sub];
  }
  return undefined;
}

/**
 * Applies overrides in place; returns warnings for variables that match no key. `handled` names
 * variables another layer already read (REGISTRY_PORT, REGISTRY_HOST: legacy-env.ts).
 */
export function applyEnv(config: ConfigObject, env: NodeJS.ProcessEnv, handled: ReadonlySet<string> = new Set()): string[] {
  const warnings: string[] = [];
  const names = Object.keys(env)
    .filter((n) => n.startsWith('REGISTRY_') && !handled.has(n))
    .sort();
  const storageSwitch = env['REGISTRY_STORAGE'];
  if (storageSwitch !== undefined) {
    const driver = storageSwitch.toLowerCase();
    if ((STORAGE_DRIVERS as readonly string[]).includes(driver)) {
      const storage = isObject(config['storage']) ? config['storage'] : {};
      for (const d of STORAGE_DRIVERS) if (d !== driver) delete storage[d];
      if (!isObject(storage[driver])) storage[driver] = {};
      config['storage'] = storage;
    } else {
      warnings.push(`REGISTRY_STORAGE: unknown storage driver ${JSON.stringify(storageSwitch)}`);
    }
  }
  for (const name of names) {
    if (name === 'REGISTRY_STORAGE') continue;
    const value = env[name];
    if (value === undefined) continue;
    const path = envKeyPath(name.slice('REGISTRY_'.length).toLowerCase().split('_'));
    if (path === undefined) {
      warnings.push(`${name}: no such configuration key (ignored)`);
      continue;
    }
    let node = config;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (!isObject(next)) node[key] = {};
      node = node[key] as ConfigObject;
    }
    node[path[path.length - 1] as string] = scalar(value);
  }
  return warnings;
}

/** Dotted names of keys present in the config that the known tree does not have. */
export function unknownKeys(config: unknown, tree: KeyTree = KNOWN_KEYS, prefix = ''): string[] {
  if (!isObject(config)) return [];
  const out: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    const node = tree[key];
    const dotted = prefix === '' ? key : `${prefix}.${key}`;
    if (node === undefined) out.push(dotted);
    else if (node !== true && node !== 'map') out.push(...unknownKeys(value, node, dotted));
  }
  return out;
}
