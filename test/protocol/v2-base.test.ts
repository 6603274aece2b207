/**
 * v2 base endpoint, API version header on every response, JSON errors for unknown routes,
 * absolute-form request targets and `Connection: close` clients.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { buildTestApp, pushBlob } from '../helpers/build-app.js';

describe('v2 base', () => {
  test('GET /v2/ answers 200 {} with the API version header', async () => {
    const t = buildTestApp();
    const res = await t.http.get('/v2/').expect(200);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.deepEqual(res.body, {});
    await t.http.get('/v2').expect(200);
    await t.http.head('/v2/').expect(200);
  });

  test('errors carry the API version header and the JSON envelope', async () => {
    const t = buildTestApp();
    const res = await t.http.get('/v2/foo/manifests/latest').expect(404);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.equal(res.body.errors[0].code, 'MANIFEST_UNKNOWN');
  });

  test('unknown v2 routes answer JSON 404, wrong methods 405', async () => {
    const t = buildTestApp();
    const res = await t.http.get('/v2/foo/bar').expect(404);
    assert.equal(res.body.errors[0].code, 'UNSUPPORTED');
    const m = await t.http.post('/v2/foo/manifests/latest').expect(405);
    assert.equal(m.body.errors[0].code, 'UNSUPPORTED');
    const r = await t.http.post('/v2/').expect(405);
    assert.equal(r.body.errors[0].code, 'UNSUPPORTED');
  });

  test('non-v2 unknown paths answer JSON 404', async () => {
    const t = buildTestApp();
    const res = await t.http.get('/nope').expect(404);
    assert.match(String(res.headers['content-type']), /application\/json/);
  });

  test('health endpoints', async () => {
    const t = buildTestApp();
    const res = await t.http.get('/healthz').expect(200);
    assert.equal(res.body.status, 'ok');
    await t.http.get('/livez').expect(200);
  });

  test('absolute-form request targets and Connection: close are served', async () => {
    const t = buildTestApp();
    const digest = await pushBlob(t, 'abs/repo', Buffer.from('hello'));
    const server = createServer(t.app.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const status = await new Promise<{ status: number; body: string; conn: string | undefined }>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, method: 'GET', path: `http://127.0.0.1:${port}/v2/abs/repo/blobs/${digest}`, headers: { Connection: 'close' } },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body, conn: res.headers.connection }));
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(status.status, 200);
      assert.equal(status.body, 'hello');
      assert.equal(status.conn, 'close');
    } finally {
      server.close();
    }
  });
});
