/**
 * The one storage-driver suite every driver runs: `runDriverSuite({ name, create, ... })`.
 *
 * It registers `describe(name)` with one `test` per case (cases-content.ts, cases-streams.ts,
 * cases-tree.ts). Each case gets a fresh driver from `create()`, wrapped in `checked()` (so the
 * path grammar is tested as the registry sees it), and a unique path prefix; the case's content
 * is deleted when it ends, and an `afterEach` then asserts that the driver root is empty
 * (distribution's cleanup rule: a recursive delete that leaves something behind fails the case).
 * A driver that cannot pass a case lists it in `skip` with a reason; skipped cases are reported
 * with that reason, and a skip naming no known case is an error (typos do not silently pass).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { checked } from '../../storage-drivers/checked.js';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { PathNotFoundError } from '../../storage-drivers/errors.js';
import { contentCases } from './cases-content.js';
import { streamCases } from './cases-streams.js';
import { treeCases } from './cases-tree.js';
import { MiB } from './data.js';
import type { SuiteCase, SuiteContext } from './context.js';

export interface DriverSuiteSkip {
  readonly reason: string;
  /** Case names, exactly as listed by {@link driverSuiteCaseNames}. */
  readonly tests: readonly string[];
}

export interface DriverSuiteOptions {
  /** Name of the `describe` block (usually the driver's name). */
  readonly name: string;
  /** A fresh driver for one case (raw: the suite wraps it in `checked()`). */
  readonly create: () => Promise<StorageDriver>;
  /** Releases what `create` made (a temp directory, a bucket prefix). */
  readonly destroy?: (driver: StorageDriver) => Promise<void>;
  readonly skip?: readonly DriverSuiteSkip[];
  /** Size of the large round trip; at least 32 MiB (the default) unless a skip explains why. */
  readonly largeBytes?: number;
}

/** The getContent/putContent cap the suite configures (small, so the cap case stays cheap). */
export const SUITE_CONTENT_CAP = MiB;

const CASES: readonly SuiteCase[] = [...contentCases, ...streamCases, ...treeCases];

/** Names of every case, for building skip lists. */
export function driverSuiteCaseNames(): string[] {
  return CASES.map((c) => c.name);
}

export function runDriverSuite(options: DriverSuiteOptions): void {
  const skipReasons = new Map<string, string>();
  const known = new Set(driverSuiteCaseNames());
  for (const skip of options.skip ?? []) {
    for (const name of skip.tests) {
      if (!known.has(name)) throw new Error(`runDriverSuite(${options.name}): no case named ${JSON.stringify(name)} to skip`);
      skipReasons.set(name, skip.reason);
    }
  }

  describe(options.name, () => {
    let raw: StorageDriver | undefined;
    let driver: StorageDriver | undefined;

    beforeEach(async () => {
      raw = await options.create();
      driver = checked(raw, { maxContentBytes: SUITE_CONTENT_CAP });
    });

    afterEach(async () => {
      const current = driver;
      const created = raw;
      driver = undefined;
      raw = undefined;
      if (current === undefined || created === undefined) return;
      try {
        const leftovers = await listRoot(current);
        if (leftovers.length > 0) {
          // Leave a clean driver behind for whoever shares the backend, then fail the case.
          for (const path of leftovers) await current.delete(path).catch(() => undefined);
          assert.fail(`the case left content behind: ${leftovers.join(', ')}`);
        }
      } finally {
        await options.destroy?.(created);
      }
    });

    for (const suiteCase of CASES) {
      const reason = skipReasons.get(suiteCase.name);
      test(suiteCase.name, reason === undefined ? {} : { skip: reason }, async () => {
        if (driver === undefined || raw === undefined) throw new Error('no driver: create() failed');
        const context = makeContext(driver, raw, suiteCase.name, options.largeBytes ?? 32 * MiB);
        try {
          await suiteCase.run(context);
        } finally {
          await driver.delete(context.prefix).catch((error: unknown) => {
            if (!(error instanceof PathNotFoundError)) throw error;
          });
        }
      });
    }
  });
}

function makeContext(driver: StorageDriver, raw: StorageDriver, caseName: string, largeBytes: number): SuiteContext {
  const slug = caseName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
  const prefix = `/suite-${slug}-${randomBytes(3).toString('hex')}`;
  return {
    driver,
    raw,
    prefix,
    path: (...segments: string[]) => [prefix, ...segments].join('/'),
    contentCap: SUITE_CONTENT_CAP,
    largeBytes,
  };
}

/** `list('/')`, treating "no root yet" as empty. */
async function listRoot(driver: StorageDriver): Promise<string[]> {
  try {
    return await driver.list('/');
  } catch (error) {
    if (error instanceof PathNotFoundError) return [];
    throw error;
  }
}
