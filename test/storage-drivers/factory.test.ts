/**
 * Tests of the driver factory (`storage-drivers/index.ts`): names, unknown drivers, parameter
 * validation messages, root creation, and limits taken from the parameters.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InvalidPathError } from '../../storage-drivers/errors.js';
import { createDriver, driverNames, UnknownDriverError, type DriverFactory } from '../../storage-drivers/index.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';

describe('driver factory', () => {
  test('knows every built-in driver', () => {
    assert.deepEqual(driverNames().sort(), ['filesystem', 'inmemory', 's3', 'swift']);
  });

  test('unknown names throw UnknownDriverError listing the known ones', () => {
    for (const name of ['s4', 'constructor', '__proto__', 'toString', '']) {
      assert.throws(
        () => createDriver(name, {}),
        (error: unknown) =>
          error instanceof UnknownDriverError &&
          error.driverName === name &&
          /known: inmemory, filesystem/.test(error.message),
      );
    }
  });

  test('returns checked drivers', async () => {
    const driver = createDriver('inmemory', null);
    assert.equal(driver.name, 'inmemory');
    await assert.rejects(driver.stat('no-slash'), InvalidPathError);
    await driver.putContent('/a', Buffer.from('1'));
    assert.deepEqual(await driver.list('/'), ['/a']);
  });

  test('parameter errors name the key', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['filesystem', { rootdirectory: 5 }, /^storage\.filesystem\.rootdirectory: expected a string$/],
      ['filesystem', { rootdirectory: '' }, /^storage\.filesystem\.rootdirectory: must not be empty$/],
      ['filesystem', { rootdirectory: '/tmp/x', maxthreads: 'many' }, /^storage\.filesystem\.maxthreads: expected an integer$/],
      ['filesystem', { rootdirectory: '/tmp/x', maxthreads: 2.5 }, /^storage\.filesystem\.maxthreads: expected an integer$/],
      ['filesystem', { rootdirectory: '/tmp/x', maxthreads: 10 }, /^storage\.filesystem\.maxthreads: must be at least 25$/],
      ['filesystem', { rootdir: '/tmp/x' }, /^storage\.filesystem\.rootdir: unknown parameter$/],
      ['inmemory', { size: 1 }, /^storage\.inmemory\.size: unknown parameter$/],
    ];
    for (const [name, params, message] of cases) {
      assert.throws(() => createDriver(name, params, { validateOnly: true }), { message }, JSON.stringify(params));
    }
  });

  test('numeric strings are accepted for maxthreads (environment overrides)', () => {
    createDriver('filesystem', { rootdirectory: '/nonexistent/berth', maxthreads: '50' }, { validateOnly: true });
  });

  test('filesystem creates its root, except when only validating', async () => {
    const base = await mkdtemp(join(tmpdir(), 'berth-factory-'));
    try {
      const root = join(base, 'a', 'b');
      createDriver('filesystem', { rootdirectory: root }, { validateOnly: true });
      assert.equal(existsSync(root), false);
      const driver = createDriver('filesystem', { rootdirectory: root });
      assert.equal(existsSync(root), true);
      assert.deepEqual(await driver.list('/'), []);

      await writeFile(join(base, 'file'), 'x');
      assert.throws(
        () => createDriver('filesystem', { rootdirectory: join(base, 'file', 'root') }),
        { message: /^storage\.filesystem\.rootdirectory: cannot create .* \(ENOTDIR\)$/ },
      );
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  test('limits from the parameters reach checked(), and explicit options win', async () => {
    let inFlight = 0;
    let peak = 0;
    const slowStat: DriverFactory = () => {
      const inner = createInMemoryDriver();
      return {
        driver: {
          ...inner,
          async stat(path) {
            inFlight += 1;
            peak = Math.max(peak, inFlight);
            await new Promise((resolve) => setTimeout(resolve, 5));
            inFlight -= 1;
            return { path, size: 0, modTime: new Date(0), isDir: true };
          },
        },
        maxConcurrency: 2,
      };
    };
    const factories = { slow: slowStat };
    const limited = createDriver('slow', {}, { factories });
    await Promise.all(Array.from({ length: 6 }, () => limited.stat('/')));
    assert.equal(peak, 2);
    peak = 0;
    const overridden = createDriver('slow', {}, { factories, maxConcurrency: 3 });
    await Promise.all(Array.from({ length: 6 }, () => overridden.stat('/')));
    assert.equal(peak, 3);
  });
});
