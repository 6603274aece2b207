/**
 * Metrics through the real app (supertest): /metrics parses as Prometheus text; a push and a pull
 * move the request, byte, storage-operation and manifest-cache counters by the right amounts;
 * the uploads gauge follows an upload in flight; labels carry no repository name; GC runs are
 * recorded; `berth.metrics.enabled: false` turns it all off; route templates.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { classifyRoute } from '../../src/ops/metrics/routes.js';
import { binary, buildTestApp, pushBlob, pushImage, type TestApp } from '../helpers/build-app.js';
import { parseMetrics, value, type Samples } from './scrape.js';

async function scrape(t: TestApp): Promise<Samples> {
  const res = await t.http.get('/metrics').expect(200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.text);
}

const REQ = 'berth_http_requests_total';
const OPS = 'berth_storage_operation_duration_seconds_count';

describe('metrics', () => {
  test('a push and a pull move the counters by the right amounts', async () => {
    const t = buildTestApp();
    const repo = 'secret-team/private-app';
    const big = Buffer.alloc(200_000, 7);
    const before = await scrape(t);
    const digest = await pushBlob(t, repo, big);
    const image = await pushImage(t, repo, 'v1');
    const mid = await scrape(t);
    // pushBlob: POST + PUT; pushImage: config + 1 layer (POST + PUT each) + manifest PUT.
    assert.equal(value(mid, REQ, { route: 'blob_upload', method: 'POST', status: '202' }) - value(before, REQ, { route: 'blob_upload', method: 'POST', status: '202' }), 3);
    assert.equal(value(mid, REQ, { route: 'blob_upload', method: 'PUT', status: '201' }), 3);
    assert.equal(value(mid, REQ, { route: 'manifest', method: 'PUT', status: '201' }), 1);
    assert.equal(value(mid, 'berth_http_request_duration_seconds_count', { route: 'manifest', method: 'PUT' }), 1);
    const received = value(mid, 'berth_http_received_bytes_total', { route: 'blob_upload' });
    assert.ok(received >= big.length && received < big.length + 6 * 2048, `received ${received}`);
    assert.ok(value(mid, 'berth_uploads_in_progress') === 0);

    const blobGet = await t.http.get(`/v2/${repo}/blobs/${digest}`).buffer(true).parse(binary).expect(200);
    assert.equal((blobGet.body as Buffer).length, big.length);
    await t.http.get(`/v2/${repo}/manifests/v1`).expect(200);
    await t.http.get(`/v2/${repo}/manifests/${image.digest}`).expect(200);
    await t.http.head(`/v2/${repo}/manifests/v1`).expect(200);
    await t.http.get(`/v2/${repo}/manifests/nope`).expect(404);
    const after = await scrape(t);
    assert.equal(value(after, REQ, { route: 'blob', method: 'GET', status: '200' }), 1);
    assert.equal(value(after, REQ, { route: 'manifest', method: 'GET', status: '200' }), 2);
    assert.equal(value(after, REQ, { route: 'manifest', method: 'HEAD', status: '200' }), 1);
    assert.equal(value(after, REQ, { route: 'manifest', method: 'GET', status: '404' }), 1);
    assert.equal(value(after, REQ, { route: 'metrics', method: 'GET', status: '200' }), 2);
    const sent = value(after, 'berth_http_sent_bytes_total', { route: 'blob' });
    assert.ok(sent >= big.length && sent < big.length + 2048, `sent ${sent}`);
    // One blob GET opens exactly one reader; the manifest PUT stored the manifest, so the
    // three manifest reads are cache hits.
    assert.equal(value(after, OPS, { driver: 'inmemory', operation: 'reader' }) - value(mid, OPS, { driver: 'inmemory', operation: 'reader' }), 1);
    assert.equal(value(after, 'berth_manifest_cache_lookups_total', { result: 'hit' }) - value(mid, 'berth_manifest_cache_lookups_total', { result: 'hit' }), 3);
    assert.ok(value(after, OPS, { driver: 'inmemory', operation: 'writer.commit' }) >= 3);
    assert.ok(value(after, 'berth_storage_errors_total', { driver: 'inmemory', operation: 'getContent', error: 'PathNotFoundError' }) >= 1);

    const text = (await t.http.get('/metrics').expect(200)).text;
    assert.doesNotMatch(text, /secret-team|private-app/);
    assert.doesNotMatch(text, /sha256:/);
  });

  test('the uploads gauge counts an upload while its body streams', async () => {
    const t = buildTestApp();
    const server = createServer(t.app.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const start = await t.http.post('/v2/g/a/blobs/uploads/').expect(202);
      const location = new URL(String(start.headers['location']));
      const req = httpRequest({ host: '127.0.0.1', port, method: 'PATCH', path: location.pathname + location.search, headers: { 'Content-Type': 'application/octet-stream' } });
      const answered = new Promise<number>((resolve, reject) => {
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
      });
      req.write(Buffer.alloc(1000, 1));
      let during = 0;
      for (let i = 0; i < 100 && during === 0; i++) {
        during = value(await scrape(t), 'berth_uploads_in_progress');
        if (during === 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(during, 1);
      req.end(Buffer.alloc(1000, 2));
      assert.equal(await answered, 202);
      assert.equal(value(await scrape(t), 'berth_uploads_in_progress'), 0);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('GC runs are recorded through gcMetrics.observeRun', async () => {
    const t = buildTestApp();
    t.app.gcMetrics.observeRun({ durationMs: 1500, bytesFreed: 4096, blobsDeleted: 3 });
    t.app.gcMetrics.observeRun({ durationMs: 500, bytesFreed: 0, blobsDeleted: 0 });
    const m = await scrape(t);
    assert.equal(value(m, 'berth_gc_runs_total'), 2);
    assert.equal(value(m, 'berth_gc_freed_bytes_total'), 4096);
    assert.equal(value(m, 'berth_gc_deleted_blobs_total'), 3);
    assert.equal(value(m, 'berth_gc_duration_seconds_sum'), 2);
    assert.ok(value(m, 'berth_gc_last_run_timestamp_seconds') > 1_600_000_000);
  });

  test('berth.metrics.enabled: false serves no /metrics and instruments nothing', async () => {
    const t = buildTestApp({ config: { berth: { metrics: { enabled: false } } } });
    assert.equal(t.app.metrics, undefined);
    await pushImage(t, 'off/app', 'x');
    await t.http.get('/metrics').expect(404);
    t.app.gcMetrics.observeRun({ durationMs: 1, bytesFreed: 1, blobsDeleted: 1 });
  });

  test('metrics are served under http.prefix like every other path', async () => {
    const t = buildTestApp({ config: { http: { prefix: '/reg' } } });
    await t.http.get('/reg/v2/').expect(200);
    const m = parseMetrics((await t.http.get('/reg/metrics').expect(200)).text);
    assert.equal(value(m, REQ, { route: 'base', method: 'GET', status: '200' }), 1);
  });

  test('route templates', () => {
    const cases: Array<[string, string]> = [
      ['/v2', 'base'],
      ['/v2/', 'base'],
      ['/v2/_catalog', 'catalog'],
      ['/v2/a/b/tags/list', 'tags'],
      ['/v2/a/manifests/latest', 'manifest'],
      ['/v2/a/manifests/x/manifests/sha256:abc', 'manifest'],
      ['/v2/a/b/blobs/sha256:abc', 'blob'],
      ['/v2/a/b/blobs/uploads/', 'blob_upload'],
      ['/v2/a/b/blobs/uploads', 'blob_upload'],
      ['/v2/a/b/blobs/uploads/0d9c7a0e-1111-4111-8111-111111111111', 'blob_upload'],
      ['/v2/a/referrers/sha256:abc', 'referrers'],
      ['/v2/a/unknown', 'other'],
      ['/v2x', 'other'],
      ['/v1/_ping', 'v1'],
      ['/_ping', 'v1'],
      ['/v1/repositories/a/b/tags', 'v1'],
      ['/smartos/v1/images/a:b', 'smartos'],
      ['/imgapi/images', 'imgapi'],
      ['/healthz', 'health'],
      ['/readyz', 'health'],
      ['/metrics', 'metrics'],
      ['/', 'other'],
      ['/favicon.ico', 'other'],
    ];
    for (const [path, route] of cases) assert.equal(classifyRoute(path), route, path);
  });
});
