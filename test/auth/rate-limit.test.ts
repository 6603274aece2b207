/**
 * Rate limiting (src/auth/rate-limit.ts) with an injected clock (no sleeps, no timing): burst then
 * refusal with Retry-After, refill, per-kind budgets, failed logins per user and address, the
 * client address through trusted proxies (IPv4, IPv6, IPv4-mapped), bounded memory; plus the
 * config schemas and the IP helpers.
 */
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { formatIp, parseCidr, parseIp, cidrContains } from '../../src/auth/ip-address.js';
import { RATE_LIMIT_CONFIG_SCHEMA, TRUSTED_PROXIES_SCHEMA } from '../../src/auth/rate-limit-config.js';
import { createRateLimiter } from '../../src/auth/rate-limit.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A request as the client-address code sees it: the socket's peer and the headers. */
function req(remoteAddress: string | undefined, xff?: string | string[]): IncomingMessage {
  return { socket: { remoteAddress }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } } as unknown as IncomingMessage;
}

describe('token buckets', () => {
  test('a burst, then refusal with a sane Retry-After, then refill', () => {
    const c = clock();
    const limiter = createRateLimiter({ ratelimit: RATE_LIMIT_CONFIG_SCHEMA.parse({ reads: { rate: 2, burst: 5 } }) }, { now: c.now });
    for (let i = 0; i < 5; i++) assert.deepEqual(limiter.take('read', 'ip:1.2.3.4'), { ok: true }, `request ${i}`);
    assert.deepEqual(limiter.take('read', 'ip:1.2.3.4'), { ok: false, retryAfterSeconds: 1 });
    // Other clients are not affected.
    assert.deepEqual(limiter.take('read', 'ip:1.2.3.5'), { ok: true });
    c.advance(499);
    assert.equal(limiter.take('read', 'ip:1.2.3.4').ok, false);
    c.advance(1);
    assert.equal(limiter.take('read', 'ip:1.2.3.4').ok, true);
    assert.equal(limiter.take('read', 'ip:1.2.3.4').ok, false);
    // Long quiet: back to the full burst, not more.
    c.advance(3_600_000);
    for (let i = 0; i < 5; i++) assert.equal(limiter.take('read', 'ip:1.2.3.4').ok, true);
    assert.equal(limiter.take('read', 'ip:1.2.3.4').ok, false);
  });

  test('Retry-After is the wait for the next token, rounded up', () => {
    const c = clock();
    const limiter = createRateLimiter({ ratelimit: RATE_LIMIT_CONFIG_SCHEMA.parse({ failedlogins: { rate: 0.1, burst: 3 } }) }, { now: c.now });
    for (let i = 0; i < 3; i++) assert.equal(limiter.take('failedLogin', 'user:x').ok, true);
    assert.deepEqual(limiter.take('failedLogin', 'user:x'), { ok: false, retryAfterSeconds: 10 });
    c.advance(2_500);
    assert.deepEqual(limiter.take('failedLogin', 'user:x'), { ok: false, retryAfterSeconds: 8 });
    c.advance(7_499);
    assert.deepEqual(limiter.peek('failedLogin', 'user:x'), { ok: false, retryAfterSeconds: 1 });
    c.advance(1);
    assert.deepEqual(limiter.peek('failedLogin', 'user:x'), { ok: true });
  });

  test('each kind has its own budget; a kind without one is unlimited', () => {
    const c = clock();
    const limiter = createRateLimiter({ ratelimit: RATE_LIMIT_CONFIG_SCHEMA.parse({ writes: { rate: 1, burst: 2 } }) }, { now: c.now });
    assert.equal(limiter.limited('read'), false);
    assert.equal(limiter.limited('write'), true);
    for (let i = 0; i < 1000; i++) assert.equal(limiter.take('read', 'user:a').ok, true);
    assert.equal(limiter.take('write', 'user:a').ok, true);
    assert.equal(limiter.take('write', 'user:a').ok, true);
    assert.equal(limiter.take('write', 'user:a').ok, false);
    assert.equal(limiter.size, 1, 'unlimited kinds keep no state');
    const both = createRateLimiter({ ratelimit: RATE_LIMIT_CONFIG_SCHEMA.parse({ reads: { rate: 1, burst: 1 }, writes: { rate: 1, burst: 1 } }) }, { now: c.now });
    assert.equal(both.take('read', 'k').ok, true);
    assert.equal(both.take('write', 'k').ok, true, 'reads do not spend the write budget');
    assert.equal(both.take('read', 'k').ok, false);
  });

  test('no ratelimit section: nothing is limited', () => {
    const limiter = createRateLimiter({});
    for (let i = 0; i < 100; i++) assert.equal(limiter.take('failedLogin', ['user:a', 'ip:1.1.1.1']).ok, true);
    assert.equal(limiter.size, 0);
  });

  test('failed logins need budget for the user AND the address; peek consumes nothing', () => {
    const c = clock();
    const limiter = createRateLimiter({ ratelimit: RATE_LIMIT_CONFIG_SCHEMA.parse({ failedlogins: { rate: 1, burst: 2 } }) }, { now: c.now });
    const fromA = limiter.failedLoginKeys('alice', '10.0.0.1');
    assert.deepEqual(fromA, ['user:alice', 'ip:10.0.0.1']);
    for (let i = 0; i < 10; i++) assert.equal(limiter.peek('failedLogin', fromA).ok, true);
    assert.equal(limiter.take('failedLogin', fromA).ok, true);
    assert.equal(limiter.take('failedLogin', fromA).ok, true);
    assert.equal(limiter.peek('failedLogin', fromA).ok, false);
    // The same user from another address: the user's bucket is empty.
    assert.equal(limiter.peek('failedLogin', limiter.failedLoginKeys('alice', '10.0.0.2')).ok, false);
    // Another user from the same address: the address's bucket is empty.
    assert.equal(limiter.peek('failedLogin', limiter.failedLoginKeys('bob', '10.0.0.1')).ok, false);
    // A fresh user from a fresh address is fine; a refused take consumes from no bucket.
    assert.equal(limiter.take('failedLogin', limiter.failedLoginKeys('bob', '10.0.0.2')).ok, true);
    assert.equal(limiter.take('failedLogin', ['user:bob', 'ip:10.0.0.1']).ok, false);
    assert.equal(limiter.take('failedLogin', ['user:bob', 'ip:10.0.0.3']).ok, true, 'bob still had one token');
    assert.deepEqual(limiter.failedLoginKeys('', '10.0.0.9'), ['ip:10.0.0.9']);
  });

  test('keys: the subject when authenticated, else the address; IPv6 per /64', () => {
    const limiter = createRateLimiter({});
    assert.equal(limiter.keyFor({ subject: 'alice' }, '10.0.0.1'), 'user:alice');
    assert.equal(limiter.keyFor({ subject: '' }, '10.0.0.1'), 'ip:10.0.0.1');
    assert.equal(limiter.keyFor(undefined, '10.0.0.1'), 'ip:10.0.0.1');
    assert.equal(limiter.keyFor(undefined, '2001:db8:1:2:aaaa::1'), 'ip:2001:db8:1:2::/64');
    assert.equal(limiter.keyFor(undefined, '2001:db8:1:2:bbbb::7'), 'ip:2001:db8:1:2::/64');
    assert.equal(limiter.keyFor(undefined, 'unknown'), 'ip:unknown');
  });

  test('memory stays bounded: full buckets are swept, the cap evicts the least recently used', () => {
    const c = clock();
    const limiter = createRateLimiter(
      { ratelimit: RATE_LIMIT_CONFIG_SCHEMA.parse({ reads: { rate: 10, burst: 10 } }) },
      { now: c.now, maxEntries: 1000, sweepIntervalMs: 60_000 },
    );
    for (let i = 0; i < 900; i++) limiter.take('read', `ip:10.0.${i >> 8}.${i & 255}`);
    assert.equal(limiter.size, 900);
    // A minute later every bucket has refilled: the next call sweeps them all.
    c.advance(60_000);
    limiter.take('read', 'ip:192.0.2.1');
    assert.equal(limiter.size, 1);
    // A flood of new addresses never exceeds the cap.
    const hot = 'ip:192.0.2.1';
    for (let i = 0; i < 5000; i++) {
      c.advance(1);
      limiter.take('read', `ip:flood-${i}`);
      if (i % 50 === 0) limiter.take('read', hot);
      assert.ok(limiter.size <= 1000, `size ${limiter.size}`);
    }
    // Recently used buckets survive eviction (the hot key still has a bucket: its count goes down).
    const before = limiter.size;
    limiter.take('read', hot);
    assert.equal(limiter.size, before);
  });

  test('a refused request does not spend tokens', () => {
    const c = clock();
    const limiter = createRateLimiter({ ratelimit: RATE_LIMIT_CONFIG_SCHEMA.parse({ reads: { rate: 1, burst: 1 } }) }, { now: c.now });
    assert.equal(limiter.take('read', 'k').ok, true);
    for (let i = 0; i < 10; i++) assert.equal(limiter.take('read', 'k').ok, false);
    c.advance(1000);
    assert.equal(limiter.take('read', 'k').ok, true);
  });
});

describe('client address', () => {
  const limiter = createRateLimiter({ trustedProxies: TRUSTED_PROXIES_SCHEMA.parse(['10.0.0.0/8', 'fd00::/8']) });
  const cases: Array<[string, string | undefined, string | string[] | undefined, string]> = [
    ['no proxy: the peer', '203.0.113.5', undefined, '203.0.113.5'],
    ['an untrusted peer cannot forward', '203.0.113.5', '198.51.100.1', '203.0.113.5'],
    ['a trusted proxy forwards', '10.1.2.3', '198.51.100.1', '198.51.100.1'],
    ['client-written entries left of the real client are ignored', '10.1.2.3', '1.1.1.1, 198.51.100.1', '198.51.100.1'],
    ['a chain of trusted proxies is walked from the right', '10.1.2.3', '6.6.6.6, 198.51.100.1, 10.9.9.9, 10.8.8.8', '198.51.100.1'],
    ['repeated headers', '10.1.2.3', ['6.6.6.6', '198.51.100.1, 10.9.9.9'], '198.51.100.1'],
    ['all hops trusted: the left-most', '10.1.2.3', '10.5.5.5, 10.6.6.6', '10.5.5.5'],
    ['garbage stops at the last trusted hop', '10.1.2.3', '198.51.100.1, not-an-ip, 10.6.6.6', '10.6.6.6'],
    ['an empty header', '10.1.2.3', '', '10.1.2.3'],
    ['ports are dropped', '10.1.2.3', '198.51.100.1:4711', '198.51.100.1'],
    ['IPv4-mapped peer counts as IPv4', '::ffff:10.1.2.3', '198.51.100.1', '198.51.100.1'],
    ['IPv4-mapped untrusted peer, normalised', '::ffff:203.0.113.5', '198.51.100.1', '203.0.113.5'],
    ['IPv6 trusted proxy', 'fd12::1', '2001:db8::1', '2001:db8::1'],
    ['IPv6 peer normalised', '2001:0DB8:0:0:0:0:0:0001', undefined, '2001:db8::1'],
    ['bracketed IPv6 entry with port', 'fd12::1', '[2001:db8::2]:443', '2001:db8::2'],
    ['IPv6 entry through IPv4 proxy', '10.0.0.1', '2001:db8:0:0:1::1', '2001:db8::1:0:0:1'],
    ['IPv4-mapped entry', '10.0.0.1', '::ffff:198.51.100.7', '198.51.100.7'],
    ['untrusted IPv6 peer', '2001:db8::9', '198.51.100.1', '2001:db8::9'],
    ['no socket address', undefined, undefined, 'unknown'],
  ];
  for (const [name, peer, xff, want] of cases) {
    test(name, () => assert.equal(limiter.clientAddress(req(peer, xff)), want));
  }
  test('without trusted proxies X-Forwarded-For is never honoured', () => {
    const plain = createRateLimiter({});
    assert.equal(plain.clientAddress(req('127.0.0.1', '198.51.100.1')), '127.0.0.1');
  });
  test('a real request through a trusted loopback proxy', async () => {
    const viaProxy = createRateLimiter({ trustedProxies: TRUSTED_PROXIES_SCHEMA.parse('127.0.0.0/8, ::1') });
    const seen: string[] = [];
    const server = createServer((request_, response) => {
      seen.push(viaProxy.clientAddress(request_));
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      for (const xff of [undefined, '198.51.100.1, 127.0.0.2']) {
        await new Promise<void>((resolve, reject) => {
          const r = request({ host: '127.0.0.1', port, headers: xff === undefined ? {} : { 'X-Forwarded-For': xff } }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          r.on('error', reject);
          r.end();
        });
      }
    } finally {
      server.close();
    }
    assert.deepEqual(seen, ['127.0.0.1', '198.51.100.1']);
  });
});

describe('IP helpers and config', () => {
  test('parse and format', () => {
    const round = (text: string): string | undefined => {
      const ip = parseIp(text);
      return ip === undefined ? undefined : formatIp(ip);
    };
    assert.equal(round('192.0.2.1'), '192.0.2.1');
    assert.equal(round('::'), '::');
    assert.equal(round('::1'), '::1');
    assert.equal(round('1::'), '1::');
    assert.equal(round('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(round('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(round('fe80::1%eth0'), 'fe80::1');
    assert.equal(round('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(round('::FFFF:c000:0201'), '192.0.2.1');
    assert.equal(round('64:ff9b::192.0.2.1'), '64:ff9b::c000:201');
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1::2::3', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', 'localhost', '1.2.3.4 ']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  test('CIDR containment', () => {
    const inRange = (cidr: string, ip: string): boolean => {
      const r = parseCidr(cidr);
      const a = parseIp(ip);
      assert.ok(r !== undefined && a !== undefined, `${cidr} ${ip}`);
      return cidrContains(r, a);
    };
    assert.equal(inRange('10.0.0.0/8', '10.255.1.1'), true);
    assert.equal(inRange('10.0.0.0/8', '11.0.0.1'), false);
    assert.equal(inRange('192.168.1.128/25', '192.168.1.200'), true);
    assert.equal(inRange('192.168.1.128/25', '192.168.1.100'), false);
    assert.equal(inRange('0.0.0.0/0', '8.8.8.8'), true);
    assert.equal(inRange('0.0.0.0/0', '::1'), false);
    assert.equal(inRange('10.0.0.0/8', '::ffff:10.0.0.1'), true);
    assert.equal(inRange('::ffff:10.0.0.0/104', '10.3.3.3'), true);
    assert.equal(inRange('fd00::/8', 'fdab::1'), true);
    assert.equal(inRange('fd00::/8', 'fe80::1'), false);
    assert.equal(inRange('::1', '::1'), true);
    assert.equal(inRange('192.0.2.7', '192.0.2.7'), true);
    assert.equal(inRange('192.0.2.7', '192.0.2.8'), false);
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/08', 'x/8', 'fe80::1%eth0/64']) assert.equal(parseCidr(bad), undefined, bad);
  });

  test('berth.trustedproxies: normalised list, one comma-separated string, errors name the entry', () => {
    assert.deepEqual(TRUSTED_PROXIES_SCHEMA.parse(['10.1.2.3/8', '2001:DB8::/32', '::ffff:10.0.0.0/104']), ['10.0.0.0/8', '2001:db8::/32', '10.0.0.0/8']);
    assert.deepEqual(TRUSTED_PROXIES_SCHEMA.parse('10.0.0.0/8, 192.0.2.1'), ['10.0.0.0/8', '192.0.2.1/32']);
    const r = TRUSTED_PROXIES_SCHEMA.safeParse(['10.0.0.0/8', '10.0.0.0/40']);
    assert.equal(r.success, false);
    assert.deepEqual(r.error?.issues[0]?.path, [1]);
  });

  test('berth.ratelimit: budgets, defaults and errors', () => {
    assert.deepEqual(RATE_LIMIT_CONFIG_SCHEMA.parse({ reads: { rate: 2.5 }, failedlogins: { rate: '0.5', burst: '5' } }), {
      reads: { rate: 2.5, burst: 3 },
      failedLogins: { rate: 0.5, burst: 5 },
    });
    assert.deepEqual(RATE_LIMIT_CONFIG_SCHEMA.parse({}), {});
    const paths = (doc: unknown): string[] => RATE_LIMIT_CONFIG_SCHEMA.safeParse(doc).error?.issues.map((i) => i.path.join('.')) ?? [];
    assert.deepEqual(paths({ reads: { rate: 0 } }), ['reads.rate']);
    assert.deepEqual(paths({ writes: { rate: 1, burst: 0.5 } }), ['writes.burst']);
    assert.deepEqual(paths({ writes: { rate: 'fast' } }), ['writes.rate']);
    assert.equal(paths({ pulls: { rate: 1 } }).length, 1);
    assert.equal(paths({ reads: { rate: 1, brust: 2 } }).length, 1);
  });
});
