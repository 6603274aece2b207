/**
 * `berth import-v1-storage SOURCE [config.yml] [--tagged-only]`: the one-time conversion of the
 * old Python registry's storage into Berth's (src/archive/v1-storage-import.ts). SOURCE is
 *   - a directory: the old STORAGE_PATH of the `local`/`dev` flavors (it may be Berth's own
 *     filesystem root: Berth's tree lives under `docker/registry/`, the old one beside it);
 *   - `swift:` — the old `swift` flavor's tree, found the way the old registry found it: OS_AUTH_URL,
 *     OS_USERNAME, OS_PASSWORD, OS_AUTH_VERSION, OS_TENANT_NAME, OS_REGION_NAME, OS_CONTAINER
 *     (default `dev_container`) and STORAGE_PATH (default `/registry`), read through Berth's swift
 *     driver client; `swift://<container>/<storage path>` names container and path explicitly.
 * The target is the storage of the configuration (file, BERTH_CONFIG, or SETTINGS_FLAVOR/REGISTRY_*
 * variables as for `berth serve`). Progress and the summary go to stdout, the exit code is 0 only
 * when nothing failed. Credentials are never printed.
 */
import { createDriver, parseDriverParams } from '../../storage-drivers/index.js';
import { createSwiftDriver, swiftParamsSchema } from '../../storage-drivers/swift/index.js';
import { localV1Tree, swiftV1Tree, type V1TreeSource } from '../archive/v1-tree-source.js';
import { importV1Storage } from '../archive/v1-storage-import.js';
import type { ConfigObject } from '../config/env.js';
import { applyLegacyEnv } from '../config/legacy-env.js';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../config/load.js';
import { createRegistry } from '../core/registry.js';
import { V1Store } from '../core/v1/store.js';

export const IMPORT_USAGE = `berth import-v1-storage SOURCE [config.yml] [--tagged-only]
                                    import the old Python registry's v1 storage into Berth's
                                    (SOURCE: its STORAGE_PATH directory, swift: or swift://container/path)`;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** The old swift flavor's tree: credentials from the OS_* variables, as the old registry read them. */
function swiftSource(spec: string, env: NodeJS.ProcessEnv): V1TreeSource {
  const doc: ConfigObject = {};
  const legacy = applyLegacyEnv(doc, { ...env, SETTINGS_FLAVOR: 'swift', REGISTRY_STORAGE: undefined });
  if (legacy !== undefined && legacy.problems.length > 0) throw new Error(legacy.problems.join('; '));
  const storage = doc['storage'] as ConfigObject | undefined;
  const params = { ...((storage?.['swift'] as ConfigObject | undefined) ?? {}) };
  if (spec.startsWith('swift://')) {
    const rest = spec.slice('swift://'.length);
    const slash = rest.indexOf('/');
    params['container'] = slash === -1 ? rest : rest.slice(0, slash);
    params['prefix'] = slash === -1 ? '/' : rest.slice(slash);
  } else if (spec !== 'swift:') {
    throw new Error(`${spec}: expected swift: or swift://<container>/<storage path>`);
  }
  const storagePath = typeof params['prefix'] === 'string' ? params['prefix'] : '/registry';
  const driver = createSwiftDriver({ params: parseDriverParams('swift', swiftParamsSchema, params) });
  return swiftV1Tree(driver, storagePath);
}

export async function importV1StorageCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const flags = args.filter((a) => a.startsWith('--'));
  const positional = args.filter((a) => !a.startsWith('--'));
  const unknown = flags.filter((f) => f !== '--tagged-only');
  const [sourceSpec, configArg] = positional;
  if (sourceSpec === undefined || positional.length > 2 || unknown.length > 0) {
    io.err(`usage: ${IMPORT_USAGE}`);
    return 2;
  }
  const configPath = configArg ?? env['BERTH_CONFIG'];
  if (configPath === undefined && (env['SETTINGS_FLAVOR'] ?? '') === '' && (env['REGISTRY_STORAGE'] ?? '') === '') {
    io.err('import-v1-storage: name Berth\'s configuration file (or set BERTH_CONFIG / SETTINGS_FLAVOR): it says where to import to');
    return 2;
  }
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfigFile(configPath, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const p of error.problems) io.err(`error: ${p}`);
      return 1;
    }
    throw error;
  }
  const { config } = loaded;
  if (config.storage.readOnly) {
    io.err('import-v1-storage: the configuration\'s storage is read-only (storage.maintenance.readonly); nothing can be imported');
    return 1;
  }
  let source: V1TreeSource;
  try {
    source = sourceSpec === 'swift:' || sourceSpec.startsWith('swift://') ? swiftSource(sourceSpec, env) : await localV1Tree(sourceSpec);
  } catch (error) {
    io.err(`import-v1-storage: ${sourceSpec}: ${(error as Error).message}`);
    return 1;
  }
  const driver = createDriver(config.storage.driver, config.storage.params);
  const now = (): Date => new Date();
  const registry = createRegistry(driver, { maxBlobBytes: config.berth.maxBlobBytes, manifestCacheBytes: config.berth.manifestCacheBytes, now });
  const store = new V1Store(registry, { maxLayerBytes: config.berth.maxBlobBytes, now, recordBridge: true });
  io.out(`target: Berth storage ${config.storage.driver}`);
  const summary = await importV1Storage(source, registry, store, {
    taggedOnly: flags.includes('--tagged-only'),
    maxJsonBytes: config.berth.maxManifestBytes,
    report: io.out,
  });
  return summary.ok ? 0 : 1;
}
