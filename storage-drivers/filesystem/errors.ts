/**
 * Translation of Node `fs` errors into driver errors: no raw fs error leaves this driver.
 *
 * Lookups (stat, getContent, opening a reader, list, delete, a move's source) map "nothing
 * there" codes to PathNotFoundError. Other I/O (writes, reads of an open file) maps them to a
 * plain DriverError, because there the cause is something else (a parent that is a file, a root
 * removed under us).
 * Transient resource exhaustion (EMFILE, ENFILE, EAGAIN, EBUSY) becomes BackendUnavailableError,
 * which the registry may retry or answer with 503. AbortErrors pass through unchanged.
 */
import { BackendUnavailableError, DriverError, PathNotFoundError } from '../errors.js';
import { isAbortError } from '../source.js';

/** `lookup`: "nothing there" means PathNotFoundError; `io`: it is a failure of the operation. */
export type Access = 'lookup' | 'io';

const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR']);
const TRANSIENT = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY']);

/** The `code` of a Node system error, if any. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function translateFsError(
  driverName: string,
  op: string,
  path: string,
  access: Access,
  error: unknown,
): Error {
  if (error instanceof DriverError || isAbortError(error)) return error as Error;
  const code = errorCode(error);
  if (access === 'lookup' && code !== undefined && (NOT_FOUND.has(code) || code === 'EISDIR')) {
    return new PathNotFoundError(driverName, path);
  }
  const detail = describe(code, access, error);
  if (code !== undefined && TRANSIENT.has(code)) {
    return new BackendUnavailableError(driverName, `${op}: ${detail}`, path, { cause: error });
  }
  return new DriverError(driverName, `${op}: ${detail}`, path, { cause: error });
}

function describe(code: string | undefined, access: Access, error: unknown): string {
  if (access === 'io' && code === 'ENOTDIR') return 'a parent of the path is a file (ENOTDIR)';
  if (access === 'io' && code === 'EISDIR') return 'a directory exists at the path (EISDIR)';
  if (code !== undefined) return `filesystem error ${code}`;
  return error instanceof Error ? error.message : String(error);
}

/** Calls `fn`, translating whatever it throws. */
export async function fsCall<T>(
  driverName: string,
  op: string,
  path: string,
  access: Access,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw translateFsError(driverName, op, path, access, error);
  }
}
