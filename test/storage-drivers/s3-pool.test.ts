/**
 * The s3 driver's bounded connection pool: more requests at once than connections wait for a
 * free connection before any timer starts, so a busy but healthy backend never looks like one
 * that cannot be reached. (Found by the 5 GiB e2e test: a commit's 100 UploadPartCopy requests on
 * a 50-connection pool failed as "could not connect within 3000 ms".) Against a local HTTP server
 * that sends each body slowly, with 2 connections and a 500 ms connect timeout: 8 concurrent
 * readers all get their bytes, and the server never sees more than 2 connections at once.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { after, test } from 'node:test';
import { createS3Driver } from '../../storage-drivers/s3/index.js';

const BODY = 300;
let open = 0;
let maxOpen = 0;
const sockets = new Set<Socket>();

/** Headers at once, then the body in 3 pieces 300 ms apart (~600 ms per response). */
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'Content-Length': String(BODY), 'Content-Type': 'application/octet-stream', ETag: '"x"', 'Last-Modified': new Date().toUTCString() });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  let sent = 0;
  const timer = setInterval(() => {
    res.write(Buffer.alloc(BODY / 3, 7));
    sent += 1;
    if (sent === 3) {
      clearInterval(timer);
      res.end();
    }
  }, 300);
  res.on('close', () => clearInterval(timer));
});
server.on('connection', (socket: Socket) => {
  sockets.add(socket);
  open += 1;
  maxOpen = Math.max(maxOpen, open);
  socket.on('close', () => {
    open -= 1;
    sockets.delete(socket);
  });
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

test('s3: requests beyond the pool wait for a connection instead of timing out', { timeout: 30_000 }, async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const driver = createS3Driver({
    bucket: 'b',
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIA', secretAccessKey: 'secret' },
    maxSockets: 2,
    connectTimeoutMs: 500,
    responseTimeoutMs: 500,
    socketTimeoutMs: 2000,
    budgetMs: 1500,
  });
  // getContent goes through the SDK's client (large reads would be pooled GETs with their own connections).
  const read = async (i: number): Promise<number> => (await driver.getContent(`/a/blob${i}`)).byteLength;
  const started = Date.now();
  const sizes = await Promise.all(Array.from({ length: 8 }, (_, i) => read(i)));
  assert.deepEqual(sizes, Array.from({ length: 8 }, () => BODY));
  assert.ok(maxOpen <= 2, `the server saw ${maxOpen} connections at once`);
  // 8 bodies of ~600 ms through 2 connections: they really queued (well past the 500 ms limits).
  assert.ok(Date.now() - started >= 1500, 'the readers shared two connections');
});
