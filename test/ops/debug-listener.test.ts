/**
 * Metrics from a real Berth process: on the main port by default (with Node's process metrics),
 * and only on distribution's debug listener when `http.debug.addr` and
 * `http.debug.prometheus.enabled` are set, next to `/debug/health`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePort, startBerth } from '../helpers/berth-process.js';
import { parseMetrics, value } from './scrape.js';

describe('metrics endpoints of a running Berth', () => {
  test('default: /metrics on the main port, with process metrics', async () => {
    const berth = await startBerth();
    try {
      await fetch(`${berth.url}/v2/`);
      const res = await fetch(`${berth.url}/metrics`);
      assert.equal(res.status, 200);
      const m = parseMetrics(await res.text());
      assert.ok(value(m, 'berth_http_requests_total', { route: 'base', method: 'GET', status: '200' }) >= 1);
      assert.ok(m.has('process_cpu_user_seconds_total'));
      assert.ok([...m.keys()].some((k) => k.startsWith('nodejs_heap_size_total_bytes')));
    } finally {
      await berth.stop();
    }
  });

  test('http.debug.prometheus: metrics on the debug listener only', async () => {
    const debugPort = await freePort();
    const berth = await startBerth({
      config: {
        http: { debug: { addr: `127.0.0.1:${debugPort}`, prometheus: { enabled: true, path: '/prom' } } },
        health: { storagedriver: { enabled: true, interval: '1s', threshold: 2 } },
      },
    });
    try {
      await fetch(`${berth.url}/v2/`);
      assert.equal((await fetch(`${berth.url}/metrics`)).status, 404);
      assert.equal((await fetch(`${berth.url}/prom`)).status, 404);
      const res = await fetch(`http://127.0.0.1:${debugPort}/prom`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const m = parseMetrics(await res.text());
      assert.ok(value(m, 'berth_http_requests_total', { route: 'base', method: 'GET', status: '200' }) >= 1);
      assert.ok(m.has('process_resident_memory_bytes'));
      const health = await fetch(`http://127.0.0.1:${debugPort}/debug/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), {});
      assert.equal((await fetch(`http://127.0.0.1:${debugPort}/v2/`)).status, 404);
      assert.equal((await fetch(`${berth.url}/readyz`)).status, 200);
      assert.doesNotMatch(berth.output(), /not implemented|unknown configuration key/);
    } finally {
      await berth.stop();
    }
  });
});
