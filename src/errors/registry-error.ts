/**
 * RegistryError: what handlers and core code throw. It carries a code from the one table
 * (`codes.ts`), an optional detail, and for the few documented cases an overriding status
 * (413 for oversized bodies). The error middleware is the only place that turns it into HTTP.
 */
import { ERROR_CODES, type ErrorCode } from './codes.js';

export interface RegistryErrorOptions {
  readonly message?: string;
  readonly detail?: unknown;
  /** Only for documented overrides (e.g. SIZE_INVALID as 413 for a body over a limit). */
  readonly status?: number;
  /** Extra response headers (e.g. WWW-Authenticate, Retry-After). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, options: RegistryErrorOptions = {}) {
    super(options.message ?? ERROR_CODES[code].message, { cause: options.cause });
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }
}

export function isRegistryError(error: unknown): error is RegistryError {
  return error instanceof RegistryError;
}
