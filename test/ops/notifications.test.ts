/**
 * Webhook notifications against real local receivers: every push, pull, mount and delete arrives
 * exactly once (counted, not deduplicated) in distribution's envelope even though the receiver
 * fails the first attempts; HEAD requests produce no events; a receiver that never answers does
 * not slow pushes down; `ignore.actions`, `ignore.mediatypes` and `ignoredmediatypes` filter;
 * a full queue drops the oldest events and counts them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { NotificationEndpointConfig } from '../../src/config/ops-schema.js';
import { createMetrics } from '../../src/ops/metrics/metrics.js';
import { createNotifier } from '../../src/ops/notifications/notifier.js';
import { binary, buildTestApp, pushBlob, pushImage, type TestApp } from '../helpers/build-app.js';
import { startReceiver, type ReceivedEvent } from './receiver.js';
import { parseMetrics, value } from './scrape.js';

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const BLOB = 'application/octet-stream';

function endpoint(name: string, url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, url, timeout: '5s', threshold: 1, backoff: '20ms', ...extra };
}

async function idle(t: TestApp): Promise<void> {
  const notifier = t.app.notifier;
  assert.ok(notifier !== undefined);
  await notifier.idle();
}

function summary(events: ReceivedEvent[]): string[] {
  return events.map((e) => `${e.action} ${String(e.target['mediaType'] ?? '-')} ${String(e.target['digest'] ?? '-')} ${String(e.target['tag'] ?? '-')}`).sort();
}

describe('notifications', () => {
  test('push, pull, mount and delete events arrive exactly once despite two failed attempts', async () => {
    const receiver = await startReceiver((n) => (n <= 2 ? 500 : 202));
    const t = buildTestApp({
      config: { notifications: { endpoints: [endpoint('hook', receiver.url, { headers: { Authorization: ['Bearer test-token'], 'X-Multi': ['a', 'b'] } })] } },
    });
    try {
      const image = await pushImage(t, 'team/app', 'v1');
      const [configDigest, layerDigest] = [image.configDigest, image.layerDigests[0] ?? ''];
      await t.http.get('/v2/team/app/manifests/v1').set('User-Agent', 'test-agent/1.0').set('X-Request-Id', 'req-42').expect(200);
      await t.http.head('/v2/team/app/manifests/v1').expect(200);
      await t.http.head(`/v2/team/app/blobs/${layerDigest}`).expect(200);
      await t.http.get(`/v2/team/app/blobs/${layerDigest}`).buffer(true).parse(binary).expect(200);
      await t.http.post(`/v2/team/other/blobs/uploads/?mount=${layerDigest}&from=team/app`).expect(201);
      await t.http.delete('/v2/team/app/manifests/v1').expect(202);
      await t.http.delete(`/v2/team/app/manifests/${image.digest}`).expect(202);
      await t.http.delete(`/v2/team/app/blobs/${configDigest}`).expect(202);
      await idle(t);

      const delivered = receiver.delivered();
      assert.deepEqual(summary(delivered), [
        `delete - - v1`,
        `delete - ${configDigest} -`,
        `delete - ${image.digest} -`,
        `mount ${BLOB} ${layerDigest} -`,
        `pull ${BLOB} ${layerDigest} -`,
        `pull ${MANIFEST} ${image.digest} v1`,
        `push ${BLOB} ${configDigest} -`,
        `push ${BLOB} ${layerDigest} -`,
        `push ${MANIFEST} ${image.digest} v1`,
      ].sort());
      // Counted, not deduplicated: every event id arrived once.
      assert.equal(new Set(delivered.map((e) => e.id)).size, delivered.length);
      // Two failed attempts, both of the first event, which was then delivered.
      assert.equal(receiver.posts.length, delivered.length + 2);
      const first = receiver.posts.slice(0, 3).map((p) => p.events[0]?.id);
      assert.equal(first[0], first[1]);
      assert.equal(first[1], first[2]);
      for (const post of receiver.posts) {
        assert.equal(post.events.length, 1);
        assert.equal(post.headers['content-type'], 'application/vnd.docker.distribution.events.v1+json');
        assert.equal(post.headers['authorization'], 'Bearer test-token');
        assert.equal(post.headers['x-multi'], 'a, b');
      }

      const pull = delivered.find((e) => e.action === 'pull' && e.target['mediaType'] === MANIFEST);
      assert.ok(pull !== undefined);
      assert.match(pull.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.ok(Math.abs(Date.parse(pull.timestamp) - Date.now()) < 60_000);
      assert.equal(pull.target['repository'], 'team/app');
      assert.equal(pull.target['size'], image.manifest.length);
      assert.equal(pull.target['length'], image.manifest.length);
      assert.match(String(pull.target['url']), new RegExp(`^http://127\\.0\\.0\\.1:\\d+/v2/team/app/manifests/${image.digest}$`));
      assert.equal(pull.request['method'], 'GET');
      assert.equal(pull.request['useragent'], 'test-agent/1.0');
      assert.equal(pull.request['id'], 'req-42');
      assert.match(String(pull.request['addr']), /^(::ffff:)?127\.0\.0\.1:\d+$/);
      assert.match(String(pull.request['host']), /^127\.0\.0\.1:\d+$/);
      assert.deepEqual(pull.actor, {});
      assert.match(String(pull.source['addr']), /:5000$/);
      assert.match(String(pull.source['instanceID']), /^[0-9a-f-]{36}$/);
      const mount = delivered.find((e) => e.action === 'mount');
      assert.equal(mount?.target['fromRepository'], 'team/app');
      assert.equal(mount?.target['repository'], 'team/other');
      const blobPush = delivered.find((e) => e.action === 'push' && e.target['digest'] === layerDigest);
      assert.equal(typeof blobPush?.target['size'], 'number');
      const putReq = delivered.find((e) => e.action === 'push' && e.target['mediaType'] === MANIFEST);
      assert.equal(putReq?.request['method'], 'PUT');

      const m = parseMetrics((await t.http.get('/metrics').expect(200)).text);
      assert.equal(value(m, 'berth_notifications_events_total', { endpoint: 'hook', result: 'delivered' }), delivered.length);
      assert.equal(value(m, 'berth_notifications_failures_total', { endpoint: 'hook' }), 2);
      assert.equal(value(m, 'berth_notifications_pending', { endpoint: 'hook' }), 0);
    } finally {
      await t.app.close();
      await receiver.close();
    }
  });

  test('a receiver that never answers does not slow pushes down', async () => {
    const receiver = await startReceiver(() => 'hang');
    const t = buildTestApp({ config: { notifications: { endpoints: [endpoint('stuck', receiver.url, { timeout: '60s' })] } } });
    try {
      const push = (async () => {
        await pushImage(t, 'hung/app', 'v1', { layers: 3 });
        await t.http.get('/v2/hung/app/manifests/v1').expect(200);
        return 'done';
      })();
      const bound = new Promise<string>((r) => setTimeout(() => r('timed out'), 20_000).unref());
      assert.equal(await Promise.race([push, bound]), 'done');
      // The receiver holds the first event; the rest wait in the queue.
      const deadline = Date.now() + 5000;
      while (receiver.posts.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(receiver.posts.length, 1);
      assert.equal(t.app.notifier?.pending().get('stuck'), 6);
    } finally {
      await t.app.close();
      await receiver.close();
    }
  });

  test('ignore.actions, ignore.mediatypes and ignoredmediatypes filter per endpoint', async () => {
    const all = await startReceiver();
    const noPulls = await startReceiver();
    const manifestsOnly = await startReceiver();
    const legacy = await startReceiver();
    const off = await startReceiver();
    const t = buildTestApp({
      config: {
        notifications: {
          endpoints: [
            endpoint('all', all.url),
            endpoint('no-pulls', noPulls.url, { ignore: { actions: ['pull'] } }),
            endpoint('manifests-only', manifestsOnly.url, { ignore: { mediatypes: [BLOB] } }),
            endpoint('legacy', legacy.url, { ignoredmediatypes: [BLOB], ignore: { actions: ['delete'] } }),
            endpoint('off', off.url, { disabled: true }),
          ],
        },
      },
    });
    try {
      const image = await pushImage(t, 'f/app', 'v1');
      await t.http.get('/v2/f/app/manifests/v1').expect(200);
      await t.http.get(`/v2/f/app/blobs/${image.configDigest}`).expect(200);
      await t.http.delete('/v2/f/app/manifests/v1').expect(202);
      await idle(t);
      const actions = (events: ReceivedEvent[]): string[] => events.map((e) => `${e.action}:${e.target['mediaType'] === BLOB ? 'blob' : 'manifest'}`).sort();
      assert.deepEqual(actions(all.delivered()), ['delete:manifest', 'pull:blob', 'pull:manifest', 'push:blob', 'push:blob', 'push:manifest']);
      assert.deepEqual(actions(noPulls.delivered()), ['delete:manifest', 'push:blob', 'push:blob', 'push:manifest']);
      assert.deepEqual(actions(manifestsOnly.delivered()), ['delete:manifest', 'pull:manifest', 'push:manifest']);
      assert.deepEqual(actions(legacy.delivered()), ['pull:manifest', 'push:manifest']);
      assert.equal(off.posts.length, 0);
      const m = parseMetrics((await t.http.get('/metrics').expect(200)).text);
      assert.equal(value(m, 'berth_notifications_events_total', { endpoint: 'no-pulls', result: 'ignored' }), 2);
    } finally {
      await t.app.close();
      for (const r of [all, noPulls, manifestsOnly, legacy, off]) await r.close();
    }
  });

  test('a full queue drops the oldest events, counts them and keeps the newest', async () => {
    const register = new Registry();
    const metrics = createMetrics(register);
    const sent: string[] = [];
    const hangingFetch: typeof fetch = (_url, init) => {
      sent.push(String(init?.body));
      return new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    };
    const config: NotificationEndpointConfig = {
      name: 'small',
      url: 'http://127.0.0.1:9/unused',
      headers: {},
      timeoutMs: 60_000,
      threshold: 1,
      backoffMs: 1000,
      ignoredMediaTypes: [],
      ignoredActions: [],
    };
    const notifier = createNotifier([config], { logger: pino({ level: 'silent' }), metrics: metrics.notifications, port: 5000, queueSize: 3, fetch: hangingFetch });
    const request = { id: 'r', addr: '127.0.0.1:1', host: 'h', method: 'PUT', useragent: 'u' };
    for (let i = 0; i < 10; i++) notifier.emit({ action: 'push', target: { repository: 'q/app', tag: `t${i}` }, request });
    try {
      assert.equal(notifier.pending().get('small'), 4); // one in flight + three queued
      const m = parseMetrics(await register.metrics());
      assert.equal(value(m, 'berth_notifications_events_total', { endpoint: 'small', result: 'queued' }), 10);
      assert.equal(value(m, 'berth_notifications_events_total', { endpoint: 'small', result: 'dropped' }), 6);
      assert.equal(value(m, 'berth_notifications_pending', { endpoint: 'small' }), 4);
      assert.equal(sent.length, 1);
      assert.match(sent[0] ?? '', /"tag": "t0"/);
    } finally {
      await notifier.close();
    }
  });
});

test('a blob pushed by a single POST produces one push event', async () => {
  const receiver = await startReceiver();
  const t = buildTestApp({ config: { notifications: { endpoints: [endpoint('hook', receiver.url)] } } });
  try {
    const digest = await pushBlob(t, 'one/app', Buffer.from('x'.repeat(100)));
    await idle(t);
    const events = receiver.delivered();
    assert.equal(events.length, 1);
    assert.equal(events[0]?.action, 'push');
    assert.equal(events[0]?.target['digest'], digest);
    assert.equal(events[0]?.target['size'], 100);
  } finally {
    await t.app.close();
    await receiver.close();
  }
});
