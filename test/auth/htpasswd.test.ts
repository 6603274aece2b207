/**
 * The htpasswd store: bcrypt entries ($2a$/$2b$/$2y$), load errors naming the line, reload on
 * change (and keeping the users when the new file is bad), the success cache (counted through an
 * injected compare), unknown users, failures never cached, concurrent verifies sharing one compare.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hash, verify } from '@node-rs/bcrypt';
import { HtpasswdError, HtpasswdStore, parseHtpasswd, type HtpasswdOptions } from '../../src/auth/htpasswd.js';

let dir: string;
let aliceHash: string;
let bobHash: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-htpasswd-'));
  aliceHash = await hash('alice-pw', 4);
  bobHash = (await hash('bob-pw', 4)).replace(/^\$2b\$/, '$2y$');
});
after(() => rm(dir, { recursive: true, force: true }));

interface Harness {
  readonly store: HtpasswdStore;
  readonly calls: { count: number };
  readonly clock: { now: number };
  readonly errors: Record<string, unknown>[];
  readonly path: string;
}

async function open(name: string, text: string, options: Partial<HtpasswdOptions> = {}): Promise<Harness> {
  const path = join(dir, name);
  await writeFile(path, text);
  const calls = { count: 0 };
  const clock = { now: 1_000_000 };
  const errors: Record<string, unknown>[] = [];
  const store = await HtpasswdStore.open({
    path,
    now: () => clock.now,
    compare: (password, h) => {
      calls.count++;
      return verify(password, h);
    },
    logger: { error: (o) => errors.push(o) },
    ...options,
  });
  return { store, calls, clock, errors, path };
}

describe('parseHtpasswd', () => {
  test('bcrypt lines, comments and blank lines, CRLF', () => {
    const users = parseHtpasswd(`# users\n\nalice:${aliceHash}\r\nbob:${bobHash}\n   \n`);
    assert.deepEqual([...users.keys()], ['alice', 'bob']);
  });

  test('errors name the line', () => {
    const cases: [string, number, RegExp][] = [
      [`alice:${aliceHash}\nnocolonhere\n`, 2, /no ":"/],
      [`# x\n\nmd5:$apr1$abc$0123456789012345678901\n`, 3, /not a bcrypt hash/],
      [`sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n`, 1, /not a bcrypt hash/],
      [`:${aliceHash}\n`, 1, /empty user/],
      [`a:${aliceHash}\na:${aliceHash}\n`, 2, /duplicate/],
    ];
    for (const [text, line, message] of cases) {
      assert.throws(() => parseHtpasswd(text, 'f'), (e: unknown) => e instanceof HtpasswdError && e.line === line && message.test(e.message) && e.message.startsWith(`f:${line}:`));
    }
  });
});

describe('HtpasswdStore', () => {
  test('missing file at start is an error', async () => {
    await assert.rejects(HtpasswdStore.open({ path: join(dir, 'absent') }), HtpasswdError);
  });

  test('a bad file at start is an error naming the line', async () => {
    await assert.rejects(open('bad-start', `alice:${aliceHash}\nbroken\n`), (e: unknown) => e instanceof HtpasswdError && e.line === 2);
  });

  test('verifies $2b$ and $2y$ entries; wrong passwords and unknown users fail, each with one compare', async () => {
    const h = await open('basic', `alice:${aliceHash}\nbob:${bobHash}\n`);
    assert.equal(await h.store.verify('alice', 'alice-pw'), true);
    assert.equal(await h.store.verify('bob', 'bob-pw'), true);
    assert.equal(h.calls.count, 2);
    assert.equal(await h.store.verify('alice', 'wrong'), false);
    assert.equal(h.calls.count, 3);
    assert.equal(await h.store.verify('mallory', 'alice-pw'), false);
    assert.equal(h.calls.count, 4, 'an unknown user still costs one compare');
    assert.equal(await h.store.verify('ALICE', 'alice-pw'), false);
  });

  test('successes are cached (no second compare) until the TTL; failures are never cached', async () => {
    const h = await open('cache', `alice:${aliceHash}\n`, { cacheTtlMs: 60_000 });
    assert.equal(await h.store.verify('alice', 'alice-pw'), true);
    assert.equal(await h.store.verify('alice', 'alice-pw'), true);
    assert.equal(h.calls.count, 1);
    assert.equal(await h.store.verify('alice', 'nope'), false);
    assert.equal(await h.store.verify('alice', 'nope'), false);
    assert.equal(h.calls.count, 3, 'each failure costs a compare');
    h.clock.now += 60_001;
    assert.equal(await h.store.verify('alice', 'alice-pw'), true);
    assert.equal(h.calls.count, 4, 'expired entry: compared again');
  });

  test('the cache is bounded', async () => {
    const h = await open('bounded', `alice:${aliceHash}\nbob:${bobHash}\n`, { cacheMaxEntries: 1 });
    await h.store.verify('alice', 'alice-pw');
    await h.store.verify('bob', 'bob-pw');
    await h.store.verify('alice', 'alice-pw');
    assert.equal(h.calls.count, 3, 'alice was evicted by bob');
  });

  test('concurrent verifies of one credential share one compare', async () => {
    const h = await open('concurrent', `alice:${aliceHash}\n`);
    const results = await Promise.all([1, 2, 3, 4].map(() => h.store.verify('alice', 'alice-pw')));
    assert.deepEqual(results, [true, true, true, true]);
    assert.equal(h.calls.count, 1);
  });

  test('reloads when the file changes, at most once per stat interval, and drops the cache', async () => {
    const h = await open('reload', `alice:${aliceHash}\n`);
    assert.equal(await h.store.verify('alice', 'alice-pw'), true);
    await writeFile(h.path, `# alice removed, bob added\nbob:${bobHash}\n`);
    // Within the stat interval the old users still answer (from the cache here).
    assert.equal(await h.store.verify('alice', 'alice-pw'), true);
    h.clock.now += 1_001;
    assert.equal(await h.store.verify('alice', 'alice-pw'), false);
    assert.equal(await h.store.verify('bob', 'bob-pw'), true);
    assert.equal(h.store.size, 1);
  });

  test('a bad file on reload keeps the previous users and is reported once', async () => {
    const h = await open('bad-reload', `alice:${aliceHash}\n`);
    await writeFile(h.path, `alice:${aliceHash}\nbob:$apr1$xyz$abcdefghijklmnopqrstuv\n`);
    h.clock.now += 1_001;
    assert.equal(await h.store.verify('alice', 'alice-pw'), true);
    h.clock.now += 1_001;
    assert.equal(await h.store.verify('alice', 'alice-pw'), true);
    assert.equal(h.errors.length, 1);
    assert.equal(h.errors[0]?.['line'], 2);
    assert.ok(!JSON.stringify(h.errors).includes('alice-pw'));
    await rm(h.path);
    h.clock.now += 1_001;
    assert.equal(await h.store.verify('alice', 'alice-pw'), true, 'a vanished file keeps the users too');
    assert.equal(h.errors.length, 2);
    await writeFile(h.path, `bob:${bobHash}\n`);
    h.clock.now += 1_001;
    assert.equal(await h.store.verify('bob', 'bob-pw'), true, 'a fixed file is picked up');
  });
});
