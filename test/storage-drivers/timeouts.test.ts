/**
 * Fail fast on a hung backend, for the swift and s3 drivers, against local TCP servers that
 * misbehave on purpose: one accepts connections and stays silent, one sends the response headers
 * and then stalls in the middle of the body, one sends its body slowly but steadily. The first
 * two must fail with a BackendUnavailableError within the configured budget; the slow one must
 * never be cut (the idle timer restarts with every chunk). Then a real Berth process on a silent
 * backend, with the default timeouts: a manifest HEAD answers 503 UNAVAILABLE with Retry-After
 * within 10 s, and /healthz reports unhealthy within its own 5 s probe timeout.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { LoopbackServers } from '../helpers/loopback-servers.js';
import { after, describe, test } from 'node:test';
import { createDriver } from '../../storage-drivers/index.js';
import { BackendUnavailableError } from '../../storage-drivers/errors.js';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { startBerth } from '../helpers/berth-process.js';

const loopback = new LoopbackServers();
const servers = loopback.servers;
after(() => loopback.closeAll());

function listen(server: Server): Promise<number> {
  return loopback.listen(server);
}

/** Accepts every connection and never writes a byte. */
function silentServer(): Promise<number> {
  return listen(createServer(() => undefined));
}

type Object = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Enough of Swift (tempauth v1, container PUT, /info) and of S3 for the drivers to reach the
 * object request; `object` answers GETs of objects.
 */
function fakeBackend(object: Object): Promise<number> {
  const server = createHttpServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/auth/v1.0')) {
      const host = req.headers.host ?? '';
      res.writeHead(200, { 'X-Auth-Token': 'tok', 'X-Storage-Url': `http://${host}/v1/AUTH_test`, 'Content-Length': '0' });
      res.end();
      return;
    }
    if (url === '/info') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"swift":{},"slo":{"max_manifest_segments":1000}}');
      return;
    }
    if (req.method === 'PUT' && /^\/v1\/AUTH_test\/[^/]+$/.test(url)) {
      res.writeHead(201, { 'Content-Length': '0' });
      res.end();
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      object(req, res);
      return;
    }
    res.writeHead(500);
    res.end();
  });
  return listen(server as unknown as Server);
}

/** Headers for 1000 bytes, 10 bytes, then nothing. */
const stalled: Object = (_req, res) => {
  res.writeHead(200, { 'Content-Length': '1000', 'Content-Type': 'application/octet-stream', ETag: '"x"', 'Last-Modified': new Date().toUTCString() });
  res.write(Buffer.alloc(10, 1));
};

/** 20 chunks of 50 bytes, one every 150 ms (3 s in all, well past every limit but the idle one). */
const slow: Object = (_req, res) => {
  res.writeHead(200, { 'Content-Length': '1000', 'Content-Type': 'application/octet-stream', ETag: '"x"', 'Last-Modified': new Date().toUTCString() });
  let sent = 0;
  const timer = setInterval(() => {
    res.write(Buffer.alloc(50, 2));
    sent += 1;
    if (sent === 20) {
      clearInterval(timer);
      res.end();
    }
  }, 150);
  res.on('close', () => clearInterval(timer));
};

/** Short limits so the cases run in about a second each. */
function swiftDriver(port: number): StorageDriver {
  return createDriver('swift', {
    authurl: `http://127.0.0.1:${port}/auth/v1.0`,
    username: 'test:tester',
    password: 'testing',
    container: 'c',
    timeout: '1s',
    responsetimeout: '500ms',
    retrybudget: '1500ms',
  });
}

function s3Driver(port: number): StorageDriver {
  return createDriver('s3', {
    bucket: 'b',
    region: 'us-east-1',
    regionendpoint: `http://127.0.0.1:${port}`,
    forcepathstyle: true,
    accesskey: 'AKIA',
    secretkey: 'secret',
    connecttimeout: '500ms',
    responsetimeout: '500ms',
    idletimeout: '1s',
    retrybudget: '1500ms',
  });
}

async function failsUnavailableWithin(what: string, ms: number, run: () => Promise<unknown>): Promise<void> {
  const started = Date.now();
  await assert.rejects(run(), (error: unknown) => {
    assert.ok(error instanceof BackendUnavailableError, `${what}: ${String(error)}`);
    return true;
  });
  const took = Date.now() - started;
  assert.ok(took < ms, `${what}: took ${took} ms (limit ${ms} ms)`);
}

describe('driver timeouts on a hung backend', { timeout: 60_000 }, () => {
  for (const [name, make] of [
    ['swift', swiftDriver],
    ['s3', s3Driver],
  ] as const) {
    test(`${name}: a server that accepts and stays silent fails within the budget`, async () => {
      const driver = make(await silentServer());
      await failsUnavailableWithin(`${name} stat`, 3000, () => driver.stat('/a/b'));
      await failsUnavailableWithin(`${name} getContent`, 3000, () => driver.getContent('/a/b'));
    });

    test(`${name}: headers, then a stall mid-body, fails on the idle limit`, async () => {
      const driver = make(await fakeBackend(stalled));
      await failsUnavailableWithin(`${name} getContent`, 4000, () => driver.getContent('/a/b'));
    });

    test(`${name}: a slow but moving body is never cut`, async () => {
      const driver = make(await fakeBackend(slow));
      const started = Date.now();
      const stream = await driver.reader('/a/b');
      let total = 0;
      for await (const chunk of stream) total += (chunk as Buffer).length;
      assert.equal(total, 1000);
      assert.ok(Date.now() - started > 2000, 'the transfer took longer than every limit but the idle one');
    });
  }

  test('a Berth process over a silent Swift: 503 UNAVAILABLE with Retry-After within 10 s; /healthz unhealthy within 5 s', { timeout: 40_000 }, async () => {
    const port = await silentServer();
    const berth = await startBerthOnSilentBackend(port);
    try {
      const started = Date.now();
      const [head, health] = await Promise.all([
        fetch(`${berth.url}/v2/team/app/manifests/latest`, { signal: AbortSignal.timeout(20_000) }).then(async (r) => ({ r, body: await r.text(), ms: Date.now() - started })),
        fetch(`${berth.url}/healthz`, { signal: AbortSignal.timeout(20_000) }).then(async (r) => ({ r, body: await r.text(), ms: Date.now() - started })),
      ]);
      assert.equal(head.r.status, 503, head.body);
      assert.match(head.body, /"UNAVAILABLE"/);
      assert.ok(head.r.headers.get('retry-after') !== null, 'Retry-After');
      assert.ok(head.ms < 10_000, `manifest GET answered after ${head.ms} ms`);
      assert.equal(health.r.status, 503, health.body);
      assert.ok(health.ms < 6_000, `/healthz answered after ${health.ms} ms`);
    } finally {
      await berth.stop();
    }
  });
});

/** startBerth needs /v2/ to answer 200 to consider the process up: the base endpoint touches no storage. */
function startBerthOnSilentBackend(port: number) {
  return startBerth({
    config: {
      log: { level: 'error' },
      storage: {
        swift: { authurl: `http://127.0.0.1:${port}/auth/v1.0`, username: 'test:tester', password: 'testing', container: 'c' },
        maintenance: { uploadpurging: { enabled: false } },
      },
    },
  });
}
