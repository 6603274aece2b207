/**
 * The filesystem driver against the shared driver suite (a fresh temp root per case), plus its
 * own checks: atomic putContent leaves no temp files, content survives a new driver instance,
 * paths never escape the root (even without `checked()`), unaddressable entries stay hidden,
 * moves across devices fall back to copying, and deleting `/` keeps the root directory.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { DriverError, InvalidPathError, PathNotFoundError } from '../../storage-drivers/errors.js';
import { createFilesystemDriver } from '../../storage-drivers/filesystem/index.js';
import { bytes, of } from '../driver-suite/data.js';
import { runDriverSuite } from '../driver-suite/suite.js';

const roots = new Map<StorageDriver, string>();
runDriverSuite({
  name: 'filesystem',
  create: async () => {
    const rootDirectory = await mkdtemp(join(tmpdir(), 'berth-fs-suite-'));
    const driver = createFilesystemDriver({ rootDirectory });
    roots.set(driver, rootDirectory);
    return driver;
  },
  destroy: async (driver) => {
    const root = roots.get(driver);
    roots.delete(driver);
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  },
});

describe('filesystem specifics', () => {
  let base: string;
  let root: string;
  let driver: StorageDriver;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'berth-fs-'));
    root = join(base, 'root');
    driver = createFilesystemDriver({ rootDirectory: root });
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test('putContent leaves no temp files', async () => {
    for (let i = 0; i < 20; i += 1) await driver.putContent('/dir/file', bytes(i, 1000 + i));
    await assert.rejects(driver.putContent('/dir', Buffer.from('x')), DriverError, 'over a directory');
    assert.deepEqual(await readdir(join(root, 'dir')), ['file']);
  });

  test('content written by putContent survives a new driver instance', async () => {
    await driver.putContent('/a/b', Buffer.from('durable'));
    const again = createFilesystemDriver({ rootDirectory: root });
    assert.equal((await again.getContent('/a/b')).toString(), 'durable');
  });

  test('paths never escape the root, even without checked()', async () => {
    await mkdir(root, { recursive: true });
    const escapes = ['/../x', '/a/../../x', '/..', '/a/..', '/./x', '//x', '/a//b', 'x', '', '/a\\..\\..\\x', '/a\u0000b'];
    for (const path of escapes) {
      await assert.rejects(driver.putContent(path, Buffer.from('x')), InvalidPathError, `putContent ${JSON.stringify(path)}`);
      await assert.rejects(driver.writer(path), InvalidPathError, `writer ${JSON.stringify(path)}`);
      await assert.rejects(driver.getContent(path), InvalidPathError, `getContent ${JSON.stringify(path)}`);
      await assert.rejects(driver.delete(path), InvalidPathError, `delete ${JSON.stringify(path)}`);
      await assert.rejects(driver.list(path), InvalidPathError, `list ${JSON.stringify(path)}`);
      await assert.rejects(driver.move('/ok', path), InvalidPathError, `move to ${JSON.stringify(path)}`);
    }
    assert.deepEqual((await readdir(base)).sort(), ['root']);
    assert.deepEqual(await readdir(root), []);
  });

  test('the root itself is never a file', async () => {
    await assert.rejects(driver.putContent('/', Buffer.from('x')), DriverError);
    await assert.rejects(driver.writer('/'), DriverError);
    assert.equal(existsSync(join(base, 'root')), false, 'nothing was created for it');
  });

  test('list hides temp files and names no driver path can address', async () => {
    await driver.putContent('/visible', Buffer.from('v'));
    await writeFile(join(root, '.tmp~0123456789abcdef'), 'leftover of a crash');
    await writeFile(join(root, 'has space'), 'x');
    assert.deepEqual(await driver.list('/'), ['/visible']);
  });

  test('a missing root lists as not found and is created by the first write', async () => {
    await assert.rejects(driver.list('/'), PathNotFoundError);
    await driver.putContent('/first', Buffer.from('1'));
    assert.deepEqual(await driver.list('/'), ['/first']);
  });

  test('writing over a directory is a DriverError, not PathNotFound', async () => {
    await driver.putContent('/d/f', Buffer.from('x'));
    await assert.rejects(driver.writer('/d'), (error: unknown) => error instanceof DriverError && !(error instanceof PathNotFoundError));
    await assert.rejects(driver.putContent('/d/f/below', Buffer.from('x')), (error: unknown) => error instanceof DriverError && !(error instanceof PathNotFoundError));
  });

  test('move across devices copies, then removes the source', async (t) => {
    if (!existsSync('/dev/shm')) {
      t.skip('no /dev/shm here to provide a second device');
      return;
    }
    const elsewhere = await mkdtemp('/dev/shm/berth-fs-xdev-');
    try {
      await driver.putContent('/src/file', bytes(99, 300_000));
      await symlink(elsewhere, join(root, 'shm'));
      await driver.move('/src/file', '/shm/moved/file');
      assert.deepEqual(await driver.getContent('/shm/moved/file'), bytes(99, 300_000));
      await assert.rejects(driver.stat('/src/file'), PathNotFoundError);
      assert.deepEqual(await readdir(join(elsewhere, 'moved')), ['file'], 'no temp file left behind');
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  test('delete of / empties the root but keeps it', async () => {
    await driver.putContent('/a/b', Buffer.from('1'));
    await driver.putContent('/c', Buffer.from('2'));
    await driver.delete('/');
    assert.deepEqual(await driver.list('/'), []);
    assert.equal(existsSync(root), true);
  });

  test('a committed writer file is complete on disk', async () => {
    const writer = await driver.writer('/w/data');
    await writer.write(of(bytes(5, 3 * 1024 * 1024)));
    await writer.commit();
    assert.deepEqual(await readdir(join(root, 'w')), ['data']);
    assert.deepEqual(await driver.getContent('/w/data', {}).catch(() => undefined), bytes(5, 3 * 1024 * 1024));
  });
});
