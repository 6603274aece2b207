/**
 * Driver-suite cases for the namespace: list (direct children, nested, missing), move
 * (overwrite, missing source, source gone), recursive delete that spares sibling prefixes, stat
 * of files and directories, concurrent writers and readers, and redirect URLs.
 */
import assert from 'node:assert/strict';
import { PathNotFoundError } from '../../storage-drivers/errors.js';
import { bytes, digestAt, MiB, stream } from './data.js';
import { digestPath, rejectsWith, sorted, writeSession, type SuiteCase } from './context.js';

export const treeCases: SuiteCase[] = [
  {
    name: 'list returns direct children',
    async run({ driver, path, prefix }) {
      for (const file of [['a'], ['b'], ['dir', 'x'], ['dir', 'y'], ['dir', 'sub', 'z'], ['other', 'deep', 'deeper', 'f']]) {
        await driver.putContent(path(...file), Buffer.from(file.join('/')));
      }
      assert.deepEqual(sorted(await driver.list(prefix)), [path('a'), path('b'), path('dir'), path('other')]);
      assert.deepEqual(sorted(await driver.list(path('dir'))), [path('dir', 'sub'), path('dir', 'x'), path('dir', 'y')]);
      assert.deepEqual(await driver.list(path('other')), [path('other', 'deep')]);
      assert.ok((await driver.list('/')).includes(prefix), 'the root lists the case prefix');
    },
  },
  {
    name: 'list of nested directories',
    async run({ driver, path }) {
      const segments = ['l1', 'l2', 'l3', 'l4', 'file'];
      await driver.putContent(path(...segments), Buffer.from('nested'));
      for (let depth = 1; depth < segments.length; depth += 1) {
        assert.deepEqual(await driver.list(path(...segments.slice(0, depth))), [path(...segments.slice(0, depth + 1))]);
      }
    },
  },
  {
    name: 'list of a missing path or a file',
    async run({ driver, path }) {
      await rejectsWith(driver.list(path('missing')), PathNotFoundError, 'missing directory:');
      await driver.putContent(path('file'), Buffer.from('x'));
      await rejectsWith(driver.list(path('file')), PathNotFoundError, 'a file:');
      await rejectsWith(driver.list(path('file', 'below')), PathNotFoundError, 'below a file:');
    },
  },
  {
    name: 'list sees sibling prefixes as separate entries',
    async run({ driver, path }) {
      await driver.putContent(path('p', 'b', 'x'), Buffer.from('1'));
      await driver.putContent(path('p', 'bc'), Buffer.from('2'));
      await driver.putContent(path('p', 'b.c', 'y'), Buffer.from('3'));
      assert.deepEqual(sorted(await driver.list(path('p'))), [path('p', 'b'), path('p', 'b.c'), path('p', 'bc')]);
      assert.deepEqual(await driver.list(path('p', 'b')), [path('p', 'b', 'x')]);
    },
  },
  {
    name: 'move',
    async run({ driver, path }) {
      const from = path('src', 'file');
      const to = path('dst', 'new', 'nested', 'file');
      const size = 2 * MiB + 3;
      await driver.putContent(path('src', 'stays'), Buffer.from('s'));
      await writeSession(driver, from, [stream(30, size)]);
      await driver.move(from, to);
      await rejectsWith(driver.stat(from), PathNotFoundError, 'the source is gone:');
      await rejectsWith(driver.getContent(from), PathNotFoundError, 'the source is gone:');
      assert.deepEqual(await driver.list(path('src')), [path('src', 'stays')]);
      assert.deepEqual(await digestPath(driver, to), { digest: digestAt(30, 0, size), size });
      assert.deepEqual(await driver.list(path('dst', 'new', 'nested')), [to]);
    },
  },
  {
    name: 'move overwrites the destination',
    async run({ driver, path }) {
      const from = path('from');
      const to = path('to');
      await driver.putContent(from, Buffer.from('new'));
      await driver.putContent(to, bytes(31, 100_000));
      await driver.move(from, to);
      assert.equal((await driver.getContent(to)).toString(), 'new');
      assert.equal((await driver.stat(to)).size, 3);
      await rejectsWith(driver.stat(from), PathNotFoundError);
    },
  },
  {
    name: 'move of a missing source',
    async run({ driver, path }) {
      const to = path('dest');
      await driver.putContent(to, Buffer.from('untouched'));
      await rejectsWith(driver.move(path('missing'), to), PathNotFoundError);
      await rejectsWith(driver.move(path('missing-dir', 'file'), path('elsewhere', 'x')), PathNotFoundError);
      assert.equal((await driver.getContent(to)).toString(), 'untouched');
      await rejectsWith(driver.stat(path('elsewhere', 'x')), PathNotFoundError);
    },
  },
  {
    name: 'delete a file',
    async run({ driver, path }) {
      await driver.putContent(path('d', 'gone'), Buffer.from('1'));
      await driver.putContent(path('d', 'kept'), Buffer.from('2'));
      await driver.delete(path('d', 'gone'));
      await rejectsWith(driver.stat(path('d', 'gone')), PathNotFoundError);
      await rejectsWith(driver.getContent(path('d', 'gone')), PathNotFoundError);
      assert.deepEqual(await driver.list(path('d')), [path('d', 'kept')]);
    },
  },
  {
    name: 'delete is recursive and spares sibling prefixes',
    async run({ driver, path }) {
      const doomed = [['a', 'b', 'f1'], ['a', 'b', 'sub', 'f2'], ['a', 'b', 'sub', 'deep', 'f3']];
      const spared = [['a', 'bc'], ['a', 'bc2', 'f'], ['a', 'b.c'], ['a', 'bb', 'f'], ['a', 'f']];
      for (const file of [...doomed, ...spared]) await driver.putContent(path(...file), Buffer.from(file.join('/')));
      await driver.delete(path('a', 'b'));
      for (const file of doomed) await rejectsWith(driver.stat(path(...file)), PathNotFoundError, file.join('/'));
      await rejectsWith(driver.list(path('a', 'b')), PathNotFoundError, 'the deleted directory:');
      await rejectsWith(driver.stat(path('a', 'b')), PathNotFoundError, 'the deleted directory:');
      for (const file of spared) {
        assert.equal((await driver.getContent(path(...file))).toString(), file.join('/'), `${file.join('/')} is intact`);
      }
      assert.deepEqual(
        sorted(await driver.list(path('a'))),
        [path('a', 'b.c'), path('a', 'bb'), path('a', 'bc'), path('a', 'bc2'), path('a', 'f')],
      );
    },
  },
  {
    name: 'delete of a missing path',
    async run({ driver, path }) {
      await rejectsWith(driver.delete(path('missing')), PathNotFoundError);
      await driver.putContent(path('once'), Buffer.from('x'));
      await driver.delete(path('once'));
      await rejectsWith(driver.delete(path('once')), PathNotFoundError, 'a second delete:');
    },
  },
  {
    name: 'stat of a file',
    async run({ driver, path }) {
      const target = path('stat', 'file');
      const before = Date.now();
      await driver.putContent(target, bytes(32, 1234));
      const after = Date.now();
      const info = await driver.stat(target);
      assert.equal(info.path, target);
      assert.equal(info.size, 1234);
      assert.equal(info.isDir, false);
      assert.ok(info.modTime instanceof Date);
      const slack = 2000; // coarse timestamps, clock skew of a remote backend
      assert.ok(
        info.modTime.getTime() >= before - slack && info.modTime.getTime() <= after + slack,
        `modTime ${info.modTime.toISOString()} is around the write`,
      );
    },
  },
  {
    name: 'stat of a directory',
    async run({ driver, path }) {
      await driver.putContent(path('stat', 'dir', 'file'), Buffer.from('x'));
      for (const dir of [path('stat'), path('stat', 'dir')]) {
        const info = await driver.stat(dir);
        assert.equal(info.isDir, true, `${dir} is a directory`);
        assert.equal(info.path, dir);
      }
    },
  },
  {
    name: 'stat of a missing path',
    async run({ driver, path }) {
      await rejectsWith(driver.stat(path('missing')), PathNotFoundError);
      await rejectsWith(driver.stat(path('missing', 'deeper')), PathNotFoundError);
    },
  },
  {
    name: 'concurrent writers to different paths',
    async run({ driver, path }) {
      const size = 2 * MiB + 77;
      const seeds = [40, 41, 42, 43, 44, 45, 46, 47];
      await Promise.all(seeds.map((seed) => writeSession(driver, path('parallel', `f${seed}`), [stream(seed, size, { chunkSizes: 128 * 1024 })])));
      const results = await Promise.all(seeds.map((seed) => digestPath(driver, path('parallel', `f${seed}`))));
      for (const [index, seed] of seeds.entries()) {
        assert.deepEqual(results[index], { digest: digestAt(seed, 0, size), size }, `file of seed ${seed}`);
      }
    },
  },
  {
    name: 'concurrent readers of one path',
    async run({ driver, path }) {
      const target = path('shared');
      const size = 8 * MiB;
      await writeSession(driver, target, [stream(50, size, { chunkSizes: MiB })]);
      const offsets = [0, 0, 1, 999_999, 4 * MiB, size - 10, 0, 3 * MiB + 5];
      const results = await Promise.all(offsets.map((offset) => digestPath(driver, target, { offset })));
      for (const [index, offset] of offsets.entries()) {
        assert.deepEqual(results[index], { digest: digestAt(50, offset, size - offset), size: size - offset }, `reader at ${offset}`);
      }
    },
  },
  {
    name: 'redirect URL',
    async run({ driver, path }) {
      const target = path('redirect');
      await driver.putContent(target, Buffer.from('x'));
      const url = await driver.redirectUrl?.(target, { method: 'GET', expiresIn: 60 });
      if (url !== undefined) assert.match(url, /^https?:\/\//, 'an absolute http(s) URL');
    },
  },
];
