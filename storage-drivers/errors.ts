/**
 * Errors at the storage driver boundary. Drivers throw these classes (never backend-specific
 * errors); the registry core branches on them, and `src/errors/translate.ts` maps them to registry
 * errors once. Every error carries the driver's name and the path involved.
 */

/** Base class of all driver errors. */
export class DriverError extends Error {
  override readonly name: string = 'DriverError';
  constructor(
    readonly driverName: string,
    message: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Nothing exists at the path. */
export class PathNotFoundError extends DriverError {
  override readonly name = 'PathNotFoundError';
  constructor(driverName: string, path: string) {
    super(driverName, `path not found: ${path}`, path);
  }
}

/** The path does not match the driver path grammar. */
export class InvalidPathError extends DriverError {
  override readonly name = 'InvalidPathError';
  constructor(driverName: string, path: string) {
    super(driverName, `invalid path: ${JSON.stringify(path.slice(0, 200))}`, path);
  }
}

/** A read offset that is negative or otherwise unusable. */
export class InvalidOffsetError extends DriverError {
  override readonly name = 'InvalidOffsetError';
  constructor(driverName: string, path: string, readonly offset: number) {
    super(driverName, `invalid offset ${offset} for ${path}`, path);
  }
}

/** The driver does not implement an optional operation. */
export class UnsupportedMethodError extends DriverError {
  override readonly name = 'UnsupportedMethodError';
  constructor(driverName: string, method: string) {
    super(driverName, `${method} is not supported by the ${driverName} driver`);
  }
}

/** The backend could not be reached or answered with a server error: the request may be retried. */
export class BackendUnavailableError extends DriverError {
  override readonly name = 'BackendUnavailableError';
}

/** A small-object call (getContent/putContent) exceeded its size cap. */
export class ContentTooLargeError extends DriverError {
  override readonly name = 'ContentTooLargeError';
}
