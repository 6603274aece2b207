/**
 * The repository catalog: walks `repositories/` for directories that hold `_manifests` (a
 * repository may also contain nested repositories, e.g. `a` and `a/b`), in lexical order.
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { REPOSITORIES, basename } from './paths.js';
import { listOrEmpty } from './storage-helpers.js';
import { compareBytes } from './tag-store.js';

export class Catalog {
  constructor(private readonly driver: StorageDriver) {}

  /** Every repository name, sorted. */
  async all(): Promise<string[]> {
    const found: string[] = [];
    await this.walk(REPOSITORIES, '', found);
    return found.sort(compareBytes);
  }

  private async walk(dir: string, prefix: string, found: string[]): Promise<void> {
    const children = await listOrEmpty(this.driver, dir);
    const names = children.map(basename);
    if (names.includes('_manifests') && prefix !== '') found.push(prefix);
    await Promise.all(
      names
        .filter((n) => !n.startsWith('_'))
        .map((n) => this.walk(`${dir}/${n}`, prefix === '' ? n : `${prefix}/${n}`, found)),
    );
  }
}
