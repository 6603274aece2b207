/**
 * Pulls from reused buffers: the filesystem reader's pooled mode served through `sendContent` on
 * a real HTTP server. Whole and ranged bodies arrive byte-identical (also with many chunks queued
 * on the socket and several pulls at once), buffers return to the pool, a client that goes away
 * mid-body neither crashes the server nor corrupts the next pull, and the pool refuses a double
 * release.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { parseByteRange } from '../../src/http/byte-range.js';
import { sendContent } from '../../src/http/send-stream.js';
import { createFilesystemDriver } from '../../storage-drivers/filesystem/index.js';
import { BufferPool, POOLED_CHUNKS } from '../../storage-drivers/pooled-chunks.js';

const CHUNK = 64 * 1024;
const data = randomBytes(CHUNK * 100 + 123);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Got {
  status: number;
  body: Buffer;
}

function get(port: number, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/blob', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('pooled pulls through sendContent', () => {
  let root: string;
  let server: Server;
  let port: number;
  const errors: unknown[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-pooled-'));
    const driver = createFilesystemDriver({ rootDirectory: root, readChunkBytes: CHUNK, pooledBuffers: 4 });
    const w = await driver.writer('/blob');
    await w.write(Readable.from([data]));
    await w.commit();
    server = createServer((req, res) => {
      const range = parseByteRange(req.headers.range, data.length);
      if (range === 'invalid') {
        res.statusCode = 416;
        res.end();
        return;
      }
      sendContent(req, res, data.length, range, (offset, length) => driver.reader('/blob', { offset, length })).catch((e: unknown) => {
        errors.push(e);
        res.destroy();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    port = typeof a === 'object' && a !== null ? a.port : 0;
  });

  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await rm(root, { recursive: true, force: true });
  });

  test('the reader offers pooled mode', async () => {
    const driver = createFilesystemDriver({ rootDirectory: root });
    const stream = await driver.reader('/blob');
    assert.equal(typeof (stream as unknown as Record<symbol, unknown>)[POOLED_CHUNKS], 'function');
    stream.destroy();
  });

  test('whole body, byte-identical, several at once', async () => {
    const got = await Promise.all([get(port), get(port), get(port)]);
    for (const g of got) {
      assert.equal(g.status, 200);
      assert.equal(g.body.length, data.length);
      assert.equal(sha(g.body), sha(data));
    }
  });

  test('ranged bodies, byte-identical', async () => {
    for (const [start, end] of [[0, 0], [1, CHUNK], [CHUNK - 1, CHUNK * 3 + 7], [data.length - 5, data.length - 1]] as const) {
      const g = await get(port, { range: `bytes=${start}-${end}` });
      assert.equal(g.status, 206);
      assert.ok(g.body.equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
    }
  });

  test('a client leaving mid-body does not break the next pull', async () => {
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/blob' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
      req.end();
    });
    await new Promise((r) => setTimeout(r, 100));
    const g = await get(port);
    assert.equal(sha(g.body), sha(data));
  });
});

describe('BufferPool', () => {
  test('reuses released buffers, keeps at most maxFree, ignores foreign and double releases', () => {
    const pool = new BufferPool(16, 1);
    const a = pool.take();
    const b = pool.take();
    assert.notEqual(a.buffer, b.buffer);
    pool.give(a.subarray(0, 3));
    assert.equal(pool.idle, 1);
    pool.give(a);
    assert.equal(pool.idle, 1, 'double release ignored');
    pool.give(b);
    assert.equal(pool.idle, 1, 'beyond maxFree left to the GC');
    pool.give(Buffer.alloc(16));
    assert.equal(pool.idle, 1, 'foreign buffer ignored');
    assert.equal(pool.take().buffer, a.buffer);
  });
});
