/**
 * Read-only access to the tree the old Python registry wrote under its `storage_path`
 * (`images/<id>/…`, `repositories/<ns>/<repo>/…`), for the v1 storage import. Two places hold
 * such a tree: a local directory (the `local`/`dev` flavors' STORAGE_PATH; local.py/file.py) and
 * a Swift container, where the old swift driver named each object `<storage_path>/<path>` with
 * the leading slash dropped (docker-registry-driver-swift `_init_path`).
 *
 * Paths are given as segments and every segment is checked before anything is touched: no empty
 * segment, no `.`/`..`, no slash, backslash or NUL. The local source also refuses anything whose
 * real path (symlinks resolved) leaves the tree, so a symlinked `layer` pointing at /etc/shadow is
 * an error, not an import; a tree that was moved to another disk as a whole is fine (the root
 * itself is resolved first).
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { SwiftDriver } from '../../storage-drivers/swift/index.js';

/** A problem with the old tree itself (a hostile path, a symlink out of the tree, a file too large). */
export class V1TreeError extends Error {
  override readonly name = 'V1TreeError';
}

export interface V1TreeSource {
  /** What the source is, for the report (no credentials). */
  readonly description: string;
  /** Names of the direct children of a directory; [] when it does not exist. */
  list(dir: readonly string[]): Promise<string[]>;
  /** A small file whole; undefined when missing; V1TreeError when larger than `maxBytes`. */
  read(path: readonly string[], maxBytes: number): Promise<Buffer | undefined>;
  /** A file as a stream (never buffered whole); undefined when missing. */
  open(path: readonly string[]): Promise<Readable | undefined>;
  /** Whether a file (or directory) exists. */
  exists(path: readonly string[]): Promise<boolean>;
}

function checkSegments(path: readonly string[]): void {
  for (const segment of path) {
    if (segment === '' || segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) {
      throw new V1TreeError(`refusing the path segment ${JSON.stringify(segment.slice(0, 80))}`);
    }
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The old tree in a local directory. */
export async function localV1Tree(root: string): Promise<V1TreeSource> {
  const realRoot = await realpath(root);
  if (!(await lstat(realRoot)).isDirectory()) throw new V1TreeError(`${root} is not a directory`);
  /** The real path of `path`, undefined when missing; refuses anything resolving outside the root. */
  const resolve = async (path: readonly string[]): Promise<string | undefined> => {
    checkSegments(path);
    let real: string;
    try {
      real = await realpath(join(realRoot, ...path));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    if (real !== realRoot && !real.startsWith(realRoot + sep)) {
      throw new V1TreeError(`${path.join('/')} leads out of the tree (symlink to ${real})`);
    }
    return real;
  };
  const regularFile = async (path: readonly string[]): Promise<{ real: string; size: number } | undefined> => {
    const real = await resolve(path);
    if (real === undefined) return undefined;
    const info = await lstat(real);
    if (!info.isFile()) throw new V1TreeError(`${path.join('/')} is not a regular file`);
    return { real, size: info.size };
  };
  return {
    description: `directory ${realRoot}`,
    async list(dir) {
      const real = await resolve(dir);
      if (real === undefined) return [];
      try {
        return await readdir(real);
      } catch (error) {
        if (isMissing(error)) return [];
        throw error;
      }
    },
    async read(path, maxBytes) {
      const file = await regularFile(path);
      if (file === undefined) return undefined;
      if (file.size > maxBytes) throw new V1TreeError(`${path.join('/')} is ${file.size} bytes, more than the ${maxBytes} accepted`);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of createReadStream(file.real)) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) throw new V1TreeError(`${path.join('/')} grew past the ${maxBytes} bytes accepted`);
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks, total);
    },
    async open(path) {
      const file = await regularFile(path);
      return file === undefined ? undefined : createReadStream(file.real);
    },
    async exists(path) {
      return (await resolve(path)) !== undefined;
    },
  };
}

/**
 * The old tree in a Swift container, read through the swift driver's object client (plain object
 * names, not the driver's own `files/` layout). `storagePath` is the old STORAGE_PATH
 * (default `/registry`).
 */
export function swiftV1Tree(driver: SwiftDriver, storagePath: string): V1TreeSource {
  const root = storagePath.replace(/^\/+|\/+$/g, '');
  const objectName = (path: readonly string[]): string => {
    checkSegments(path);
    return [root, ...path].filter((s) => s !== '').join('/');
  };
  return {
    description: `swift container ${driver.container}, storage path /${root}`,
    async list(dir) {
      const prefix = dir.length === 0 && root === '' ? '' : `${objectName(dir)}/`;
      const names = new Set<string>();
      for await (const entry of driver.client.list({ prefix, delimiter: '/' })) {
        const rest = entry.name.slice(prefix.length).replace(/\/$/, '');
        if (rest !== '' && !rest.includes('/')) names.add(rest);
      }
      return [...names];
    },
    async read(path, maxBytes) {
      const name = objectName(path);
      return driver.client.getSmall(name, `/${name}`, maxBytes, (size) => new V1TreeError(`${path.join('/')} is ${size} bytes, more than the ${maxBytes} accepted`));
    },
    async open(path) {
      const name = objectName(path);
      return driver.client.openRead(name, `/${name}`, { offset: 0 });
    },
    async exists(path) {
      const name = objectName(path);
      if ((await driver.client.head(name, `/${name}`)) !== undefined) return true;
      for await (const entry of driver.client.list({ prefix: `${name}/`, limit: 1 })) if (entry.name !== '') return true;
      return false;
    },
  };
}
