/**
 * Pooled GETs (storage-drivers/pooled-get/) against real local servers on 127.0.0.1: a node:http
 * server with Range support and misbehaving paths, and raw TCP servers for what node:http would
 * not send. Bodies arrive byte-identical in pooled and plain mode (also many at once, and through
 * sendContent to a real client), every pool buffer comes back, anything but the happy path falls
 * back (undefined), and broken, silent, stalled, oversized or over-long answers, as well as the
 * caller's signal, end in the right errors within the configured limits — while a slow consumer
 * never trips the idle timer.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, request, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { LoopbackServers } from '../helpers/loopback-servers.js';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { sendContent } from '../../src/http/send-stream.js';
import { BackendUnavailableError, DriverError } from '../../storage-drivers/errors.js';
import { BufferPool, POOLED_CHUNKS, type PooledChunks } from '../../storage-drivers/pooled-chunks.js';
import { ConnectionLimit, pooledGet, type PooledGetOptions, type PooledGetRequest } from '../../storage-drivers/pooled-get/reader.js';
import { happyBodyLength, parseResponseHead, requestHead } from '../../storage-drivers/pooled-get/head.js';
import { SegmentQueue } from '../../storage-drivers/pooled-get/segments.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const data = randomBytes(9 * MiB + 12345);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A pool that counts the buffers handed out and not given back. */
class CountingPool extends BufferPool {
  readonly #out = new Set<ArrayBufferLike>();

  override take(): Buffer {
    const buffer = super.take();
    this.#out.add(buffer.buffer);
    return buffer;
  }

  override give(chunk: Uint8Array): void {
    this.#out.delete(chunk.buffer);
    super.give(chunk);
  }

  get outstanding(): number {
    return this.#out.size;
  }
}

const loopback = new LoopbackServers();
const servers = loopback.servers;
after(() => loopback.closeAll());

function listen(server: Server | HttpServer): Promise<number> {
  return loopback.listen(server);
}

/** Request heads the object server saw, by path. */
const seen = new Map<string, IncomingMessage['headers']>();

function serveBlob(req: IncomingMessage, res: ServerResponse): void {
  const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (match === null) {
    res.writeHead(200, { 'Content-Length': data.length });
    res.end(data);
    return;
  }
  const start = Number(match[1]);
  const end = Math.min(data.length - 1, match[2] === '' ? data.length - 1 : Number(match[2]));
  if (start >= data.length) {
    res.writeHead(416, { 'Content-Range': `bytes */${data.length}` });
    res.end();
    return;
  }
  res.writeHead(206, { 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${data.length}` });
  res.end(data.subarray(start, end + 1));
}

function objectServer(): Promise<number> {
  return listen(
    createHttpServer((req, res) => {
      const path = req.url ?? '/';
      seen.set(path.split('?')[0] ?? '', req.headers);
      switch (path.split('?')[0]) {
        case '/blob':
          serveBlob(req, res);
          return;
        case '/missing':
          res.writeHead(404, { 'Content-Type': 'text/html' });
          res.end('<html>Not Found</html>');
          return;
        case '/unauthorized':
          res.writeHead(401);
          res.end('no');
          return;
        case '/chunked':
          res.writeHead(200, { 'Transfer-Encoding': 'chunked' });
          res.end(data.subarray(0, 1000));
          return;
        case '/nolength':
          res.writeHead(200, { Connection: 'close' });
          res.end(data.subarray(0, 1000));
          return;
        case '/ignores-range':
          res.writeHead(200, { 'Content-Length': data.length });
          res.end(data);
          return;
        case '/wrong-range':
          res.writeHead(206, { 'Content-Length': 10, 'Content-Range': `bytes 1-10/${data.length}` });
          res.end(data.subarray(1, 11));
          return;
        case '/redirect':
          res.writeHead(307, { Location: '/blob', 'Content-Length': 0 });
          res.end();
          return;
        case '/server-error':
          res.writeHead(503, { 'Content-Length': 4 });
          res.end('busy');
          return;
        case '/closes-mid-body':
          res.writeHead(200, { 'Content-Length': data.length });
          res.write(data.subarray(0, 3 * MiB), () => setTimeout(() => res.destroy(), 50));
          return;
        case '/stalls-mid-body':
          res.writeHead(200, { 'Content-Length': data.length });
          res.write(data.subarray(0, 100 * KiB));
          return;
        default:
          res.writeHead(500);
          res.end();
      }
    }),
  );
}

/** A raw TCP server answering every request with `answer` (then keeping the socket open). */
function rawServer(answer: (socket: Socket) => void): Promise<number> {
  return listen(
    createTcpServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => answer(socket));
    }),
  );
}

function options(pool: BufferPool, overrides: Partial<PooledGetOptions> = {}): PooledGetOptions {
  return { driverName: 'test', backend: 'the test backend', pool, responseTimeoutMs: 2000, idleTimeoutMs: 2000, ...overrides };
}

function requestOf(port: number, path: string, more: Partial<PooledGetRequest> = {}): PooledGetRequest {
  return { url: new URL(`http://127.0.0.1:${port}${path}`), offset: 0, what: `GET ${path}`, path, ...more };
}

async function readPooled(stream: Readable, pause?: () => Promise<void>): Promise<Buffer> {
  const open = (stream as unknown as Record<symbol, (() => PooledChunks) | undefined>)[POOLED_CHUNKS];
  assert.ok(open !== undefined, 'the stream offers pooled chunks');
  const chunks = open.call(stream);
  const parts: Buffer[] = [];
  try {
    for (let chunk = await chunks.next(); chunk !== null; chunk = await chunks.next()) {
      parts.push(Buffer.from(chunk));
      if (pause !== undefined) await pause();
      chunks.release(chunk);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts);
}

async function readPlain(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function opened(pool: BufferPool, port: number, path: string, more: Partial<PooledGetRequest> = {}, overrides: Partial<PooledGetOptions> = {}): Promise<Readable> {
  const stream = await pooledGet(options(pool, overrides), requestOf(port, path, more));
  assert.ok(stream !== undefined, `${path}: the happy path`);
  return stream;
}

/** Lets socket and timer callbacks run. */
const settle = (): Promise<void> => delay(50);

describe('pooled GET', { timeout: 120_000 }, () => {
  let port: number;
  before(async () => {
    port = await objectServer();
  });

  test('whole and ranged bodies are byte-identical, pooled and plain; every lent buffer comes back', async () => {
    const pool = new CountingPool(256 * KiB, 8);
    // Plain mode gives its chunks away (they pin their buffers, left to the GC): a pool of its own.
    const plainPool = new CountingPool(256 * KiB, 8);
    assert.equal(sha(await readPooled(await opened(pool, port, '/blob'))), sha(data));
    assert.equal(sha(await readPlain(await opened(plainPool, port, '/blob'))), sha(data));
    for (const [offset, length] of [[0, 1], [1, 2 * MiB], [MiB - 1, 3 * MiB + 7], [data.length - 5, 5], [data.length - 5, undefined], [12345, undefined], [0, data.length]] as const) {
      const more = { offset, ...(length === undefined ? {} : { length }) };
      const expected = data.subarray(offset, length === undefined ? undefined : offset + length);
      assert.ok((await readPooled(await opened(pool, port, '/blob', more))).equals(expected), `pooled ${offset}+${length}`);
      assert.ok((await readPlain(await opened(plainPool, port, '/blob', more))).equals(expected), `plain ${offset}+${length}`);
    }
    await settle();
    assert.equal(pool.outstanding, 0, 'every pooled buffer came back');
    assert.ok(pool.idle > 0 && pool.idle <= 8);
    const headers = seen.get('/blob');
    assert.equal(headers?.connection, 'close');
    assert.equal(headers?.host, `127.0.0.1:${port}`);
  });

  test('chunks a plain consumer keeps are never reused by later pooled reads', async () => {
    const pool = new CountingPool(256 * KiB, 64);
    const kept: Buffer[] = [];
    for await (const chunk of await opened(pool, port, '/blob')) kept.push(chunk as Buffer);
    const before = sha(Buffer.concat(kept));
    for (let round = 0; round < 3; round += 1) await readPooled(await opened(pool, port, '/blob', { offset: 7 * round + 1 }));
    assert.equal(sha(Buffer.concat(kept)), before);
    assert.equal(before, sha(data));
  });

  test('many reads at once, with the caller\'s headers sent', async () => {
    const pool = new CountingPool(256 * KiB, 8);
    const plainPool = new CountingPool(256 * KiB, 8);
    const reads = Array.from({ length: 12 }, async (_, index) => {
      const offset = index * 100_003;
      const stream = await opened(index % 2 === 0 ? pool : plainPool, port, '/blob', { offset, headers: { 'X-Auth-Token': 'tok-123' } });
      const body = index % 2 === 0 ? await readPooled(stream) : await readPlain(stream);
      assert.ok(body.equals(data.subarray(offset)), `read ${index}`);
    });
    await Promise.all(reads);
    await settle();
    assert.equal(pool.outstanding, 0);
    assert.equal(seen.get('/blob')?.['x-auth-token'], 'tok-123');
  });

  test('served through sendContent to a real client, byte-identical', async () => {
    const pool = new CountingPool(256 * KiB, 8);
    const errors: unknown[] = [];
    const front = createHttpServer((req, res) => {
      sendContent(req, res, data.length, undefined, (offset, length) => opened(pool, port, '/blob', { offset, length })).catch((error: unknown) => {
        errors.push(error);
        res.destroy();
      });
    });
    const frontPort = await listen(front);
    const bodies = await Promise.all(
      Array.from({ length: 3 }, () =>
        new Promise<Buffer>((resolve, reject) => {
          request({ host: '127.0.0.1', port: frontPort, path: '/' }, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (chunk: Buffer) => parts.push(chunk));
            res.on('end', () => resolve(Buffer.concat(parts)));
            res.on('error', reject);
          })
            .on('error', reject)
            .end();
        }),
      ),
    );
    for (const body of bodies) assert.equal(sha(body), sha(data));
    await settle();
    assert.deepEqual(errors, []);
    assert.equal(pool.outstanding, 0);
  });

  test('anything but the happy path falls back (undefined), buffers back', async () => {
    const pool = new CountingPool(256 * KiB, 8);
    const cases: Array<[string, Partial<PooledGetRequest>]> = [
      ['/missing', {}],
      ['/unauthorized', {}],
      ['/chunked', {}],
      ['/nolength', {}],
      ['/ignores-range', { offset: 10 }],
      ['/wrong-range', { length: 10 }],
      ['/redirect', {}],
      ['/server-error', {}],
      ['/blob', { offset: data.length + 10 }],
    ];
    for (const [path, more] of cases) {
      assert.equal(await pooledGet(options(pool), requestOf(port, path, more)), undefined, `${path} ${JSON.stringify(more)}`);
    }
    const refused = await rawServer(() => undefined);
    const closed = servers.at(-1) as Server;
    await new Promise((r) => closed.close(r));
    assert.equal(await pooledGet(options(pool), requestOf(refused, '/blob')), undefined, 'connection refused');
    assert.equal(await pooledGet(options(pool), { ...requestOf(port, '/blob'), url: new URL(`https://127.0.0.1:${port}/blob`) }), undefined, 'https');
    await settle();
    assert.equal(pool.outstanding, 0);
  });

  test('the connection limit: a read that finds every connection in use falls back; closed ones free theirs', async () => {
    const pool = new CountingPool(256 * KiB, 8);
    const connections = new ConnectionLimit(2);
    const first = await opened(pool, port, '/blob', {}, { connections });
    const second = await opened(pool, port, '/blob', {}, { connections });
    assert.equal(connections.active, 2);
    assert.equal(await pooledGet(options(pool, { connections }), requestOf(port, '/blob')), undefined, 'a third read falls back');
    assert.equal(sha(await readPooled(first)), sha(data));
    await settle();
    assert.equal(connections.active, 1, 'a finished read gave its connection back');
    const third = await opened(pool, port, '/blob', {}, { connections });
    assert.equal(sha(await readPooled(third)), sha(data));
    second.destroy();
    await settle();
    assert.equal(connections.active, 0, 'a destroyed read gave its connection back');
    assert.equal(await pooledGet(options(pool, { connections }), requestOf(port, '/missing')), undefined);
    await settle();
    assert.equal(connections.active, 0, 'a fallback gave its connection back');
    assert.equal(pool.outstanding, 0);
  });

  test('a connection closed mid-body is a BackendUnavailableError', async () => {
    const pool = new CountingPool(256 * KiB, 8);
    await assert.rejects(readPooled(await opened(pool, port, '/closes-mid-body')), (error: unknown) => {
      assert.ok(error instanceof BackendUnavailableError, String(error));
      assert.match(error.message, /closed before the body was complete|ECONNRESET/);
      return true;
    });
    await assert.rejects(readPlain(await opened(new CountingPool(256 * KiB, 8), port, '/closes-mid-body')), BackendUnavailableError);
    await settle();
    assert.equal(pool.outstanding, 0);
  });

  test('a server that accepts and stays silent: BackendUnavailableError within the response timeout', async () => {
    const pool = new CountingPool(256 * KiB, 8);
    const silent = await rawServer(() => undefined);
    const started = Date.now();
    await assert.rejects(pooledGet(options(pool, { responseTimeoutMs: 400 }), requestOf(silent, '/blob')), (error: unknown) => {
      assert.ok(error instanceof BackendUnavailableError, String(error));
      assert.match(error.message, /GET \/blob: no answer from the test backend within 0\.4 s/);
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 350 && took < 1500, `took ${took} ms`);
    await settle();
    assert.equal(pool.outstanding, 0);
  });

  test('a stall mid-body fails after the idle timeout', async () => {
    const pool = new CountingPool(256 * KiB, 8);
    for (const read of [readPooled, readPlain]) {
      const stream = await opened(read === readPooled ? pool : new CountingPool(256 * KiB, 8), port, '/stalls-mid-body', {}, { idleTimeoutMs: 400 });
      const started = Date.now();
      await assert.rejects(read(stream), (error: unknown) => {
        assert.ok(error instanceof BackendUnavailableError, String(error));
        assert.match(error.message, /no answer from the test backend within 0\.4 s/);
        return true;
      });
      const took = Date.now() - started;
      assert.ok(took >= 350 && took < 1500, `took ${took} ms`);
    }
    await settle();
    assert.equal(pool.outstanding, 0);
  });

  test('a slow consumer does not trip the idle timer, and reading pauses meanwhile', async () => {
    const pool = new CountingPool(256 * KiB, 64);
    const stream = await opened(pool, port, '/blob', {}, { idleTimeoutMs: 300, highWaterBytes: MiB });
    let first = true;
    let heldAtPause = 0;
    const body = await readPooled(stream, async () => {
      if (!first) return;
      first = false;
      await delay(1000);
      heldAtPause = pool.outstanding;
    });
    assert.equal(sha(body), sha(data));
    // Bounded: about the high-water mark plus one buffer in progress, not the whole 9 MiB.
    assert.ok(heldAtPause * 256 * KiB <= 2 * MiB + 256 * KiB, `${heldAtPause} buffers held while the consumer slept`);
    await settle();
    assert.equal(pool.outstanding, 0);
    const plain = await opened(new CountingPool(256 * KiB, 8), port, '/blob', {}, { idleTimeoutMs: 300 });
    const parts: Buffer[] = [];
    for await (const chunk of plain) {
      if (parts.length === 0) await delay(1000);
      parts.push(chunk as Buffer);
    }
    assert.equal(sha(Buffer.concat(parts)), sha(data));
  });

  test('the caller\'s signal: AbortError before the head and mid-body; buffers back', async () => {
    const pool = new CountingPool(256 * KiB, 8);
    const silent = await rawServer(() => undefined);
    const early = new AbortController();
    const pending = pooledGet(options(pool), requestOf(silent, '/blob', { signal: early.signal }));
    setTimeout(() => early.abort(), 100);
    await assert.rejects(pending, { name: 'AbortError' });
    const already = AbortSignal.abort();
    await assert.rejects(pooledGet(options(pool), requestOf(port, '/blob', { signal: already })), { name: 'AbortError' });
    for (const read of [readPooled, readPlain]) {
      const controller = new AbortController();
      const stream = await opened(read === readPooled ? pool : new CountingPool(256 * KiB, 8), port, '/stalls-mid-body', { signal: controller.signal });
      setTimeout(() => controller.abort(), 100);
      await assert.rejects(read(stream), { name: 'AbortError' });
    }
    // Aborted after the whole body arrived but before it was read: still an AbortError.
    const controller = new AbortController();
    const complete = await opened(pool, port, '/blob', { length: 1000, signal: controller.signal });
    await settle();
    controller.abort();
    await assert.rejects(readPlain(complete), { name: 'AbortError' });
    await settle();
    assert.equal(pool.outstanding, 0);
  });

  test('an oversized head is a DriverError; bytes past Content-Length too', async () => {
    const pool = new CountingPool(256 * KiB, 8);
    const huge = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 10\r\n`);
      for (let i = 0; i < 700; i += 1) socket.write(`X-Filler-${i}: ${'y'.repeat(100)}\r\n`);
    });
    await assert.rejects(pooledGet(options(pool), requestOf(huge, '/blob')), (error: unknown) => {
      assert.ok(error instanceof DriverError && !(error instanceof BackendUnavailableError), String(error));
      assert.match(error.message, /response head is larger than 65536 bytes/);
      return true;
    });
    const long = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n${'z'.repeat(20)}`);
    });
    await assert.rejects(pooledGet(options(pool), requestOf(long, '/blob')), /longer than its Content-Length/);
    const later = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n${'z'.repeat(10)}`, () => {
        setTimeout(() => socket.write('z'.repeat(100_000)), 50);
      });
    });
    await assert.rejects(readPooled(await opened(pool, later, '/blob')), /longer than its Content-Length/);
    // A head split over many small writes is still read.
    const split = await rawServer((socket) => {
      const text = `HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello`;
      let at = 0;
      const timer = setInterval(() => {
        socket.write(text.slice(at, at + 3));
        at += 3;
        if (at >= text.length) clearInterval(timer);
      }, 5);
    });
    assert.equal((await readPooled(await opened(pool, split, '/blob'))).toString(), 'hello');
    await settle();
    assert.equal(pool.outstanding, 0);
  });
});

describe('SegmentQueue', () => {
  test('packs reads into one buffer, hands out contiguous views, returns a buffer once all its chunks are released', () => {
    const pool = new CountingPool(1000, 4);
    const queue = new SegmentQueue(pool, 100);
    let armed = queue.arm();
    assert.equal(armed.length, 1000);
    armed.write('headbody1', 'latin1');
    queue.filled(armed, 9);
    queue.skip(4);
    armed = queue.arm();
    assert.equal(armed.byteOffset, 9);
    armed.write('body2', 'latin1');
    queue.filled(armed, 5);
    const first = queue.take(true);
    assert.equal(first?.toString(), 'body1body2');
    assert.equal(queue.take(true), undefined);
    armed = queue.arm();
    queue.filled(armed, armed.length - 50); // the first buffer now has 50 bytes left: less than minRead
    const second = queue.take(true);
    const next = queue.arm();
    assert.notEqual(next.buffer, armed.buffer, 'a new buffer once too little is left');
    assert.equal(pool.outstanding, 2);
    queue.release(first as Buffer);
    assert.equal(pool.outstanding, 2, 'still lent: the second chunk');
    queue.release(second as Buffer);
    assert.equal(pool.outstanding, 1, 'the first buffer is back');
    queue.release(second as Buffer); // a double release is ignored
    queue.close();
    assert.equal(pool.outstanding, 0);
    assert.equal(queue.segments, 0);
  });

  test('chunks given away pin their buffer: it is dropped, never reused', () => {
    const pool = new CountingPool(1000, 4);
    const queue = new SegmentQueue(pool, 100);
    const armed = queue.arm();
    queue.filled(armed, 10);
    const chunk = queue.take(false);
    assert.equal(chunk?.length, 10);
    queue.close();
    assert.equal(pool.idle, 0, 'not back in the pool');
    assert.equal(queue.segments, 0, 'and not tracked either');
  });
});

describe('response heads', () => {
  const head = (text: string) => parseResponseHead(text) ?? assert.fail(`unparsed: ${text}`);
  test('only the exact bytes asked for, with a known length, are the happy path', () => {
    assert.equal(happyBodyLength(head('HTTP/1.1 200 OK\r\nContent-Length: 10'), 0, undefined), 10);
    assert.equal(happyBodyLength(head('HTTP/1.0 200\r\ncontent-length:  0 '), 0, undefined), 0);
    assert.equal(happyBodyLength(head('HTTP/1.1 206 Partial\r\nContent-Length: 5\r\nContent-Range: bytes 3-7/100'), 3, 5), 5);
    assert.equal(happyBodyLength(head('HTTP/1.1 206 Partial\r\nContent-Length: 5\r\nContent-Range: bytes 3-7/100'), 3, 50), 5, 'shorter: the object ends');
    assert.equal(happyBodyLength(head('HTTP/1.1 206 Partial\r\nContent-Length: 97\r\nContent-Range: bytes 3-99/*'), 3, undefined), 97);
    for (const [text, offset, length] of [
      ['HTTP/1.1 200 OK\r\nContent-Length: 10', 0, 10], // a range was asked
      ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 10', 0, undefined], // twice
      ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked', 0, undefined],
      ['HTTP/1.1 200 OK\r\nContent-Length: -1', 0, undefined],
      ['HTTP/1.1 200 OK', 0, undefined],
      ['HTTP/1.1 206 Partial\r\nContent-Length: 5\r\nContent-Range: bytes 4-8/100', 3, 5], // wrong start
      ['HTTP/1.1 206 Partial\r\nContent-Length: 6\r\nContent-Range: bytes 3-7/100', 3, 5], // inconsistent
      ['HTTP/1.1 206 Partial\r\nContent-Length: 10\r\nContent-Range: bytes 3-12/100', 3, 5], // more than asked
      ['HTTP/1.1 206 Partial\r\nContent-Length: 10\r\nContent-Range: bytes 0-9/100', 0, undefined], // none asked
      ['HTTP/1.1 404 Not Found\r\nContent-Length: 10', 0, undefined],
      ['HTTP/1.1 304 Not Modified\r\nContent-Length: 10', 0, undefined],
    ] as const) {
      assert.equal(happyBodyLength(head(text), offset, length), undefined, text);
    }
    assert.equal(parseResponseHead('HTTP/2 200\r\nContent-Length: 1'), undefined);
    assert.equal(parseResponseHead('HTTP/1.1 200 OK\r\n folded: value'), undefined);
    assert.equal(parseResponseHead('HTTP/1.1 200 OK\r\nno colon'), undefined);
  });

  test('request heads carry no CR/LF from header values', () => {
    const url = new URL('http://[::1]:8080/v1/AUTH_x/c/a%20b?x=1');
    assert.equal(requestHead(url, { 'X-Auth-Token': 't' }, 'bytes=0-'), 'GET /v1/AUTH_x/c/a%20b?x=1 HTTP/1.1\r\nHost: [::1]:8080\r\nX-Auth-Token: t\r\nRange: bytes=0-\r\nConnection: close\r\n\r\n');
    assert.throws(() => requestHead(url, { 'X-Auth-Token': 't\r\nX-Evil: 1' }, undefined), TypeError);
  });
});
