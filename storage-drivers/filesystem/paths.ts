/**
 * Maps driver paths onto the filesystem under the root directory, and names temp files.
 *
 * The mapping is the driver's own last line of defence against escaping the root: it does not
 * trust that `checked()` ran first, so `..`, `.`, empty segments, NUL and backslashes are refused
 * here too, and the result is verified to lie inside the root.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import { InvalidPathError } from '../errors.js';

/**
 * Names that a driver path can address (one segment of `PATH_PATTERN`). Directory entries whose
 * names do not match, such as our temp files, are invisible to `list()`.
 */
const ADDRESSABLE_NAME = /^[A-Za-z0-9._:+-]+$/;

/** Prefix of temp files. `~` is outside the path grammar, so no driver path can name one. */
const TEMP_PREFIX = '.tmp~';

export interface PathMapper {
  /** The absolute, normalised root directory. */
  readonly root: string;
  /** OS path for a driver path; throws InvalidPathError for anything that could leave the root. */
  toOs(path: string): string;
  /** Driver path of the child `name` of the directory at driver path `parent`. */
  child(parent: string, name: string): string;
}

export function createPathMapper(driverName: string, rootDirectory: string): PathMapper {
  const root = resolve(rootDirectory);
  const rootWithSep = root.endsWith(sep) ? root : root + sep;
  return {
    root,
    toOs(path: string): string {
      if (typeof path !== 'string' || !path.startsWith('/')) throw new InvalidPathError(driverName, String(path));
      if (path === '/') return root;
      const segments = path.slice(1).split('/');
      for (const segment of segments) {
        if (
          segment === '' ||
          segment === '.' ||
          segment === '..' ||
          segment.includes('\0') ||
          segment.includes('\\')
        ) {
          throw new InvalidPathError(driverName, path);
        }
      }
      const mapped = join(root, ...segments);
      if (!mapped.startsWith(rootWithSep)) throw new InvalidPathError(driverName, path);
      return mapped;
    },
    child(parent: string, name: string): string {
      return parent === '/' ? `/${name}` : `${parent}/${name}`;
    },
  };
}

/** True for directory entries that `list()` reports. */
export function isListed(name: string): boolean {
  return ADDRESSABLE_NAME.test(name) && name !== '.' && name !== '..';
}

/** A fresh temp file path next to `osPath` (same directory, so a rename is atomic). */
export function tempPathFor(osPath: string): string {
  return join(dirname(osPath), `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
}
