/**
 * The inmemory driver against the shared driver suite, plus its own checks (independent stores,
 * directory/file conflicts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DriverError } from '../../storage-drivers/errors.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { of } from '../driver-suite/data.js';
import { runDriverSuite } from '../driver-suite/suite.js';

runDriverSuite({ name: 'inmemory', create: async () => createInMemoryDriver() });

describe('inmemory specifics', () => {
  test('each driver has its own store', async () => {
    const one = createInMemoryDriver();
    const two = createInMemoryDriver();
    await one.putContent('/x', Buffer.from('1'));
    assert.deepEqual(await two.list('/'), []);
  });

  test('a file cannot be written where a directory is, or below a file', async () => {
    const driver = createInMemoryDriver();
    await driver.putContent('/d/f', Buffer.from('1'));
    await assert.rejects(driver.putContent('/d', Buffer.from('2')), DriverError);
    await assert.rejects(driver.putContent('/d/f/g', Buffer.from('3')), DriverError);
    await assert.rejects(driver.writer('/d'), DriverError);
    await assert.rejects(driver.move('/d/f', '/d'), DriverError);
    assert.equal((await driver.getContent('/d/f')).toString(), '1', 'a failed move keeps the source');
  });

  test('writer data is invisible until commit or close', async () => {
    const driver = createInMemoryDriver();
    const writer = await driver.writer('/w');
    await writer.write(of(Buffer.from('abc')));
    await assert.rejects(driver.getContent('/w'));
    await writer.close();
    assert.equal((await driver.getContent('/w')).toString(), 'abc');
  });
});
