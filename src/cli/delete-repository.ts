/**
 * `berth delete-repository NAME config.yml`: deletes a repository's tags, manifests and links
 * (src/ops/delete-repository.ts); its blobs are freed by the next garbage-collect. Refused (exit
 * 1) when `storage.delete.enabled` is false; exit 1 when there is no such repository.
 */
import { deleteRepository } from '../ops/delete-repository.js';
import { RegistryError } from '../errors/registry-error.js';
import { openStore, parseArgs, type Output } from './store.js';

export const DELETE_REPOSITORY_USAGE = 'berth delete-repository NAME config.yml';

export async function deleteRepositoryCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: Output): Promise<number> {
  const parsed = parseArgs(args);
  const [name, configPath] = parsed.positional;
  if (name === undefined || configPath === undefined || parsed.positional.length > 2 || parsed.flags.size > 0) {
    io.err(`usage: ${DELETE_REPOSITORY_USAGE}`);
    return 2;
  }
  const { config, driver } = await openStore(configPath, env);
  try {
    await deleteRepository(driver, name, { deleteEnabled: config.storage.deleteEnabled, readOnly: config.storage.readOnly });
  } catch (error) {
    if (error instanceof RegistryError) {
      io.err(`delete-repository: ${name}: ${error.code}: ${error.message}`);
      return 1;
    }
    throw error;
  }
  io.out(`deleted repository ${name} (its blobs are freed by the next garbage-collect)`);
  return 0;
}
