/**
 * The swift driver against a real one-node OpenStack Swift on loopback (test/setup/30-swift.sh,
 * `BERTH_SWIFT_*`): the shared driver suite in a container of its own for this run (removed at
 * the end), then the driver's own cases: a token refreshed after a 401, a large object appended
 * over several writer sessions across many segments and committed as an SLO, a segment failing while
 * the next one streams (through a proxy answering 503), moving an SLO (its
 * segments are shared, not copied, and survive the registry's delete of the upload directory),
 * TempURL redirects fetched with plain `fetch`, and a stopped proxy failing fast with
 * BackendUnavailableError, then working again once restarted.
 *
 * Without the environment the file skips, except under CI=true, where it fails: CI never skips it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { BackendUnavailableError, DriverError, PathNotFoundError } from '../../storage-drivers/errors.js';
import type { SwiftSession } from '../../storage-drivers/swift/auth.js';
import { createSwiftDriver, swiftParamsSchema, type SwiftDriver } from '../../storage-drivers/swift/index.js';
import { checked } from '../../storage-drivers/checked.js';
import { createDriver, parseDriverParams } from '../../storage-drivers/index.js';
import { bytes, digestAt, MiB, stream } from '../driver-suite/data.js';
import { digestPath, readPath, writeSession } from '../driver-suite/context.js';
import { runDriverSuite } from '../driver-suite/suite.js';

const run = promisify(execFile);

const env = {
  authurl: process.env.BERTH_SWIFT_AUTH_URL,
  username: process.env.BERTH_SWIFT_USER,
  password: process.env.BERTH_SWIFT_KEY,
  stop: process.env.BERTH_SWIFT_STOP,
  start: process.env.BERTH_SWIFT_START,
  outageAuthurl: process.env.BERTH_SWIFT_OUTAGE_AUTH_URL,
};
const configured = env.authurl !== undefined && env.username !== undefined && env.password !== undefined;

if (!configured) {
  const reason = 'no Swift: BERTH_SWIFT_AUTH_URL/USER/KEY are unset (run through test/run.sh, which starts one)';
  if (process.env.CI === 'true') {
    test('swift driver suite (CI must not skip it)', () => {
      assert.fail(`${reason}; under CI=true this suite must run`);
    });
  } else {
    test('swift driver suite', { skip: reason }, () => undefined);
  }
} else {
  defineSwiftTests(env.authurl ?? '', env.username ?? '', env.password ?? '');
}

function defineSwiftTests(authurl: string, username: string, password: string): void {
  /** One container for this run; every driver below lives in it (under its own prefix where noted). */
  const container = `berth-test-${randomBytes(4).toString('hex')}`;
  const tokens = new Map<string, SwiftSession>();
  const base = { authurl, username, password, container };
  // A small connection pool: a response left unread would hold its connection, and the next
  // requests would wait for one until their response timeout — so any such leak fails tests.
  const make = (extra: Record<string, unknown> = {}, tokenCache: Map<string, SwiftSession> = tokens, maxSockets = 4): SwiftDriver =>
    createSwiftDriver({ params: parseDriverParams('swift', swiftParamsSchema, { ...base, ...extra }), tokenCache, maxSockets });

  after(async () => {
    await removeContainer(make());
  });

  // On a one-node Swift listings are immediately consistent: nothing is skipped.
  runDriverSuite({
    name: 'swift',
    create: async () => make({ prefix: 'suite' }),
  });

  describe('swift specifics', () => {
    test('factory: parameters are validated with their keys named', () => {
      assert.throws(() => createDriver('swift', { authurl, username, password }, { validateOnly: true }), /storage\.swift\.container: required/);
      assert.throws(
        () => createDriver('swift', { ...base, chunksize: '10K' }, { validateOnly: true }),
        /storage\.swift\.chunksize: must be at least 1048576/,
      );
      assert.throws(() => createDriver('swift', { ...base, authversion: 2 }, { validateOnly: true }), /storage\.swift\.authversion: expected 1 or 3/);
      assert.throws(() => createDriver('swift', { ...base, insecureskipverify: true }, { validateOnly: true }), /storage\.swift\.insecureskipverify: not supported/);
      assert.throws(() => createDriver('swift', { ...base, bogus: 1 }, { validateOnly: true }), /storage\.swift\.bogus: unknown parameter/);
      const parsed = parseDriverParams('swift', swiftParamsSchema, { ...base, chunksize: '5M', timeout: '2s' });
      assert.equal(parsed.chunksize, 5 * MiB);
      assert.equal(parsed.timeout, 2);
      assert.equal(parsed.endpointtype, 'public');
    });

    test('connections are reused and every kind of exchange gives its connection back (pool of 1)', async () => {
      const driver = make({ prefix: `pool-${randomBytes(3).toString('hex')}`, responsetimeout: '3s' }, tokens, 1);
      const started = Date.now();
      for (let round = 0; round < 15; round++) {
        const path = `/p/${round}`;
        await driver.putContent(path, bytes(round, 1000 + round));
        assert.equal((await driver.stat(path)).size, 1000 + round); // HEAD with a Content-Length
        await assert.rejects(driver.stat(`${path}-missing`), PathNotFoundError); // HEAD 404 + listing
        await assert.rejects(driver.getContent(`${path}-missing`), PathNotFoundError); // GET 404 with a body
        assert.equal((await driver.getContent(path)).length, 1000 + round);
        assert.deepEqual(await driver.list('/p'), [path]);
        const early = await driver.reader(path, { offset: 10 }); // a reader destroyed before its end
        early.destroy();
        assert.equal((await readPath(driver, path)).length, 1000 + round); // a reader read to its end
        await driver.move(path, `${path}-moved`);
        await driver.delete(`${path}-moved`);
      }
      await writeSession(driver, '/p/big', [stream(80, 3 * MiB)], { finish: 'commit' });
      assert.equal((await driver.stat('/p/big')).size, 3 * MiB);
      await driver.delete('/p');
      // With one connection, a leaked one would have stalled the next request for 3 s.
      assert.ok(Date.now() - started < 60_000, 'no request waited for a leaked connection');
    });

    test('a bad password is a DriverError that names neither password nor token', async () => {
      const driver = createSwiftDriver({ params: parseDriverParams('swift', swiftParamsSchema, { ...base, password: 'wrong-secret' }) });
      await assert.rejects(driver.stat('/x'), (error: unknown) => {
        assert.ok(error instanceof DriverError, String(error));
        assert.ok(!(error instanceof BackendUnavailableError));
        assert.match(error.message, /credentials of user "test:tester" were rejected/);
        assert.doesNotMatch(error.message, /wrong-secret|AUTH_tk/);
        return true;
      });
    });

    test('a token Swift rejects (401) is replaced by a fresh login, once', async () => {
      const cache = new Map<string, SwiftSession>();
      const driver = make({ prefix: 'token' }, cache);
      await driver.ready();
      assert.equal(driver.auth.logins, 1);
      const [key, session] = [...cache.entries()][0] ?? assert.fail('no cached session');
      cache.set(key, { ...session, token: 'AUTH_tk00000000000000000000000000000000' });
      await driver.putContent('/token/a', Buffer.from('after refresh'));
      assert.equal(driver.auth.logins, 2, 'one new login');
      assert.notEqual(cache.get(key)?.token, 'AUTH_tk00000000000000000000000000000000');
      assert.equal((await driver.getContent('/token/a')).toString(), 'after refresh');

      // A writer whose token goes bad between sessions: the marker PUT (replayable) renews it.
      cache.set(key, { ...(cache.get(key) ?? session), token: 'AUTH_tk11111111111111111111111111111111' });
      await writeSession(driver, '/token/w', [stream(60, 3 * MiB)]);
      assert.equal(driver.auth.logins, 3);
      assert.deepEqual(await digestPath(driver, '/token/w'), { digest: digestAt(60, 0, 3 * MiB), size: 3 * MiB });
      await driver.delete('/token');
    });

    test('a large object appended over several sessions spans many segments and commits as an SLO', async () => {
      const driver = make({ prefix: 'large', chunksize: MiB });
      const checkedDriver = checked(driver);
      const path = '/uploads/big/data';
      const sessions = [2 * MiB + 123, 3 * MiB, MiB - 7, 4 * MiB + 1];
      let offset = 0;
      for (const [index, length] of sessions.entries()) {
        await writeSession(checkedDriver, path, [stream(61, length, { offset, chunkSizes: [256 * 1024, 100_000] })], {
          append: index > 0,
          expectSize: offset,
          finish: index === sessions.length - 1 ? 'commit' : 'close',
        });
        offset += length;
      }
      const raw = await swiftRequest(driver, 'HEAD', `large/files${path}`);
      assert.equal(raw.headers.get('x-static-large-object'), 'True');
      assert.equal(Number(raw.headers.get('content-length')), offset);
      const segments = await listNames(driver, 'large/segments/');
      // Each session ends its last segment: 3 + 3 + 1 + 5 segments of at most 1 MiB.
      assert.equal(segments.length, 12, segments.join(', '));
      assert.deepEqual(await listNames(driver, 'large/sessions/'), [], 'commit removed the session marker');
      assert.deepEqual(await digestPath(checkedDriver, path), { digest: digestAt(61, 0, offset), size: offset });
      for (const at of [MiB - 1, 2 * MiB + 120, 5 * MiB + 200, offset - 3]) {
        const part = await readPath(checkedDriver, path, { offset: at, length: 10 });
        assert.ok(part.equals(bytesOf(61, at, Math.min(10, offset - at))), `bytes at ${at}`);
      }
      await checkedDriver.delete('/uploads');
      assert.deepEqual(await listNames(driver, 'large/'), [], 'the SLO went with its segments');
    });

    test('a segment that fails while the next one streams fails the write; neither stays behind', async () => {
      // A forwarding proxy in front of the real Swift that answers 503 to the PUT of segment 1,
      // once its whole body has arrived and the PUT of segment 2 has started (or after 5 s).
      const target = new URL(authurl);
      let secondStarted: () => void = () => undefined;
      const second = new Promise<void>((resolve) => {
        secondStarted = resolve;
      });
      let sawSecond = false;
      const proxy = createHttpServer((req, res) => {
        const segment = req.method === 'PUT' ? /\/segments\/[^/]+\/(\d{8})$/.exec(req.url ?? '')?.[1] : undefined;
        if (segment === '00000002') {
          sawSecond = true;
          secondStarted();
        }
        if (segment === '00000001') {
          req.resume();
          req.on('end', () => {
            void Promise.race([second, delay(5000)]).then(() => res.writeHead(503, { 'Content-Length': '0' }).end());
          });
          return;
        }
        const upstream = httpRequest(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            const headers = { ...answer.headers };
            const storage = headers['x-storage-url'];
            if (typeof storage === 'string') headers['x-storage-url'] = storage.replace(target.origin, origin);
            res.writeHead(answer.statusCode ?? 502, headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const address = proxy.address();
      const origin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
      try {
        const proxied = make({ prefix: 'pipefail', chunksize: MiB, authurl: `${origin}${target.pathname}` }, new Map());
        const direct = make({ prefix: 'pipefail', chunksize: MiB });
        const path = '/uploads/pipe/data';
        const writer = await proxied.writer(path);
        await assert.rejects(writer.write(stream(62, 4 * MiB)), BackendUnavailableError);
        assert.ok(sawSecond, 'segment 2 streamed while segment 1 waited for its answer');
        assert.equal(writer.size, MiB, 'segment 0 is kept and counted');
        await writer.close();
        const segments = await listNames(direct, 'pipefail/segments/');
        assert.equal(segments.length, 1, segments.join(', '));
        const resumed = await direct.writer(path, { append: true });
        assert.equal(resumed.size, MiB);
        await resumed.cancel();
        assert.deepEqual(await listNames(direct, 'pipefail/'), []);
      } finally {
        proxy.closeAllConnections();
        await new Promise((resolve) => proxy.close(resolve));
      }
    });

    test('more segments than one manifest may list are committed through sub-manifests', async () => {
      const driver = make({ prefix: 'nested', chunksize: MiB });
      // Pretend the cluster allows 4 segments per manifest.
      const info = await driverInfo(driver);
      Object.assign(info, { maxManifestSegments: 4 });
      const size = 9 * MiB + 5;
      await writeSession(checked(driver), '/n/data', [stream(62, size)]);
      assert.deepEqual(await digestPath(driver, '/n/data'), { digest: digestAt(62, 0, size), size });
      const names = await listNames(driver, 'nested/segments/');
      assert.equal(names.filter((n) => /\/m\d{8}$/.test(n)).length, 3, names.join(', '));
      await driver.delete('/n');
      assert.deepEqual(await listNames(driver, 'nested/'), []);
    });

    test('moving an SLO copies its manifest only, and the upload directory can then be deleted', async () => {
      const driver = make({ prefix: 'move', chunksize: MiB });
      const checkedDriver = checked(driver);
      const upload = '/repo/_uploads/1234/data';
      const blob = '/blobs/sha256/ab/abcdef/data';
      const size = 5 * MiB + 99;
      await writeSession(checkedDriver, upload, [stream(63, 2 * MiB)], { finish: 'close' });
      await writeSession(checkedDriver, upload, [stream(63, size - 2 * MiB, { offset: 2 * MiB })], { append: true, expectSize: 2 * MiB });
      await checkedDriver.putContent('/repo/_uploads/1234/startedat', Buffer.from('now'));
      const before = await listNames(driver, 'move/segments/');
      await checkedDriver.move(upload, blob);
      assert.deepEqual(await listNames(driver, 'move/segments/'), before, 'no segment was copied');
      await checkedDriver.delete('/repo/_uploads/1234');
      assert.deepEqual(await listNames(driver, 'move/segments/'), before, 'deleting the upload directory kept them');
      assert.deepEqual(await digestPath(checkedDriver, blob), { digest: digestAt(63, 0, size), size });
      assert.equal((await swiftRequest(driver, 'HEAD', `move/files${blob}`)).headers.get('x-static-large-object'), 'True');

      // Replacing an SLO by a move deletes the replaced one's segments.
      await writeSession(checkedDriver, '/other', [stream(64, 2 * MiB + 1)]);
      await checkedDriver.move('/other', blob);
      assert.deepEqual(await digestPath(checkedDriver, blob), { digest: digestAt(64, 0, 2 * MiB + 1), size: 2 * MiB + 1 });
      assert.equal((await listNames(driver, 'move/segments/')).length, 3, 'only the new segments are left');
      await checkedDriver.delete('/blobs');
      assert.deepEqual(await listNames(driver, 'move/'), []);
    });

    test('an SLO larger than 5 GiB (Swift\'s copy limit) moves, reads and deletes', async () => {
      // 5 manifest entries of a sub-manifest that lists one 50 MiB segment 21 times: 5250 MiB
      // of content from 50 MiB of storage.
      const driver = make({ prefix: 'huge' });
      await driver.ready();
      const session = '0000000000ab-0000000000cd';
      const segment = `huge/segments/${session}/00000000`;
      const sub = `huge/segments/${session}/m00000000`;
      const segmentBytes = bytesOf(69, 0, 50 * MiB);
      assert.equal((await swiftRequest(driver, 'PUT', segment, '', segmentBytes)).status, 201);
      const subEntries = Array.from({ length: 21 }, () => ({ path: `/${container}/${segment}`, etag: null, size_bytes: 50 * MiB }));
      assert.equal((await swiftRequest(driver, 'PUT', sub, '?multipart-manifest=put', JSON.stringify(subEntries))).status, 201);
      const topEntries = Array.from({ length: 5 }, () => ({ path: `/${container}/${sub}`, etag: null, size_bytes: 21 * 50 * MiB }));
      assert.equal((await swiftRequest(driver, 'PUT', 'huge/files/big', '?multipart-manifest=put', JSON.stringify(topEntries))).status, 201);
      const size = 5 * 21 * 50 * MiB;
      assert.ok(size > 5 * 1024 * MiB);
      assert.equal((await driver.stat('/big')).size, size);
      await driver.move('/big', '/moved/big');
      assert.equal((await driver.stat('/moved/big')).size, size);
      await assert.rejects(driver.stat('/big'), PathNotFoundError);
      const at = size - 50 * MiB + 1234;
      assert.ok((await readPath(driver, '/moved/big', { offset: at, length: 100 })).equals(segmentBytes.subarray(1234, 1334)));
      await driver.delete('/moved');
      assert.deepEqual(await listNames(driver, 'huge/'), [], 'the manifests and the segment are gone');
    });

    test('listings are paged with markers (files and pseudo-directories)', async () => {
      const driver = createSwiftDriver({
        params: parseDriverParams('swift', swiftParamsSchema, { ...base, prefix: 'paging' }),
        tokenCache: tokens,
        listingPageSize: 2,
      });
      const checkedDriver = checked(driver);
      const files = ['f1', 'f2', 'f3', 'd1/x', 'd1/y', 'd2/x', 'd3/deep/z', 'f4', 'f5'];
      for (const file of files) await checkedDriver.putContent(`/p/${file}`, Buffer.from(file));
      const children = ['/p/d1', '/p/d2', '/p/d3', '/p/f1', '/p/f2', '/p/f3', '/p/f4', '/p/f5'];
      assert.deepEqual((await checkedDriver.list('/p')).sort(), children);
      assert.equal((await checkedDriver.stat('/p/d3')).isDir, true);
      await checkedDriver.delete('/p');
      await assert.rejects(checkedDriver.list('/p'), PathNotFoundError);
      assert.deepEqual(await listNames(driver, 'paging/'), []);
    });

    test('the timeout counts only time spent waiting on Swift, not on a slow source or consumer', async () => {
      const driver = createSwiftDriver({
        params: parseDriverParams('swift', swiftParamsSchema, { ...base, prefix: 'idle', timeout: 1, chunksize: MiB }),
        tokenCache: tokens,
        segmentIdleMs: 5_000,
      });
      const slowSource = async function* (): AsyncGenerator<Uint8Array> {
        yield bytesOf(67, 0, 300_000);
        await delay(2_000); // longer than the timeout, shorter than the segment idle limit
        yield bytesOf(67, 300_000, 300_000);
      };
      await writeSession(driver, '/slow/source', [slowSource()]);
      assert.equal((await listNames(driver, 'idle/segments/')).length, 1, 'one segment: the stall did not split it');
      assert.ok((await driver.getContent('/slow/source')).equals(bytesOf(67, 0, 600_000)));
      // Larger than every buffer on the way, so Swift really waits for the consumer.
      const size = 24 * MiB;
      await writeSession(driver, '/slow/consumer', [stream(67, size)]);
      const reader = await driver.reader('/slow/consumer');
      let received = 0;
      for await (const chunk of reader) {
        if (received === 0) await delay(2_000); // a consumer slower than the timeout
        received += (chunk as Uint8Array).byteLength;
      }
      assert.equal(received, size);
      await driver.delete('/slow');
    });

    test('a source silent for longer than the segment idle limit ends the segment early', async () => {
      const driver = createSwiftDriver({
        params: parseDriverParams('swift', swiftParamsSchema, { ...base, prefix: 'split', chunksize: MiB }),
        tokenCache: tokens,
        segmentIdleMs: 200,
      });
      const pausing = async function* (): AsyncGenerator<Uint8Array> {
        yield bytesOf(68, 0, 100_000);
        await delay(600);
        yield bytesOf(68, 100_000, 100_000);
      };
      await writeSession(driver, '/p', [pausing()]);
      assert.equal((await listNames(driver, 'split/segments/')).length, 2, 'the pause ended the first segment');
      assert.ok((await driver.getContent('/p')).equals(bytesOf(68, 0, 200_000)));
      await driver.delete('/p');
    });

    test('TempURL redirects work with plain fetch', async () => {
      const secret = `berth-${randomBytes(8).toString('hex')}`;
      const driver = make({ prefix: 'tempurl', secretkey: secret });
      await driver.putContent('/t/blob', Buffer.from('served by Swift'));
      const get = await driver.redirectUrl?.('/t/blob', { method: 'GET', expiresIn: 60 });
      assert.ok(get !== undefined, 'a URL');
      assert.match(get, /temp_url_sig=[0-9a-f]{64}&temp_url_expires=\d+$/);
      const response = await fetch(get);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'served by Swift');
      const head = await driver.redirectUrl?.('/t/blob', { method: 'HEAD', expiresIn: 60 });
      const headResponse = await fetch(head ?? '', { method: 'HEAD' });
      assert.equal(headResponse.status, 200);
      assert.equal(headResponse.headers.get('content-length'), '15');
      const tampered = get.replace('/t/blob', '/t/other');
      assert.equal((await fetch(tampered)).status, 401, 'the signature covers the path');
      const unsigned = createSwiftDriver({ params: parseDriverParams('swift', swiftParamsSchema, { ...base, prefix: 'tempurl' }) });
      assert.equal(await unsigned.redirectUrl?.('/t/blob', { method: 'GET', expiresIn: 60 }), undefined, 'no secretkey, no URL');
      await driver.delete('/t');
      await removeTempUrlKey(driver, secret);
    });

    test('a stopped proxy fails fast with BackendUnavailableError, and a restarted one works again', { skip: outageSkip() }, async () => {
      if (env.stop === undefined || env.start === undefined) assert.fail('BERTH_SWIFT_STOP/START are unset; under CI=true this test must run');
      // The outage proxy: stopping it leaves the main proxy to the suites running meanwhile.
      const outage = env.outageAuthurl ?? authurl;
      const timeout = 5;
      const driver = createSwiftDriver({
        params: parseDriverParams('swift', swiftParamsSchema, { ...base, authurl: outage, prefix: 'outage', timeout }),
      });
      await driver.putContent('/o/before', Buffer.from('x'));
      await run('bash', [env.stop]);
      try {
        for (const attempt of [
          () => driver.stat('/o/before'),
          () => driver.getContent('/o/before'),
          () => driver.putContent('/o/during', Buffer.from('y')),
          async () => writeSession(driver, '/o/writer', [stream(65, 2 * MiB)]),
        ]) {
          const started = performance.now();
          await assert.rejects(attempt(), (error: unknown) => {
            assert.ok(error instanceof BackendUnavailableError, `got ${String(error)}`);
            assert.doesNotMatch(error.message, /AUTH_tk|testing/);
            return true;
          });
          const ms = performance.now() - started;
          assert.ok(ms < timeout * 1000, `failed after ${Math.round(ms)} ms, within the ${timeout} s timeout`);
        }
      } finally {
        await run('bash', [env.start]);
      }
      assert.equal((await driver.getContent('/o/before')).toString(), 'x');
      await driver.putContent('/o/after', Buffer.from('z'));
      await driver.delete('/o');
    });
  });

  describe('swift with Keystone v3', { skip: keystoneSkip() }, () => {
    const keystone = {
      authurl: process.env.BERTH_KEYSTONE_URL ?? '',
      username: process.env.BERTH_KEYSTONE_USER ?? '',
      password: process.env.BERTH_KEYSTONE_PASSWORD ?? '',
      domain: process.env.BERTH_KEYSTONE_DOMAIN ?? '',
      tenant: process.env.BERTH_KEYSTONE_PROJECT ?? '',
      region: process.env.BERTH_KEYSTONE_REGION ?? '',
      container,
    };
    const makeV3 = (extra: Record<string, unknown> = {}, cache = new Map<string, SwiftSession>()): SwiftDriver => {
      if (keystone.authurl === '') assert.fail('BERTH_KEYSTONE_URL is unset; under CI=true the Keystone tests must run');
      return createSwiftDriver({ params: parseDriverParams('swift', swiftParamsSchema, { ...keystone, ...extra }), tokenCache: cache });
    };

    after(async () => {
      if (keystone.authurl !== '') await removeContainer(makeV3());
    });

    test('a project-scoped token and the catalog endpoint of the region serve the driver', async () => {
      const driver = makeV3({ prefix: 'ks', chunksize: MiB });
      const session = await driver.auth.session();
      assert.match(session.storageUrl, new RegExp(`/v1/AUTH_${process.env.BERTH_KEYSTONE_PROJECT_ID ?? ''}$`));
      await driver.putContent('/k/small', Buffer.from('keystone'));
      assert.equal((await driver.getContent('/k/small')).toString(), 'keystone');
      await writeSession(checked(driver), '/k/large', [stream(66, 2 * MiB + 3)]);
      assert.deepEqual(await digestPath(driver, '/k/large'), { digest: digestAt(66, 0, 2 * MiB + 3), size: 2 * MiB + 3 });
      assert.deepEqual((await driver.list('/k')).sort(), ['/k/large', '/k/small']);
      await driver.delete('/k');
      await assert.rejects(driver.stat('/k'), PathNotFoundError);
    });

    test('project by id, domain by id, and the internal endpoint work too', async () => {
      const driver = makeV3({
        tenant: undefined,
        tenantid: process.env.BERTH_KEYSTONE_PROJECT_ID,
        domain: undefined,
        domainid: 'default',
        endpointtype: 'internal',
        prefix: 'ks2',
      });
      await driver.putContent('/x', Buffer.from('1'));
      await driver.delete('/x');
    });

    test('a rejected Keystone token is renewed once', async () => {
      const cache = new Map<string, SwiftSession>();
      const driver = makeV3({ prefix: 'ks3' }, cache);
      await driver.ready();
      const [key, session] = [...cache.entries()][0] ?? assert.fail('no cached session');
      cache.set(key, { ...session, token: 'gAAAAABnot-a-real-fernet-token' });
      await driver.putContent('/r', Buffer.from('renewed'));
      assert.equal(driver.auth.logins, 2);
      await driver.delete('/r');
    });

    test('a wrong password and an unknown region give clear DriverErrors', async () => {
      await assert.rejects(makeV3({ password: 'nope' }).stat('/x'), (error: unknown) => {
        assert.ok(error instanceof DriverError && !(error instanceof BackendUnavailableError), String(error));
        assert.match(error.message, /v3 at .*credentials of user "tester" were rejected \(401/);
        assert.doesNotMatch(error.message, /nope/);
        return true;
      });
      await assert.rejects(makeV3({ region: 'Atlantis' }).stat('/x'), /no object-store public endpoint in region Atlantis/);
      // Without tenant/tenantid Keystone scopes to the user's default project (tester has one).
      assert.equal((await makeV3({ tenant: undefined }).list('/')).length, 0);
    });
  });

  function keystoneSkip(): string | false {
    if (process.env.BERTH_KEYSTONE_URL !== undefined) return false;
    if (process.env.CI === 'true') return false; // the tests fail instead of skipping
    return 'no Keystone: BERTH_KEYSTONE_URL is unset (test/setup/30-swift.sh starts one unless BERTH_SWIFT_KEYSTONE=0)';
  }

  function outageSkip(): string | false {
    if (env.stop !== undefined && env.start !== undefined) return false;
    if (process.env.CI === 'true') return false; // fails below instead of skipping
    return 'BERTH_SWIFT_STOP/START are unset';
  }
}

/** Bytes of the test sequence (data.ts) at an offset. */
function bytesOf(seed: number, offset: number, length: number): Buffer {
  return bytes(seed, offset + length).subarray(offset);
}

/** A raw authenticated request to the driver's container (object name relative to it). */
async function swiftRequest(
  driver: SwiftDriver,
  method: string,
  object: string,
  query = '',
  body?: Uint8Array | string,
): Promise<Response> {
  const session = await driver.auth.session();
  const url = `${session.storageUrl}/${driver.container}/${object.split('/').map(encodeURIComponent).join('/')}${query}`;
  const response = await fetch(url, { method, headers: { 'X-Auth-Token': session.token }, ...(body === undefined ? {} : { body }) });
  if (method !== 'GET') await response.body?.cancel();
  return response;
}

/** Every object name in the driver's container below `prefix`. */
async function listNames(driver: SwiftDriver, prefix: string): Promise<string[]> {
  const session = await driver.auth.session();
  const url = `${session.storageUrl}/${driver.container}?format=json&prefix=${encodeURIComponent(prefix)}`;
  const response = await fetch(url, { headers: { 'X-Auth-Token': session.token } });
  if (response.status === 204 || response.status === 404) return [];
  const entries = (await response.json()) as Array<{ name: string }>;
  return entries.map((entry) => entry.name);
}

/** The driver client's cached `/info` (the test mutates it). */
async function driverInfo(driver: SwiftDriver): Promise<object> {
  return driver.client.info();
}

async function removeTempUrlKey(driver: SwiftDriver, secret: string): Promise<void> {
  const session = await driver.auth.session();
  const head = await fetch(session.storageUrl, { method: 'HEAD', headers: { 'X-Auth-Token': session.token } });
  for (const header of ['X-Account-Meta-Temp-URL-Key', 'X-Account-Meta-Temp-URL-Key-2']) {
    if (head.headers.get(header) === secret) {
      await fetch(session.storageUrl, { method: 'POST', headers: { 'X-Auth-Token': session.token, [`X-Remove-${header.slice(2)}`]: 'x' } });
    }
  }
}

/** Deletes everything left in the run's container, then the container. */
async function removeContainer(driver: SwiftDriver): Promise<void> {
  const session = await driver.auth.session();
  for (;;) {
    const names = await listNames(driver, '');
    if (names.length === 0) break;
    for (const name of names) await swiftRequest(driver, 'DELETE', name);
  }
  await fetch(`${session.storageUrl}/${driver.container}`, { method: 'DELETE', headers: { 'X-Auth-Token': session.token } });
}
