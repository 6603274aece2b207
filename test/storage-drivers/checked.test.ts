/**
 * Tests of `checked()` on its own, against a scripted fake driver: path grammar, offsets, the
 * content cap, error normalisation (and what passes through), the writer state machine, the
 * concurrency limit, and the observe hook.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { checked, DEFAULT_MAX_CONTENT_BYTES, isValidPath, MAX_PATH_LENGTH } from '../../storage-drivers/checked.js';
import type { FileWriter, StorageDriver } from '../../storage-drivers/driver.js';
import {
  ContentTooLargeError,
  DriverError,
  InvalidOffsetError,
  InvalidPathError,
  PathNotFoundError,
} from '../../storage-drivers/errors.js';
import { of } from '../driver-suite/data.js';

interface Call {
  readonly method: string;
  readonly args: readonly unknown[];
}

type Methods = Omit<StorageDriver, 'name' | 'redirectUrl'>;

/** A driver whose every method records its call and then does what `script` says (default: resolve). */
function fake(script: Partial<Methods> & Pick<StorageDriver, 'redirectUrl'> = {}): { driver: StorageDriver; calls: Call[] } {
  const calls: Call[] = [];
  const defaults: Methods = {
    stat: async (path) => ({ path, size: 0, modTime: new Date(0), isDir: true }),
    getContent: async () => Buffer.from('content'),
    putContent: async () => undefined,
    reader: async () => Readable.from([Buffer.from('r')]),
    writer: async () => fakeWriter(),
    list: async () => [],
    move: async () => undefined,
    delete: async () => undefined,
  };
  const record = <K extends keyof Methods>(method: K): Methods[K] => {
    const impl = (script[method] ?? defaults[method]) as (...args: unknown[]) => ReturnType<Methods[K]>;
    const recorded = (...args: unknown[]): ReturnType<Methods[K]> => {
      calls.push({ method, args });
      return impl(...args);
    };
    return recorded as unknown as Methods[K];
  };
  const redirect = script.redirectUrl;
  const driver: StorageDriver = {
    name: 'fake',
    stat: record('stat'),
    getContent: record('getContent'),
    putContent: record('putContent'),
    reader: record('reader'),
    writer: record('writer'),
    list: record('list'),
    move: record('move'),
    delete: record('delete'),
    ...(redirect === undefined
      ? {}
      : {
          redirectUrl: (path, options) => {
            calls.push({ method: 'redirectUrl', args: [path, options] });
            return redirect(path, options);
          },
        }),
  };
  return { driver, calls };
}

/** A writer that drains its source; `fail` scripts failures. */
function fakeWriter(fail: { write?: Error; commit?: Error } = {}): FileWriter {
  let size = 0;
  return {
    get size() {
      return size;
    },
    async write(source) {
      let written = 0;
      for await (const chunk of source as AsyncIterable<Uint8Array>) written += chunk.byteLength;
      if (fail.write !== undefined) throw fail.write;
      size += written;
      return written;
    },
    async commit() {
      if (fail.commit !== undefined) throw fail.commit;
    },
    async close() {},
    async cancel() {},
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('checked: paths', () => {
  test('valid paths reach the driver unchanged', async () => {
    const { driver, calls } = fake();
    const c = checked(driver);
    for (const path of ['/a', '/a/b.c', '/A-Z_0-9/x:y+z', '/.hidden', '/...', `/${'x'.repeat(MAX_PATH_LENGTH - 1)}`]) {
      assert.equal(isValidPath(path), true, path);
      await c.stat(path);
      assert.equal(calls.at(-1)?.args[0], path);
    }
  });

  test('invalid paths never reach the driver', async () => {
    const { driver, calls } = fake();
    const c = checked(driver);
    const invalid = ['', 'a', '/a/', '//a', '/a/./b', '/a/../b', '/..', '/.', '/a b', '/a\u0000', '/é', `/${'x'.repeat(MAX_PATH_LENGTH)}`];
    for (const path of invalid) {
      assert.equal(isValidPath(path), false, JSON.stringify(path));
      const attempts = [
        c.stat(path),
        c.getContent(path),
        c.putContent(path, Buffer.from('x')),
        c.reader(path),
        c.writer(path),
        c.list(path),
        c.move(path, '/ok'),
        c.move('/ok', path),
        c.delete(path),
      ];
      for (const attempt of attempts) {
        await assert.rejects(attempt, (error: unknown) => {
          assert.ok(error instanceof InvalidPathError);
          assert.equal(error.driverName, 'fake');
          return true;
        });
      }
    }
    assert.deepEqual(calls, []);
  });

  test('/ is accepted only by stat, list and delete', async () => {
    const { driver, calls } = fake();
    const c = checked(driver);
    await c.stat('/');
    await c.list('/');
    await c.delete('/');
    assert.deepEqual(calls.map((call) => call.method), ['stat', 'list', 'delete']);
    for (const attempt of [c.getContent('/'), c.putContent('/', Buffer.from('x')), c.reader('/'), c.writer('/'), c.move('/', '/a'), c.move('/a', '/')]) {
      await assert.rejects(attempt, InvalidPathError);
    }
    assert.equal(calls.length, 3);
  });
});

describe('checked: offsets and caps', () => {
  test('offsets and lengths must be non-negative safe integers', async () => {
    const { driver, calls } = fake();
    const c = checked(driver);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      await assert.rejects(c.reader('/f', { offset: bad }), (error: unknown) => {
        assert.ok(error instanceof InvalidOffsetError);
        assert.ok(Object.is(error.offset, bad));
        return true;
      });
      await assert.rejects(c.reader('/f', { length: bad }), InvalidOffsetError);
    }
    assert.equal(calls.length, 0);
    await c.reader('/f', { offset: 0, length: 0 });
    await c.reader('/f', { offset: 10 });
    assert.equal(calls.length, 2);
  });

  test('putContent over the cap is refused before the driver is called', async () => {
    const { driver, calls } = fake();
    const c = checked(driver, { maxContentBytes: 10 });
    await c.putContent('/ok', new Uint8Array(10));
    await assert.rejects(c.putContent('/big', new Uint8Array(11)), ContentTooLargeError);
    assert.deepEqual(calls.map((call) => call.args[0]), ['/ok']);
    const byDefault = checked(driver);
    await assert.rejects(byDefault.putContent('/big', new Uint8Array(DEFAULT_MAX_CONTENT_BYTES + 1)), ContentTooLargeError);
  });

  test('getContent tells the driver the cap and checks what comes back', async () => {
    let seen: unknown;
    const { driver } = fake({
      getContent: async (_path, options) => {
        seen = options?.maxBytes;
        return Buffer.alloc(20);
      },
    });
    await assert.rejects(checked(driver, { maxContentBytes: 10 }).getContent('/f'), ContentTooLargeError);
    assert.equal(seen, 10);
    assert.equal((await checked(driver, { maxContentBytes: 20 }).getContent('/f')).byteLength, 20);
    await assert.rejects(checked(driver, { maxContentBytes: 20 }).getContent('/f', { maxBytes: 5 }), ContentTooLargeError);
    assert.equal(seen, 5, 'a smaller per-call limit wins');
  });

  test('invalid options are refused', () => {
    const { driver } = fake();
    assert.throws(() => checked(driver, { maxConcurrency: 0 }), RangeError);
    assert.throws(() => checked(driver, { maxConcurrency: 1.5 }), RangeError);
    assert.throws(() => checked(driver, { maxContentBytes: -1 }), RangeError);
  });
});

describe('checked: errors', () => {
  test('errors that are not DriverErrors are wrapped with the driver name, path and cause', async () => {
    const cause = new TypeError('socket hang up');
    const { driver } = fake({
      stat: async () => {
        throw cause;
      },
      list: () => {
        throw new Error('thrown synchronously');
      },
      delete: async () => {
        throw 'a string';
      },
    });
    const c = checked(driver);
    await assert.rejects(c.stat('/x'), (error: unknown) => {
      assert.ok(error instanceof DriverError);
      assert.equal(error.constructor, DriverError);
      assert.equal(error.driverName, 'fake');
      assert.equal(error.path, '/x');
      assert.equal(error.cause, cause);
      assert.match(error.message, /stat failed: socket hang up/);
      return true;
    });
    await assert.rejects(c.list('/x'), (error: unknown) => error instanceof DriverError && /thrown synchronously/.test(error.message));
    await assert.rejects(c.delete('/x'), (error: unknown) => error instanceof DriverError && error.cause === 'a string');
  });

  test('DriverErrors and AbortErrors pass through unchanged', async () => {
    const notFound = new PathNotFoundError('fake', '/x');
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    const { driver } = fake({
      stat: async () => {
        throw notFound;
      },
      list: async () => {
        throw abort;
      },
    });
    const c = checked(driver);
    await assert.rejects(c.stat('/x'), (error: unknown) => error === notFound);
    await assert.rejects(c.list('/x'), (error: unknown) => error === abort);
  });

  test('a reader with an aborted signal is refused up front', async () => {
    const { driver, calls } = fake();
    await assert.rejects(checked(driver).reader('/x', { signal: AbortSignal.abort() }), { name: 'AbortError' });
    assert.equal(calls.length, 0);
  });
});

describe('checked: writers', () => {
  test('writer errors are wrapped, errors of the caller\'s source are not', async () => {
    const { driver } = fake({ writer: async () => fakeWriter({ write: new TypeError('disk on fire') }) });
    const c = checked(driver);
    const failing = await c.writer('/w');
    await assert.rejects(failing.write(of(Buffer.from('x'))), (error: unknown) => {
      return error instanceof DriverError && error.cause instanceof TypeError && error.path === '/w';
    });

    const plain = checked(fake().driver);
    const sourceError = new Error('client reset');
    const broken = async function* (): AsyncGenerator<Uint8Array> {
      yield Buffer.from('a');
      throw sourceError;
    };
    const writer = await plain.writer('/w');
    await assert.rejects(writer.write(broken()), (error: unknown) => error === sourceError);

    const readable = new Readable({ read() {} });
    const streamError = new Error('stream broke');
    const second = await plain.writer('/w2');
    const writing = second.write(readable);
    readable.push(Buffer.from('a'));
    setImmediate(() => readable.destroy(streamError));
    await assert.rejects(writing, (error: unknown) => error === streamError);
  });

  test('one write at a time; nothing after a finish; only cancel after a failed commit', async () => {
    const c = checked(fake().driver);
    const writer = await c.writer('/w');
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = (async function* (): AsyncGenerator<Uint8Array> {
      await gate;
      yield Buffer.from('x');
    })();
    const first = writer.write(slow);
    await assert.rejects(writer.write(of(Buffer.from('y'))), /a write is already in progress/);
    await assert.rejects(writer.commit(), /a write is already in progress/);
    release();
    assert.equal(await first, 1);
    await writer.commit();
    await assert.rejects(writer.write(of(Buffer.from('z'))), /the writer is finished/);
    await assert.rejects(writer.cancel(), /the writer is finished/);

    const failing = checked(fake({ writer: async () => fakeWriter({ commit: new Error('fsync failed') }) }).driver);
    const broken = await failing.writer('/b');
    await assert.rejects(broken.commit(), DriverError);
    await assert.rejects(broken.close(), /only cancel\(\) is possible/);
    await broken.cancel();
  });
});

describe('checked: concurrency', () => {
  test('maxConcurrency bounds the calls in flight, in FIFO order', async () => {
    const gates: Array<() => void> = [];
    let inFlight = 0;
    let peak = 0;
    const started: string[] = [];
    const { driver } = fake({
      stat: async (path) => {
        started.push(path);
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        const gate = deferred();
        gates.push(gate.resolve);
        await gate.promise;
        inFlight -= 1;
        return { path, size: 0, modTime: new Date(0), isDir: false };
      },
    });
    const c = checked(driver, { maxConcurrency: 2 });
    const all = ['/1', '/2', '/3', '/4', '/5'].map((path) => c.stat(path));
    await tick();
    assert.deepEqual(started, ['/1', '/2']);
    while (started.length < 5 || gates.length > 0) {
      gates.shift()?.();
      await tick();
    }
    await Promise.all(all);
    assert.equal(peak, 2);
    assert.deepEqual(started, ['/1', '/2', '/3', '/4', '/5']);
  });

  test('reader streams and writer data do not hold a slot', async () => {
    const c = checked(fake().driver, { maxConcurrency: 1 });
    const stream = await c.reader('/r');
    await c.stat('/while-reading');
    const writer = await c.writer('/w');
    const gate = deferred();
    const stalled = (async function* (): AsyncGenerator<Uint8Array> {
      await gate.promise;
      yield Buffer.from('x');
    })();
    const writing = writer.write(stalled);
    await c.stat('/while-writing');
    gate.resolve();
    assert.equal(await writing, 1);
    stream.destroy();
  });

  test('a queued call gives up when its signal aborts', async () => {
    const gate = deferred();
    const { driver, calls } = fake({ stat: async (path) => (await gate.promise, { path, size: 0, modTime: new Date(0), isDir: false }) });
    const c = checked(driver, { maxConcurrency: 1 });
    const holder = c.stat('/holder');
    const controller = new AbortController();
    const queued = c.reader('/queued', { signal: controller.signal });
    await tick();
    controller.abort();
    await assert.rejects(queued, { name: 'AbortError' });
    gate.resolve();
    await holder;
    await c.stat('/after');
    assert.deepEqual(calls.map((call) => call.args[0]), ['/holder', '/after'], 'the aborted reader never ran and freed its place');
  });
});

describe('checked: observe and redirects', () => {
  test('observe sees every operation, with its error', async () => {
    const seen: Array<{ op: string; ms: number; error?: unknown }> = [];
    const { driver } = fake({
      delete: async (path) => {
        throw new PathNotFoundError('fake', path);
      },
    });
    const c = checked(driver, {
      observe: (op, ms, error) => {
        seen.push(error === undefined ? { op, ms } : { op, ms, error });
        if (op === 'list') throw new Error('a broken hook must not break storage');
      },
    });
    await c.stat('/a');
    await c.list('/a');
    await assert.rejects(c.delete('/a'), PathNotFoundError);
    await assert.rejects(c.stat('bad'), InvalidPathError);
    const writer = await c.writer('/w');
    await writer.write(of(Buffer.from('x')));
    await writer.commit();
    assert.deepEqual(seen.map((s) => s.op), ['stat', 'list', 'delete', 'stat', 'writer', 'writer.write', 'writer.commit']);
    assert.ok(seen.every((s) => s.ms >= 0));
    assert.ok(seen[2]?.error instanceof PathNotFoundError);
    assert.ok(seen[3]?.error instanceof InvalidPathError);
    assert.equal(seen[0]?.error, undefined);
  });

  test('redirectUrl is undefined without driver support and validated with it', async () => {
    assert.equal(await checked(fake().driver).redirectUrl?.('/f', { method: 'GET', expiresIn: 60 }), undefined);
    const { driver, calls } = fake({ redirectUrl: async (path) => `https://cdn.example${path}` });
    const c = checked(driver);
    assert.equal(await c.redirectUrl?.('/f', { method: 'HEAD', expiresIn: 60 }), 'https://cdn.example/f');
    await assert.rejects(c.redirectUrl?.('/f', { method: 'GET', expiresIn: 0 }) ?? Promise.resolve(), DriverError);
    await assert.rejects(c.redirectUrl?.('f', { method: 'GET', expiresIn: 5 }) ?? Promise.resolve(), InvalidPathError);
    assert.equal(calls.length, 1);
  });
});
