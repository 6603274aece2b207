/**
 * The driver factory: a static table from driver name (the key under `storage:` in the config)
 * to a factory that validates that driver's parameters with its own zod schema and builds it.
 *
 * `createDriver(name, params, options)` is what the application calls: it returns the driver
 * wrapped in `checked()`, with `options` (observe hook, content cap) merged with the limits the
 * parameters ask for (the filesystem's `maxthreads`). Parameter problems are thrown as plain
 * `Error`s whose message names the key, e.g. `storage.filesystem.rootdirectory: expected a string`.
 * To add a driver: implement `driver.ts`, add a schema next to it and an entry to
 * {@link DRIVER_FACTORIES}, and run `runDriverSuite` for it (see CONTRIBUTING).
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { checked, type CheckedOptions } from './checked.js';
import type { StorageDriver } from './driver.js';
import { createFilesystemDriver } from './filesystem/index.js';
import { filesystemParamsSchema } from './filesystem/params.js';
import { createInMemoryDriver } from './inmemory/index.js';
import { lazyDriver } from './lazy.js';
import { s3OptionsFromParams, s3ParamsSchema } from './s3/params.js';
import { createSwiftDriver, swiftParamsSchema } from './swift/index.js';

/** Driver parameters as they come from the config: lowercase keys, untrusted values. */
export type DriverParams = Readonly<Record<string, unknown>>;

export interface FactoryContext {
  /** Only validate: build nothing that touches the backend (`berth verify-config`). */
  readonly validateOnly: boolean;
}

/** What a factory builds: the raw driver, plus the limits its parameters ask checked() for. */
export interface CreatedDriver {
  readonly driver: StorageDriver;
  readonly maxConcurrency?: number;
}

/** Validates `params` (throwing an Error naming the bad key) and builds the raw driver. */
export type DriverFactory = (params: DriverParams, context: FactoryContext) => CreatedDriver;

/** Thrown by createDriver for a name that is not in the factory table. */
export class UnknownDriverError extends Error {
  override readonly name = 'UnknownDriverError';
  constructor(
    readonly driverName: string,
    readonly knownDrivers: readonly string[],
  ) {
    super(`unknown storage driver ${JSON.stringify(driverName)} (known: ${knownDrivers.join(', ')})`);
  }
}

/**
 * Parses `params` with `schema`; on failure throws one Error listing every problem as
 * `storage.<driver>.<key>: <message>`.
 */
export function parseDriverParams<S extends z.ZodType>(
  driverName: string,
  schema: S,
  params: DriverParams | null | undefined,
): z.output<S> {
  const result = schema.safeParse(params ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) => {
    const at = `storage.${[driverName, ...issue.path.map(String)].join('.')}`;
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${at}.${key}: unknown parameter`);
    }
    return [`${at}: ${issue.message}`];
  });
  throw new Error(problems.join('; '));
}

const inmemoryParamsSchema = z.object({}).strict();

/** Every driver this build knows. s3 and swift join here when they land. */
export const DRIVER_FACTORIES: Readonly<Record<string, DriverFactory>> = {
  inmemory: (params) => {
    parseDriverParams('inmemory', inmemoryParamsSchema, params);
    return { driver: createInMemoryDriver() };
  },
  filesystem: (params, context) => {
    const parsed = parseDriverParams('filesystem', filesystemParamsSchema, params);
    const rootDirectory = resolve(parsed.rootdirectory);
    if (!context.validateOnly) {
      try {
        mkdirSync(rootDirectory, { recursive: true });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        throw new Error(
          `storage.filesystem.rootdirectory: cannot create ${rootDirectory} (${String(code ?? error)})`,
          { cause: error },
        );
      }
    }
    return { driver: createFilesystemDriver({ rootDirectory }), maxConcurrency: parsed.maxthreads };
  },
  // Building the client touches nothing (credentials and endpoint are used on the first request).
  s3: (params) => {
    const options = s3OptionsFromParams(parseDriverParams('s3', s3ParamsSchema, params));
    // The AWS SDK is loaded on first use, so processes on other drivers never pay for it.
    return { driver: lazyDriver('s3', async () => (await import('./s3/index.js')).createS3Driver(options)) };
  },
  // Nothing touches Swift until the first call (auth and container creation are lazy).
  swift: (params) => ({ driver: createSwiftDriver({ params: parseDriverParams('swift', swiftParamsSchema, params) }) }),
};

/** Names of the drivers `createDriver` accepts. */
export function driverNames(factories: Readonly<Record<string, DriverFactory>> = DRIVER_FACTORIES): string[] {
  return Object.keys(factories);
}

export interface CreateDriverOptions extends CheckedOptions {
  /** Validate the parameters only; the returned driver must not be used. */
  readonly validateOnly?: boolean;
  /** The factory table (tests inject their own; default {@link DRIVER_FACTORIES}). */
  readonly factories?: Readonly<Record<string, DriverFactory>>;
}

/**
 * Builds the driver `name` from its config parameters and wraps it in `checked()`. An explicit
 * `options.maxConcurrency` wins over the one the parameters imply.
 */
export function createDriver(
  name: string,
  params: DriverParams | null | undefined,
  options: CreateDriverOptions = {},
): StorageDriver {
  const factories = options.factories ?? DRIVER_FACTORIES;
  const factory = Object.hasOwn(factories, name) ? factories[name] : undefined;
  if (factory === undefined) throw new UnknownDriverError(name, driverNames(factories));
  const created = factory(params ?? {}, { validateOnly: options.validateOnly === true });
  const maxConcurrency = options.maxConcurrency ?? created.maxConcurrency;
  return checked(created.driver, {
    ...(options.maxContentBytes === undefined ? {} : { maxContentBytes: options.maxContentBytes }),
    ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
    ...(options.observe === undefined ? {} : { observe: options.observe }),
  });
}
