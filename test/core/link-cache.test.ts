/**
 * The link cache (src/core/link-cache.ts) on its own, with an injected clock: the staleness bound
 * counted from the start of the storage read, writes visible at once, a read that overlapped a
 * write never cached, positive-only caching as the stores use it, single flight, capacity, ttl 0.
 * Then two registries on one in-memory driver (two "nodes"): a tag moved or deleted on one is seen
 * by the other only within the bound, by itself at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import { parseDigest } from '../../src/core/digest.js';
import { LinkCache } from '../../src/core/link-cache.js';
import { createRegistry } from '../../src/core/registry.js';

class Clock {
  ms = 1_000_000;
  readonly now = (): number => this.ms;
}

function counter<T>(value: () => T): { load: () => Promise<T>; calls: () => number } {
  let calls = 0;
  return {
    load: async () => {
      calls += 1;
      return value();
    },
    calls: () => calls,
  };
}

test('an answer is served until ttl after its read began, then read again', async () => {
  const clock = new Clock();
  const cache = new LinkCache({ ttlMs: 1000, now: clock.now });
  let stored = 'a';
  const source = counter(() => stored);
  assert.equal(await cache.get('k', source.load, () => true), 'a');
  stored = 'b';
  clock.ms += 999;
  assert.equal(await cache.get('k', source.load, () => true), 'a', 'within the bound');
  clock.ms += 1;
  assert.equal(await cache.get('k', source.load, () => true), 'b', 'at the bound');
  assert.equal(source.calls(), 2);
});

test('the bound counts from the start of a slow read', async () => {
  const clock = new Clock();
  const cache = new LinkCache({ ttlMs: 1000, now: clock.now });
  const slow = async (): Promise<string> => {
    clock.ms += 800; // the read itself takes 800 ms
    return 'a';
  };
  await cache.get('k', slow, () => true);
  clock.ms += 199;
  assert.equal(await cache.get('k', async () => 'fresh', () => true), 'a');
  clock.ms += 1;
  assert.equal(await cache.get('k', async () => 'fresh', () => true), 'fresh');
});

test('a write on this node is served at once; an invalidation makes the next read go to storage', async () => {
  const clock = new Clock();
  const cache = new LinkCache({ ttlMs: 1000, now: clock.now });
  await cache.get('k', async () => 'old', () => true);
  cache.set('k', 'new');
  assert.equal(await cache.get('k', async () => 'storage', () => true), 'new');
  cache.invalidate('k');
  assert.equal(await cache.get('k', async () => 'storage', () => true), 'storage');
});

test('a read that overlapped a write does not put its older answer back', async () => {
  const cache = new LinkCache({ ttlMs: 60_000 });
  let release: (value: string) => void = () => undefined;
  const pending = cache.get('k', () => new Promise<string>((resolve) => (release = resolve)), () => true);
  cache.set('k', 'written');
  release('read before the write');
  assert.equal(await pending, 'read before the write', 'the overlapping caller gets what it read');
  assert.equal(await cache.get('k', async () => 'storage', () => true), 'written', 'the write stays');
  // Same with an invalidation: the overlapping read is not cached either.
  let release2: (value: string) => void = () => undefined;
  const pending2 = cache.get('j', () => new Promise<string>((resolve) => (release2 = resolve)), () => true);
  cache.invalidate('j');
  release2('stale');
  await pending2;
  assert.equal(await cache.get('j', async () => 'storage', () => true), 'storage');
});

test('answers keep() refuses (missing things) are asked again every time', async () => {
  const cache = new LinkCache({ ttlMs: 60_000 });
  const source = counter((): string | undefined => undefined);
  for (let i = 0; i < 3; i++) assert.equal(await cache.get('k', source.load, (v) => v !== undefined), undefined);
  assert.equal(source.calls(), 3);
});

test('concurrent misses share one read; a failed read is not cached', async () => {
  const cache = new LinkCache({ ttlMs: 60_000 });
  const source = counter(() => 'x');
  const slow = async (): Promise<string> => {
    await delay(10);
    return source.load();
  };
  const all = await Promise.all(Array.from({ length: 20 }, () => cache.get('k', slow, () => true)));
  assert.deepEqual(new Set(all), new Set(['x']));
  assert.equal(source.calls(), 1);
  await assert.rejects(cache.get('f', async () => Promise.reject(new Error('backend down')), () => true), /backend down/);
  assert.equal(await cache.get('f', async () => 'up', () => true), 'up');
});

test('capacity bounds the entries; ttl 0 never caches', async () => {
  const small = new LinkCache({ ttlMs: 60_000, capacity: 3 });
  for (let i = 0; i < 10; i++) await small.get(`k${i}`, async () => i, () => true);
  assert.equal(small.size, 3);
  const off = new LinkCache({ ttlMs: 0 });
  const source = counter(() => 'v');
  await off.get('k', source.load, () => true);
  off.set('k', 'w');
  assert.equal(await off.get('k', source.load, () => true), 'v');
  assert.equal(source.calls(), 2);
  assert.equal(off.size, 0);
});

test('two registries on one store: the other node sees a tag move and a delete within the bound, the writer at once', async () => {
  const driver = createInMemoryDriver();
  const options = { maxBlobBytes: 0, manifestCacheBytes: 1 << 20, linkTtlMs: 300, now: () => new Date() };
  const nodeA = createRegistry(driver, options);
  const nodeB = createRegistry(driver, options);
  const one = parseDigest(`sha256:${'1'.repeat(64)}`);
  const two = parseDigest(`sha256:${'2'.repeat(64)}`);
  await nodeA.tags.set('repo', 'latest', one);
  assert.equal((await nodeB.tags.resolve('repo', 'latest'))?.digest, one.digest);
  await nodeA.tags.set('repo', 'latest', two);
  const moved = Date.now();
  assert.equal((await nodeA.tags.resolve('repo', 'latest'))?.digest, two.digest, 'the writer at once');
  assert.equal((await nodeB.tags.resolve('repo', 'latest'))?.digest, one.digest, 'the other node: cached within the bound');
  assert.equal((await nodeB.tags.resolve('repo', 'latest', { fresh: true }))?.digest, two.digest, 'a fresh read sees storage');
  await delay(Math.max(0, moved + 310 - Date.now()));
  assert.equal((await nodeB.tags.resolve('repo', 'latest'))?.digest, two.digest, 'the other node after the bound');

  assert.equal(await nodeB.tags.delete('repo', 'latest'), true);
  const deleted = Date.now();
  assert.equal(await nodeB.tags.resolve('repo', 'latest'), undefined, 'the deleting node at once');
  await delay(Math.max(0, deleted + 310 - Date.now()));
  assert.equal(await nodeA.tags.resolve('repo', 'latest'), undefined, 'the other node after the bound');

  // Blob links: linked on A, unlinked on B; a missing link is never cached, so a link made on
  // another node is seen at once.
  assert.equal(await nodeB.blobs.isLinked('repo', one), false);
  await nodeA.blobs.link('repo', one);
  assert.equal(await nodeB.blobs.isLinked('repo', one), true, 'a new link is seen at once (missing is not cached)');
  await nodeB.blobs.unlink('repo', one);
  const unlinked = Date.now();
  assert.equal(await nodeB.blobs.isLinked('repo', one), false, 'the unlinking node at once');
  await delay(Math.max(0, unlinked + 310 - Date.now()));
  assert.equal(await nodeA.blobs.isLinked('repo', one), false, 'the other node after the bound');
});
