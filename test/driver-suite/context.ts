/**
 * What a driver-suite case receives (its driver and its own path prefix) and the small helpers
 * cases share: writing through a FileWriter, reading a path whole or as a digest, and asserting
 * driver error classes.
 */
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import type { ReadOptions, StorageDriver } from '../../storage-drivers/driver.js';
import { DriverError } from '../../storage-drivers/errors.js';
import { digestOf, readAll } from './data.js';

export interface SuiteContext {
  /** The driver under test behind `checked()`, with a content cap of {@link SuiteContext.contentCap}. */
  readonly driver: StorageDriver;
  /** The driver as created, without `checked()`. */
  readonly raw: StorageDriver;
  /** A directory no other case uses, e.g. `/suite-list-nested-3f2a`. Removed after the case. */
  readonly prefix: string;
  /** `prefix` joined with segments: `path('a', 'b')` is `${prefix}/a/b`. */
  path(...segments: string[]): string;
  /** The getContent/putContent cap the suite configured. */
  readonly contentCap: number;
  /** Size of the "large" round trip (default 32 MiB). */
  readonly largeBytes: number;
}

export interface SuiteCase {
  readonly name: string;
  readonly run: (context: SuiteContext) => Promise<void>;
}

type Source = Readable | AsyncIterable<Uint8Array>;

/** One writer session: opens, writes each source, then commits (default) or closes/cancels. */
export async function writeSession(
  driver: StorageDriver,
  path: string,
  sources: readonly Source[],
  options: { append?: boolean; finish?: 'commit' | 'close' | 'cancel'; expectSize?: number } = {},
): Promise<number> {
  const writer = await driver.writer(path, { append: options.append === true });
  if (options.expectSize !== undefined) {
    assert.equal(writer.size, options.expectSize, `size when opening ${path}`);
  }
  let total = 0;
  for (const source of sources) {
    const before = writer.size;
    const written = await writer.write(source);
    assert.equal(writer.size, before + written, 'size grows by what write() resolved with');
    total += written;
  }
  await writer[options.finish ?? 'commit']();
  return total;
}

/** Whole content of `path` through a reader. */
export async function readPath(driver: StorageDriver, path: string, options?: ReadOptions): Promise<Buffer> {
  return readAll(await driver.reader(path, options));
}

/** sha256 and size of `path` through a reader. */
export async function digestPath(
  driver: StorageDriver,
  path: string,
  options?: ReadOptions,
): Promise<{ digest: string; size: number }> {
  return digestOf(await driver.reader(path, options));
}

/** Asserts that `action` rejects with an instance of `kind` (a DriverError class). */
export async function rejectsWith(
  action: Promise<unknown> | (() => Promise<unknown>),
  kind: abstract new (...args: never[]) => DriverError,
  message?: string,
): Promise<void> {
  const promise = typeof action === 'function' ? action() : action;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(
      error instanceof kind,
      `${message ?? 'expected'} ${kind.name}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
    return true;
  });
}

/** True for AbortErrors (Node's and the drivers'). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Sorted copy, for comparing unordered lists. */
export function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}
