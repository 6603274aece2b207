/**
 * Driver-suite cases for streaming: writer round trips (small, large and streamed), reads at
 * offsets and with lengths, resumable appends across writer sessions, cancel, truncation, writes
 * that fail or are aborted midway, the writer state machine, and aborted readers.
 */
import assert from 'node:assert/strict';
import { DriverError, PathNotFoundError } from '../../storage-drivers/errors.js';
import { bytes, bytesAt, chunks, digestAt, KiB, MiB, of, readAll, stream } from './data.js';
import {
  digestPath,
  isAbortError,
  readPath,
  rejectsWith,
  writeSession,
  type SuiteCase,
} from './context.js';

/** Yields `length` bytes of `seed` in `chunkSize` chunks, then waits until `signal` aborts. */
async function* stallingSource(
  seed: number,
  length: number,
  chunkSize: number,
  signal: AbortSignal,
  onYielded: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  let sent = 0;
  for await (const chunk of chunks(seed, length, { chunkSizes: chunkSize })) {
    yield chunk;
    sent += chunk.byteLength;
    onYielded(sent);
  }
  await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
}

export const streamCases: SuiteCase[] = [
  {
    name: 'writer round trip',
    async run({ driver, path }) {
      const target = path('w');
      const writer = await driver.writer(target);
      assert.equal(writer.size, 0);
      assert.equal(await writer.write(of(bytesAt(7, 0, 1000))), 1000);
      assert.equal(writer.size, 1000);
      assert.equal(await writer.write(stream(7, 70_000, { offset: 1000, chunkSizes: 4096 })), 70_000);
      assert.equal(writer.size, 71_000);
      await writer.commit();
      assert.deepEqual(await driver.getContent(target), bytes(7, 71_000));
      assert.equal((await driver.stat(target)).size, 71_000);
    },
  },
  {
    name: 'large streamed round trip',
    async run({ driver, path, largeBytes }) {
      const target = path('large');
      const size = largeBytes + 12_345;
      await writeSession(driver, target, [stream(8, size, { chunkSizes: [MiB, 64 * KiB, 333_333] })]);
      assert.equal((await driver.stat(target)).size, size);
      assert.deepEqual(await digestPath(driver, target), { digest: digestAt(8, 0, size), size });
    },
  },
  {
    name: 'reads at offsets',
    async run({ driver, path }) {
      const target = path('offsets');
      const size = 3 * 64 * KiB + 123;
      await writeSession(driver, target, [stream(9, size, { chunkSizes: 10_000 })]);
      for (const offset of [0, 1, 4095, 64 * KiB, 64 * KiB + 1, 100_000, size - 1]) {
        const read = await readPath(driver, target, { offset });
        assert.equal(read.byteLength, size - offset, `length read from ${offset}`);
        assert.ok(read.equals(bytesAt(9, offset, size - offset)), `bytes from ${offset}`);
      }
    },
  },
  {
    name: 'reads with length',
    async run({ driver, path }) {
      const target = path('ranges');
      const size = 200_000;
      await writeSession(driver, target, [stream(10, size)]);
      const ranges: Array<[number, number, number]> = [
        [0, 1, 1],
        [0, 65_536, 65_536],
        [10, 100_000, 100_000],
        [199_999, 1, 1],
        [150_000, 100_000, 50_000], // past the end: to the end
        [5, 0, 0],
      ];
      for (const [offset, length, expected] of ranges) {
        const read = await readPath(driver, target, { offset, length });
        assert.equal(read.byteLength, expected, `offset ${offset} length ${length}`);
        assert.ok(read.equals(bytesAt(10, offset, expected)), `bytes at ${offset}+${length}`);
      }
    },
  },
  {
    name: 'offset at and past the end',
    async run({ driver, path }) {
      const target = path('eof');
      await driver.putContent(target, bytes(11, 1000));
      for (const offset of [1000, 1001, 1_000_000]) {
        assert.equal((await readPath(driver, target, { offset })).byteLength, 0, `offset ${offset}`);
      }
      const empty = path('empty');
      await driver.putContent(empty, new Uint8Array(0));
      assert.equal((await readPath(driver, empty, { offset: 0 })).byteLength, 0);
      assert.equal((await readPath(driver, empty, { offset: 5 })).byteLength, 0);
    },
  },
  {
    name: 'reader of a missing path',
    async run({ driver, path }) {
      await rejectsWith(driver.reader(path('missing')), PathNotFoundError);
      await rejectsWith(driver.reader(path('missing'), { offset: 10 }), PathNotFoundError);
    },
  },
  {
    name: 'reader aborted by its signal',
    async run({ driver, path }) {
      const target = path('abort-read');
      const size = 8 * MiB;
      await writeSession(driver, target, [stream(12, size, { chunkSizes: MiB })]);

      const controller = new AbortController();
      const reader = await driver.reader(target, { signal: controller.signal });
      let received = 0;
      await assert.rejects(
        (async () => {
          for await (const chunk of reader) {
            received += (chunk as Uint8Array).byteLength;
            controller.abort();
          }
        })(),
        (error: unknown) => isAbortError(error),
      );
      assert.ok(received > 0 && received < size, `stopped early (read ${received} bytes)`);

      const aborted = AbortSignal.abort();
      await assert.rejects(async () => readAll(await driver.reader(target, { signal: aborted })), isAbortError);
    },
  },
  {
    name: 'append across sessions with big chunks',
    async run({ driver, path }) {
      const target = path('append-big');
      const sessions = [3 * MiB + 17, 2 * MiB, MiB + 1];
      let offset = 0;
      for (const [index, length] of sessions.entries()) {
        const last = index === sessions.length - 1;
        await writeSession(driver, target, [stream(13, length, { offset, chunkSizes: [MiB, 512 * KiB] })], {
          append: index > 0,
          expectSize: offset,
          finish: last ? 'commit' : 'close',
        });
        offset += length;
      }
      assert.equal((await driver.stat(target)).size, offset);
      assert.deepEqual(await digestPath(driver, target), { digest: digestAt(13, 0, offset), size: offset });
    },
  },
  {
    name: 'append across sessions with small chunks',
    async run({ driver, path }) {
      const target = path('append-small');
      let offset = 0;
      for (let session = 0; session < 5; session += 1) {
        const length = 5_000 + session * 1_111;
        await writeSession(driver, target, [chunks(14, length, { offset, chunkSizes: [1, 3, 17, 255, 4103] })], {
          append: session > 0,
          expectSize: offset,
          finish: session === 4 ? 'commit' : 'close',
        });
        offset += length;
      }
      assert.ok((await readPath(driver, target)).equals(bytes(14, offset)));
    },
  },
  {
    name: 'zero-byte session then append',
    async run({ driver, path }) {
      const target = path('zero-then-append');
      await writeSession(driver, target, [], { finish: 'close' });
      await writeSession(driver, target, [of(new Uint8Array(0))], { append: true, expectSize: 0, finish: 'close' });
      await writeSession(driver, target, [stream(15, 100_000)], { append: true, expectSize: 0 });
      assert.ok((await readPath(driver, target)).equals(bytes(15, 100_000)));
    },
  },
  {
    name: 'append to a missing path starts empty',
    async run({ driver, path }) {
      const target = path('new', 'file');
      await writeSession(driver, target, [of(Buffer.from('fresh'))], { append: true, expectSize: 0 });
      assert.equal((await driver.getContent(target)).toString(), 'fresh');
    },
  },
  {
    name: 'size is correct after resume',
    async run({ driver, path }) {
      const target = path('resume');
      const first = await driver.writer(target);
      await first.write(of(bytes(16, 1000)));
      await first.write(of(bytesAt(16, 1000, 2345)));
      assert.equal(first.size, 3345);
      await first.close();
      const second = await driver.writer(target, { append: true });
      assert.equal(second.size, 3345, 'size counts the earlier session');
      await second.write(of(bytesAt(16, 3345, 655)));
      assert.equal(second.size, 4000);
      await second.close();
      const third = await driver.writer(target, { append: true });
      assert.equal(third.size, 4000);
      await third.commit();
      assert.ok((await driver.getContent(target)).equals(bytes(16, 4000)));
    },
  },
  {
    name: 'commit after append',
    async run({ driver, path }) {
      const target = path('commit-append');
      await writeSession(driver, target, [of(Buffer.from('first '))]);
      assert.equal((await driver.getContent(target)).toString(), 'first ');
      await writeSession(driver, target, [of(Buffer.from('second'))], { append: true, expectSize: 6 });
      assert.equal((await driver.getContent(target)).toString(), 'first second');
    },
  },
  {
    name: 'writer without append truncates',
    async run({ driver, path }) {
      const target = path('truncate');
      await writeSession(driver, target, [stream(17, 50_000)]);
      await writeSession(driver, target, [of(Buffer.from('tiny'))], { expectSize: 0 });
      assert.equal((await driver.getContent(target)).toString(), 'tiny');
      assert.equal((await driver.stat(target)).size, 4);
    },
  },
  {
    name: 'cancel removes content',
    async run({ driver, path }) {
      const target = path('dir', 'cancelled');
      await driver.putContent(path('dir', 'kept'), Buffer.from('k'));
      await writeSession(driver, target, [stream(18, 300_000)], { finish: 'cancel' });
      await rejectsWith(driver.stat(target), PathNotFoundError);
      await rejectsWith(driver.getContent(target), PathNotFoundError);
      assert.deepEqual(await driver.list(path('dir')), [path('dir', 'kept')]);
    },
  },
  {
    name: 'cancel after append removes earlier sessions',
    async run({ driver, path }) {
      const target = path('cancel-append');
      await writeSession(driver, target, [of(Buffer.from('session one'))], { finish: 'close' });
      await writeSession(driver, target, [of(Buffer.from(' and two'))], {
        append: true,
        expectSize: 11,
        finish: 'cancel',
      });
      await rejectsWith(driver.getContent(target), PathNotFoundError);
      const again = await driver.writer(target, { append: true });
      assert.equal(again.size, 0, 'nothing is left to resume');
      await again.cancel();
    },
  },
  {
    name: 'write accepts Readables and async iterables',
    async run({ driver, path }) {
      const target = path('sources');
      await writeSession(driver, target, [stream(19, 10_000, { chunkSizes: 999 }), chunks(19, 5_000, { offset: 10_000 })]);
      assert.ok((await driver.getContent(target)).equals(bytes(19, 15_000)));
    },
  },
  {
    name: 'aborted write leaves a resumable size',
    async run({ driver, path }) {
      const target = path('aborted-write');
      const total = 3 * MiB;
      const writer = await driver.writer(target);
      const controller = new AbortController();
      const produced = MiB + 300 * KiB + 7; // not a multiple of typical batch sizes
      const source = stallingSource(20, produced, 100 * KiB, controller.signal, (sent) => {
        if (sent >= produced) setTimeout(() => controller.abort(), 20);
      });
      await assert.rejects(writer.write(source, controller.signal), isAbortError);
      const kept = writer.size;
      assert.ok(kept >= 0 && kept <= produced, `size ${kept} is within what was produced`);
      await writer.close();

      const resumed = await driver.writer(target, { append: true });
      assert.equal(resumed.size, kept, 'the resumed size is what is really there');
      await resumed.write(stream(20, total - kept, { offset: kept }));
      await resumed.commit();
      assert.deepEqual(await digestPath(driver, target), { digest: digestAt(20, 0, total), size: total });
    },
  },
  {
    name: 'failed source leaves a resumable size',
    async run({ driver, path }) {
      const target = path('failed-source');
      const failure = new Error('the client went away');
      const writer = await driver.writer(target);
      const broken = async function* (): AsyncGenerator<Uint8Array> {
        yield* chunks(21, 2 * MiB + 5, { chunkSizes: 256 * KiB });
        throw failure;
      };
      await assert.rejects(writer.write(broken()), (error: unknown) => {
        assert.equal(error, failure, 'the source error comes back unchanged');
        return true;
      });
      const kept = writer.size;
      assert.ok(kept <= 2 * MiB + 5);
      await writer.close();
      const resumed = await driver.writer(target, { append: true });
      assert.equal(resumed.size, kept);
      await resumed.write(stream(21, 100_000, { offset: kept }));
      await resumed.commit();
      const size = kept + 100_000;
      assert.deepEqual(await digestPath(driver, target), { digest: digestAt(21, 0, size), size });
    },
  },
  {
    name: 'finished writers refuse further calls',
    async run({ driver, path }) {
      for (const finish of ['commit', 'close', 'cancel'] as const) {
        const target = path(`finished-${finish}`);
        const writer = await driver.writer(target);
        await writer.write(of(Buffer.from('x')));
        await writer[finish]();
        await rejectsWith(writer.write(of(Buffer.from('y'))), DriverError, `write after ${finish}:`);
        await rejectsWith(writer.commit(), DriverError, `commit after ${finish}:`);
        await rejectsWith(writer.close(), DriverError, `close after ${finish}:`);
        await rejectsWith(writer.cancel(), DriverError, `cancel after ${finish}:`);
      }
      assert.equal((await driver.getContent(path('finished-commit'))).toString(), 'x');
    },
  },
];
