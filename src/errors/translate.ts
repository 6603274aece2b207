/**
 * Maps anything thrown below the HTTP layer to a RegistryError, in one place: driver errors
 * (backend unreachable → UNAVAILABLE), aborted client streams, and unknown errors (→ UNKNOWN,
 * whose internals go to the log only).
 */
import {
  BackendUnavailableError,
  ContentTooLargeError,
  DriverError,
  InvalidPathError,
} from '../../storage-drivers/errors.js';
import { RegistryError, isRegistryError } from './registry-error.js';

export function toRegistryError(error: unknown): RegistryError {
  if (isRegistryError(error)) return error;
  if (error instanceof BackendUnavailableError) {
    return new RegistryError('UNAVAILABLE', {
      message: 'storage backend unavailable, retry later',
      headers: { 'Retry-After': '5' },
      cause: error,
    });
  }
  if (error instanceof InvalidPathError) {
    return new RegistryError('NAME_INVALID', { message: 'invalid name or reference', cause: error });
  }
  if (error instanceof ContentTooLargeError) {
    return new RegistryError('SIZE_INVALID', { status: 413, message: 'content too large', cause: error });
  }
  if (error instanceof DriverError) {
    return new RegistryError('UNKNOWN', { message: 'storage error', cause: error });
  }
  return new RegistryError('UNKNOWN', { cause: error });
}

/** True for errors that mean the client went away (not a server fault). */
export function isClientAbort(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return (
    error.name === 'AbortError' ||
    code === 'ECONNRESET' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'EPIPE' ||
    code === 'ABORT_ERR'
  );
}
