/**
 * Shared by the store-wide commands (garbage-collect, scrub, delete-repository): their argument
 * parsing (flags before or after the config path) and opening the configured storage driver.
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { createDriver } from '../../storage-drivers/index.js';
import { ConfigError, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';

export interface ParsedArgs {
  readonly flags: ReadonlySet<string>;
  readonly values: ReadonlyMap<string, string>;
  readonly positional: readonly string[];
}

/** `--flag`, `-f` (mapped through `aliases`), `--key=value`; everything else is positional. */
export function parseArgs(args: readonly string[], aliases: Readonly<Record<string, string>> = {}): ParsedArgs {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const positional: string[] = [];
  for (const arg of args) {
    if (arg.startsWith('--') && arg.includes('=')) {
      const eq = arg.indexOf('=');
      values.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (arg.startsWith('-') && arg.length > 1) {
      flags.add(aliases[arg] ?? arg.replace(/^-+/, ''));
    } else positional.push(arg);
  }
  return { flags, values, positional };
}

export async function openStore(configPath: string, env: NodeJS.ProcessEnv): Promise<{ config: Config; driver: StorageDriver }> {
  const { config } = await loadConfigFile(configPath, env);
  const driver = createDriver(config.storage.driver, config.storage.params);
  return { config, driver };
}

/** openStore, with a configuration error written to `output` (undefined then: exit 1). */
export async function openStoreOrReport(configPath: string, env: NodeJS.ProcessEnv, output: Output): Promise<{ config: Config; driver: StorageDriver } | undefined> {
  try {
    return await openStore(configPath, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const p of error.problems) output.err(`error: ${p}`);
      return undefined;
    }
    throw error;
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i] ?? ''} (${n} bytes)`;
}

export interface Output {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** A transient progress line (terminal only). */
  readonly status?: (line: string) => void;
}
