/**
 * `sendContent` reports the bytes it sends from a source without pooled chunks (an object store's
 * response body: fresh buffers) to its `onBytes` hook, with which the process paces young GCs, and
 * reports nothing for a pooled source (its buffers are reused). Served by a real HTTP server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { sendContent } from '../../src/http/send-stream.js';
import { createFilesystemDriver } from '../../storage-drivers/filesystem/index.js';
import type { StorageDriver } from '../../storage-drivers/driver.js';

const CHUNK = 64 * 1024;
const data = randomBytes(CHUNK * 20 + 7);

function get(port: number, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('fresh body bytes are reported to onBytes', () => {
  let root: string;
  let driver: StorageDriver;
  let server: Server;
  let port: number;
  let reported = 0;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-fresh-'));
    driver = createFilesystemDriver({ rootDirectory: root, readChunkBytes: CHUNK, pooledBuffers: 4 });
    const w = await driver.writer('/blob');
    await w.write(Readable.from([data]));
    await w.commit();
    server = createServer((req, res) => {
      const onBytes = (n: number): void => {
        reported += n;
      };
      const open =
        req.url === '/pooled'
          ? (offset: number, length: number) => driver.reader('/blob', { offset, length })
          : // A plain Readable of fresh chunks, as an object store's response body.
            () => Promise.resolve(Readable.from([data.subarray(0, CHUNK), data.subarray(CHUNK)], { objectMode: false }));
      sendContent(req, res, data.length, undefined, open, onBytes).catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address !== null ? address.port : 0;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(root, { recursive: true, force: true });
  });

  test('a plain source: every byte sent is reported', async () => {
    reported = 0;
    const body = await get(port, '/plain');
    assert.deepEqual(body, data);
    assert.equal(reported, data.length);
  });

  test('a pooled source: nothing is reported', async () => {
    reported = 0;
    const body = await get(port, '/pooled');
    assert.deepEqual(body, data);
    assert.equal(reported, 0);
  });
});
