/**
 * Driver-suite cases for the path grammar (through `checked()`) and for small objects
 * (`putContent` / `getContent`): round trips, overwrite, empty and non-UTF-8 content, missing
 * paths, directories, and the content cap.
 */
import assert from 'node:assert/strict';
import {
  ContentTooLargeError,
  InvalidPathError,
  PathNotFoundError,
} from '../../storage-drivers/errors.js';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { bytes, of } from './data.js';
import { readPath, rejectsWith, writeSession, type SuiteCase } from './context.js';

/** Segment sequences that must be accepted (below the case prefix). */
const VALID = [
  'a',
  '2',
  'aa',
  'a.a',
  '0-9/abcdefg',
  'abcdefg/z.75',
  'abc/1.2.3.4.5-6_zyx/123.z/4',
  'docker/docker-registry',
  '123.abc',
  'abc./abc',
  '.abc',
  'a--b',
  'a-.b',
  '_.abc',
  'Docker/docker-registry',
  'Abc/Cba',
  'a:b',
  'a+b',
  '...',
];

/** Paths that must be refused with InvalidPathError by every method. */
const INVALID = [
  '',
  'a',
  'a/b',
  '/a/',
  '//',
  '//a',
  '/a//b',
  '/a/./b',
  '/a/../b',
  '/..',
  '/.',
  '/a/..',
  '/a b',
  '/a\tb',
  '/a\nb',
  '/a\u0000b',
  '/a\\b',
  '/ä',
  '/a?b',
  '/a#b',
  '/a%2Fb',
  '/a*',
  `/${'a'.repeat(1024)}`,
];

async function assertAllRefuse(driver: StorageDriver, path: string, valid: string): Promise<void> {
  const label = JSON.stringify(path.slice(0, 40));
  const attempts: Array<[string, () => Promise<unknown>]> = [
    ['stat', () => driver.stat(path)],
    ['getContent', () => driver.getContent(path)],
    ['putContent', () => driver.putContent(path, Buffer.from('x'))],
    ['reader', () => driver.reader(path)],
    ['writer', () => driver.writer(path)],
    ['list', () => driver.list(path)],
    ['move from', () => driver.move(path, valid)],
    ['move to', () => driver.move(valid, path)],
    ['delete', () => driver.delete(path)],
  ];
  for (const [method, attempt] of attempts) {
    await rejectsWith(attempt, InvalidPathError, `${method}(${label}):`);
  }
}

export const contentCases: SuiteCase[] = [
  {
    name: 'valid paths',
    async run({ driver, path }) {
      for (const [index, relative] of VALID.entries()) {
        const target = path(...relative.split('/'));
        const content = Buffer.from(`content of ${relative} #${index}`);
        await driver.putContent(target, content);
        assert.deepEqual(await driver.getContent(target), content, target);
        const info = await driver.stat(target);
        assert.equal(info.size, content.byteLength);
        assert.equal(info.isDir, false);
      }
    },
  },
  {
    name: 'longest valid path',
    async run({ driver, prefix }) {
      // 1024 characters in segments short enough for any filesystem (NAME_MAX 255).
      let target = prefix;
      while (target.length < 1024 - 201) target += `/${'s'.repeat(200)}`;
      target += `/${'e'.repeat(1024 - target.length - 1)}`;
      assert.equal(target.length, 1024);
      await driver.putContent(target, Buffer.from('deep'));
      assert.equal((await driver.getContent(target)).toString(), 'deep');
      await rejectsWith(driver.putContent(`${target}x`, Buffer.from('x')), InvalidPathError);
    },
  },
  {
    name: 'invalid paths',
    async run({ driver, path }) {
      const valid = path('valid');
      await driver.putContent(valid, Buffer.from('v'));
      for (const invalid of INVALID) await assertAllRefuse(driver, invalid, valid);
      assert.equal((await driver.getContent(valid)).toString(), 'v', 'the valid file is untouched');
    },
  },
  {
    name: 'root is not a file',
    async run({ driver, path }) {
      const other = path('f');
      await rejectsWith(driver.putContent('/', Buffer.from('x')), InvalidPathError);
      await rejectsWith(driver.writer('/'), InvalidPathError);
      await rejectsWith(driver.getContent('/'), InvalidPathError);
      await rejectsWith(driver.reader('/'), InvalidPathError);
      await rejectsWith(driver.move('/', other), InvalidPathError);
      await rejectsWith(driver.move(other, '/'), InvalidPathError);
    },
  },
  {
    name: 'putContent and getContent round trip',
    async run({ driver, path }) {
      const target = path('small', 'object');
      const content = bytes(1, 4099);
      await driver.putContent(target, content);
      assert.deepEqual(await driver.getContent(target), content);
      assert.deepEqual(await readPath(driver, target), content, 'a reader sees the same bytes');
    },
  },
  {
    name: 'putContent overwrites',
    async run({ driver, path }) {
      const target = path('over');
      await driver.putContent(target, bytes(2, 10_000));
      await driver.putContent(target, Buffer.from('short'));
      assert.equal((await driver.getContent(target)).toString(), 'short', 'no bytes of the longer content remain');
      assert.equal((await driver.stat(target)).size, 5);
      await driver.putContent(target, bytes(3, 70_000));
      assert.deepEqual(await driver.getContent(target), bytes(3, 70_000));
    },
  },
  {
    name: 'zero-byte content',
    async run({ driver, path }) {
      const put = path('empty-put');
      await driver.putContent(put, new Uint8Array(0));
      assert.equal((await driver.getContent(put)).byteLength, 0);
      assert.equal((await driver.stat(put)).size, 0);
      assert.equal((await readPath(driver, put)).byteLength, 0);

      const written = path('empty-writer');
      await writeSession(driver, written, []);
      assert.equal((await driver.getContent(written)).byteLength, 0);
      assert.equal((await driver.stat(written)).size, 0);
    },
  },
  {
    name: 'non-UTF-8 bytes',
    async run({ driver, path }) {
      const content = Buffer.from([
        0x00, 0xff, 0xfe, 0x80, 0xc0, 0xc1, 0xf5, 0xed, 0xa0, 0x80, 0xe2, 0x28, 0xa1, 0x00, 0x0a, 0x0d, 0xf0, 0x90,
      ]);
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
      const put = path('binary-put');
      await driver.putContent(put, Buffer.concat([content, all]));
      assert.deepEqual(await driver.getContent(put), Buffer.concat([content, all]));

      const written = path('binary-writer');
      await writeSession(driver, written, [of(content, all)]);
      assert.deepEqual(await readPath(driver, written), Buffer.concat([content, all]));
    },
  },
  {
    name: 'getContent of a missing path',
    async run({ driver, path }) {
      await rejectsWith(driver.getContent(path('missing')), PathNotFoundError);
      await rejectsWith(driver.getContent(path('no', 'such', 'dir', 'file')), PathNotFoundError);
      await driver.putContent(path('file'), Buffer.from('x'));
      await rejectsWith(driver.getContent(path('file', 'below-a-file')), PathNotFoundError);
    },
  },
  {
    name: 'directories are not files',
    async run({ driver, path }) {
      await driver.putContent(path('dir', 'file'), Buffer.from('x'));
      await rejectsWith(driver.getContent(path('dir')), PathNotFoundError, 'getContent of a directory:');
      await rejectsWith(driver.reader(path('dir')), PathNotFoundError, 'reader of a directory:');
    },
  },
  {
    name: 'content cap',
    async run({ driver, path, contentCap }) {
      const atCap = path('at-cap');
      await driver.putContent(atCap, bytes(4, contentCap));
      assert.equal((await driver.getContent(atCap)).byteLength, contentCap);

      const overPut = path('over-cap-put');
      await rejectsWith(driver.putContent(overPut, bytes(5, contentCap + 1)), ContentTooLargeError);
      await rejectsWith(driver.stat(overPut), PathNotFoundError, 'nothing was written:');

      const overGet = path('over-cap-get');
      await writeSession(driver, overGet, [of(bytes(6, contentCap + 1))]);
      await rejectsWith(driver.getContent(overGet), ContentTooLargeError);
      assert.equal((await driver.stat(overGet)).size, contentCap + 1, 'streams are not capped');
    },
  },
];
