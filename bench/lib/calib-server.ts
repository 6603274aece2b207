/**
 * bench/lib/calib-server.ts — a do-nothing HTTP server used only to measure
 * the benchmark client's own ceiling (how fast curl/node/wrk can push, pull
 * and fire requests when the server does no work). Run as
 *   node dist/bench/lib/calib-server.js --size <bytes> [config.yml]
 * with REGISTRY_HTTP_ADDR=127.0.0.1:<port>. Uploads are drained and
 * discarded (the PUT echoes ?digest= back); GET /blob serves <size> zero
 * bytes from memory; GET /manifest and HEAD /head answer tiny responses.
 */
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const sizeArg = args[args.indexOf('--size') + 1];
const size = sizeArg !== undefined && args.includes('--size') ? Number(sizeArg) : 0;
const addr = process.env['REGISTRY_HTTP_ADDR'] ?? '127.0.0.1:5099';
const colon = addr.lastIndexOf(':');
const host = addr.slice(0, colon) || '127.0.0.1';
const port = Number(addr.slice(colon + 1));
const blob = Buffer.alloc(size);
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' }));
const UPLOAD = '/v2/calib/blobs/uploads/u1';
let received = 0;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://calib');
  const path = url.pathname;
  let n = 0;
  req.on('data', (c: Buffer) => {
    n += c.length;
  });
  req.on('end', () => {
    const m = req.method ?? 'GET';
    if (m === 'GET' && path === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
    } else if (m === 'POST' && path.endsWith('/blobs/uploads/')) {
      received = 0;
      res.writeHead(202, { location: `${UPLOAD}?_state=s`, range: '0-0', 'content-length': 0 }).end();
    } else if (m === 'PATCH' && path === UPLOAD) {
      received += n;
      res.writeHead(202, { location: `${UPLOAD}?_state=s`, range: `0-${received - 1}`, 'content-length': 0 }).end();
    } else if (m === 'PUT' && path === UPLOAD) {
      res.writeHead(201, { 'docker-content-digest': url.searchParams.get('digest') ?? '', 'content-length': 0 }).end();
    } else if (m === 'GET' && path === '/blob') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length }).end(blob);
    } else if (m === 'GET' && path === '/manifest') {
      res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json', 'content-length': manifest.length }).end(manifest);
    } else if (m === 'HEAD' && path === '/head') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 0 }).end();
    } else {
      res.writeHead(404, { 'content-length': 0 }).end();
    }
  });
});
server.keepAliveTimeout = 30_000;
server.listen(port, host);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
