/**
 * Failover of real Berth processes on a real object store, for each backend (the s3 driver on
 * Swift's s3api, the swift driver on Swift, both from test/setup/30-swift.sh):
 *
 * 1. An upload survives the death of its node. Instances A and B share the bucket/container,
 *    prefix and `http.secret` (segment/part size 5 MiB). Two 5 MiB PATCHes (Content-Range) go
 *    through A; a third, 10 MiB one is sent by a raw `http.request` that writes 7.5 MiB of its body
 *    and stops; once the backend holds the first 5 MiB of that chunk (watched directly in S3's
 *    ListParts / Swift's segment listing), A gets SIGKILL. Then, on B: GET on the upload URL must
 *    answer 204 with exactly the Range the backend holds (read again after the kill), the client
 *    resumes from there with PATCH, and PUT ?digest= answers 201; the blob read through B is
 *    byte-identical (sha256).
 * 2. A backend outage is reported, not hidden. Berth talks to the backend through a TCP proxy
 *    owned by this test (never the shared Swift proxies, which other suites are using; its
 *    stop closes the listening socket and resets every connection, as a stopped Swift proxy would).
 *    With it stopped (and the link cache's bound, `berth.cache.linkttl`, passed), manifest GET
 *    (tag and digest), blob HEAD, upload POST answer 503 with an `UNAVAILABLE` error body and `GET /healthz` answers 503, each in under 10 s, with no stack
 *    trace. Once the proxy listens again, the same process answers 200/202 again within a
 *    bounded retry loop, and pushes work.
 *
 * Without the environment a backend is skipped with the reason, except under CI=true, where that
 * is a failure.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test, type TestOptions } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { s3Backend, swiftBackend, type Backend } from '../helpers/object-backends.js';
import { buildImage, MediaType, parseObject, pushImageOverHttp, sha256Digest } from '../helpers/oci-image.js';

const inCi = process.env.CI === 'true';
const run = randomBytes(4).toString('hex');
const SECRET = `failover-${randomBytes(12).toString('hex')}`;
const MiB = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;
/** The bound of the issue: an outage must be answered within this. */
const OUTAGE_ANSWER_MS = 10_000;
/** `berth.cache.linkttl`'s default: tag and link answers a node may give from memory for this long. */
const LINK_TTL_MS = 1000;
/** Part size (s3) and segment size (swift) of both nodes. */
const CHUNK_SIZE = 5 * MiB;

// ------------------------------------------------------------------------------------------------
// The outage proxy: a loopback TCP forwarder this test owns.

class OutageProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  private constructor(private readonly target: URL) {}

  static async start(upstream: string): Promise<OutageProxy> {
    const proxy = new OutageProxy(new URL(upstream));
    await proxy.listen(0);
    return proxy;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private listen(port: number): Promise<void> {
    const server = createServer((client) => this.forward(client));
    this.server = server;
    return new Promise((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        this.port = typeof address === 'object' && address !== null ? address.port : 0;
        resolveListen();
      });
    });
  }

  private forward(client: Socket): void {
    const upstream = connect(Number(this.target.port), this.target.hostname);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Stops listening (new connections are refused) and resets every open connection. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    const closed = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
    await closed;
  }

  /** Listens again on the same port. */
  async resume(): Promise<void> {
    if (this.server !== undefined) return;
    await this.listen(this.port);
  }
}

// ------------------------------------------------------------------------------------------------
// HTTP helpers

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  readonly ms: number;
}

async function call(url: string, init: RequestInit = {}, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Reply> {
  const started = performance.now();
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), ...init });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, ms: performance.now() - started };
}

function show(what: string, reply: Reply): string {
  return `${what} → ${reply.status} in ${Math.round(reply.ms)} ms: ${reply.body.toString().slice(0, 400)}`;
}

/**
 * A PATCH whose body is only partly sent: writes `sendBytes` of `body` (declaring all of it in
 * Content-Length and Content-Range) and then stops, leaving the request open. `sent` resolves
 * once those bytes are in the kernel; `outcome` settles when the connection ends, either way.
 */
function partialPatch(
  url: string,
  start: number,
  body: Buffer,
  sendBytes: number,
): { request: ClientRequest; sent: Promise<void>; outcome: Promise<string> } {
  let request: ClientRequest | undefined;
  const outcome = new Promise<string>((resolveOutcome) => {
    request = httpRequest(url, {
      method: 'PATCH',
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
        'content-range': `${start}-${start + body.length - 1}`,
      },
    });
    request.on('response', (res) => {
      res.resume();
      resolveOutcome(`answered ${String(res.statusCode)} before the body was complete`);
    });
    request.on('error', (error) => resolveOutcome(`connection ended: ${error.message}`));
  });
  const req = request ?? assert.fail('no request');
  const sent = new Promise<void>((resolveSent, reject) => {
    req.write(body.subarray(0, sendBytes), (error) => (error === null || error === undefined ? resolveSent() : reject(error)));
  });
  return { request: req, sent, outcome };
}

async function patch(url: string, start: number, chunk: Buffer): Promise<Reply> {
  return call(url, {
    method: 'PATCH',
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${start + chunk.length - 1}` },
    body: new Uint8Array(chunk),
  });
}

function nextLocation(reply: Reply, base: string): string {
  const location = reply.headers.get('location');
  assert.ok(location !== null, `no Location in ${reply.status}`);
  return new URL(location, base).toString();
}

function onNode(url: string, node: BerthProcess): string {
  const parsed = new URL(url);
  return `${node.url}${parsed.pathname}${parsed.search}`;
}

function errorCode(reply: Reply): string | undefined {
  try {
    const errors = parseObject(reply.body).errors;
    if (!Array.isArray(errors)) return undefined;
    const first: unknown = errors[0];
    return typeof first === 'object' && first !== null && 'code' in first && typeof first.code === 'string' ? first.code : undefined;
  } catch {
    return undefined;
  }
}

/** Text that would mean internals leaked into a response. */
const STACK = /\bat [\w$.<>]+ \(|node:internal|\/dist\/|\.js:\d+:\d+|Error: /;

// ------------------------------------------------------------------------------------------------
// The suites

for (const backend of [s3Backend({ tag: `fo-${run}`, chunkSize: CHUNK_SIZE }), swiftBackend({ tag: `fo-${run}`, chunkSize: CHUNK_SIZE })]) {
  if (backend.missing !== undefined) {
    if (inCi) {
      test(`failover on ${backend.name}: the backend is available in CI`, () => {
        assert.fail(`CI=true but ${backend.missing ?? ''}`);
      });
    } else {
      test(`failover on ${backend.name}`, { skip: backend.missing }, () => undefined);
    }
    continue;
  }
  defineSuite(backend);
}

function berthConfig(storage: Record<string, unknown>): Record<string, unknown> {
  return {
    storage: {
      ...storage,
      delete: { enabled: true },
      redirect: { disable: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { secret: SECRET },
  };
}

function defineSuite(backend: Backend): void {
  describe(`failover on ${backend.name}`, { timeout: 170_000 }, () => {
    const started: BerthProcess[] = [];
    const proxies: OutageProxy[] = [];

    /** A test whose failure message ends with the tails of the logs of the nodes it started. */
    const nodeTest = (
      name: string,
      options: TestOptions,
      fn: (start: (config: Record<string, unknown>) => Promise<BerthProcess>, note: (message: string) => void) => Promise<void>,
    ): void => {
      test(name, options, async (t) => {
        const mine: BerthProcess[] = [];
        const start = async (config: Record<string, unknown>): Promise<BerthProcess> => {
          const node = await startBerth({ config });
          mine.push(node);
          started.push(node);
          return node;
        };
        try {
          await fn(start, (message) => t.diagnostic(message));
        } catch (error) {
          if (error instanceof Error) {
            error.message += mine.map((n, i) => `\n--- node ${i + 1} (pid ${n.pid}) log:\n${n.output().slice(-3000)}`).join('');
          }
          throw error;
        } finally {
          await Promise.all(mine.map((n) => n.stop()));
        }
      });
    };

    before(async () => {
      await backend.prepare();
    });

    after(async () => {
      await Promise.all(started.map((n) => n.stop()));
      await Promise.all(proxies.map((p) => p.stop()));
      await backend.cleanup();
    });

    nodeTest('an upload started on A continues and completes on B after A is SIGKILLed mid-chunk', { timeout: 120_000 }, async (start, note) => {
      const prefix = `fo-kill-${run}`;
      const repo = `fo/kill-${backend.name}`;
      const config = berthConfig(backend.storage(prefix));
      // One after the other: startBerth's free-port probe could hand two parallel starts one port.
      const a = await start(config);
      const b = await start(config);
      const total = 28 * MiB + 4321;
      const data = randomBytes(total);
      const digest = sha256Digest(data);

      const post = await call(`${a.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      assert.equal(post.status, 202, show('POST on A', post));
      let location = nextLocation(post, a.url);
      const uploadId = post.headers.get('docker-upload-uuid') ?? assert.fail('no Docker-Upload-UUID');

      // Two acknowledged 5 MiB chunks on A.
      for (const offset of [0, 5 * MiB]) {
        const reply = await patch(location, offset, data.subarray(offset, offset + 5 * MiB));
        assert.equal(reply.status, 202, show(`PATCH ${offset} on A`, reply));
        assert.equal(reply.headers.get('range'), `0-${offset + 5 * MiB - 1}`);
        location = nextLocation(reply, a.url);
      }
      const acknowledged = 10 * MiB;

      // A 10 MiB chunk of which 7.5 MiB are sent; A dies while it waits for the rest.
      const third = partialPatch(location, acknowledged, data.subarray(acknowledged, acknowledged + 10 * MiB), 7.5 * MiB);
      await third.sent;
      const watchUntil = Date.now() + 20_000;
      let seen = await backend.heldBytes(prefix, repo, uploadId);
      while (seen < acknowledged + CHUNK_SIZE && Date.now() < watchUntil) {
        await delay(100);
        seen = await backend.heldBytes(prefix, repo, uploadId);
      }
      await a.kill('SIGKILL');
      const patchOutcome = await third.outcome;
      assert.match(patchOutcome, /connection ended/, 'the interrupted PATCH was never answered');
      // Anything the backend was still finishing when A died settles first.
      await delay(1000);
      const held = await backend.heldBytes(prefix, repo, uploadId);
      assert.ok(held >= acknowledged, `the backend holds ${held} bytes, less than the ${acknowledged} acknowledged`);
      assert.ok(held <= acknowledged + 7.5 * MiB, `the backend holds ${held} bytes, more than were ever sent`);

      // B reports exactly what the backend holds.
      const status = await call(onNode(location, b));
      assert.equal(status.status, 204, show('GET upload on B', status));
      assert.equal(
        status.headers.get('range'),
        `0-${held - 1}`,
        `B's Range for the upload (the backend holds ${held} bytes; ${seen} seen before the kill; the PATCH ${patchOutcome})`,
      );
      assert.equal(status.headers.get('docker-upload-uuid'), uploadId);
      note(
        `acknowledged ${acknowledged} bytes; the backend held ${seen} when A was killed, ${held} after; ` +
          `the interrupted PATCH: ${patchOutcome}; B: ${status.status} Range ${status.headers.get('range') ?? ''}`,
      );
      location = nextLocation(status, b.url);

      // Resume on B from there, then finish with the last bytes in the PUT.
      for (const [from, to] of [
        [held, 20 * MiB],
        [20 * MiB, 25 * MiB],
      ] as const) {
        const reply = await patch(location, from, data.subarray(from, to));
        assert.equal(reply.status, 202, show(`PATCH ${from}-${to - 1} on B`, reply));
        assert.equal(reply.headers.get('range'), `0-${to - 1}`);
        location = nextLocation(reply, b.url);
      }
      const finish = new URL(location);
      finish.searchParams.set('digest', digest);
      const put = await call(finish.toString(), {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array(data.subarray(25 * MiB)),
      });
      assert.equal(put.status, 201, show('PUT ?digest= on B', put));
      assert.equal(put.headers.get('docker-content-digest'), digest);

      const blob = await call(`${b.url}/v2/${repo}/blobs/${digest}`);
      assert.equal(blob.status, 200, show('GET blob on B', blob));
      assert.equal(blob.body.length, total);
      assert.equal(sha256Digest(blob.body), digest, 'the blob read through B is byte-identical');
      const gone = await call(onNode(location, b));
      assert.equal(gone.status, 404, show('GET upload on B after the PUT', gone));
    });

    nodeTest('a stopped backend gives fast 503 UNAVAILABLE, and Berth recovers without restart', { timeout: 120_000 }, async (start, note) => {
      const proxy = await OutageProxy.start(backend.upstream);
      proxies.push(proxy);
      const repo = `fo/outage-${backend.name}`;
      const node = await start(berthConfig(backend.storage(`fo-outage-${run}`, proxy.origin)));
      const image = buildImage({ layers: 1 });
      const layer = image.layers[0] ?? assert.fail('no layer');
      await pushImageOverHttp(node.url, repo, 'seed', image);
      const accept = { accept: `${MediaType.ociManifest}, ${MediaType.ociIndex}` };
      const probes: Array<{ name: string; url: string; init: RequestInit; ok: number; body: boolean }> = [
        { name: 'manifest GET by tag', url: `${node.url}/v2/${repo}/manifests/seed`, init: { headers: accept }, ok: 200, body: true },
        { name: 'manifest GET by digest', url: `${node.url}/v2/${repo}/manifests/${image.manifest.digest}`, init: { headers: accept }, ok: 200, body: true },
        { name: 'blob HEAD', url: `${node.url}/v2/${repo}/blobs/${layer.digest}`, init: { method: 'HEAD' }, ok: 200, body: false },
        { name: 'upload POST', url: `${node.url}/v2/${repo}/blobs/uploads/`, init: { method: 'POST' }, ok: 202, body: true },
      ];
      for (const probe of probes) {
        const reply = await call(probe.url, probe.init);
        assert.equal(reply.status, probe.ok, show(`${probe.name} before the outage`, reply));
      }

      await proxy.stop();
      // What the node read within `berth.cache.linkttl` (default 1 s) may still be answered from
      // memory; past that bound every probe needs the backend.
      await delay(LINK_TTL_MS + 25);
      const outage: string[] = [];
      for (const probe of probes) {
        let reply: Reply;
        try {
          reply = await call(probe.url, probe.init, OUTAGE_ANSWER_MS + 5000);
        } catch (error) {
          assert.fail(`${probe.name} during the outage: no answer within ${OUTAGE_ANSWER_MS + 5000} ms (${String(error)})`);
        }
        outage.push(show(probe.name, reply));
        assert.equal(reply.status, 503, show(`${probe.name} during the outage`, reply));
        assert.ok(reply.headers.get('retry-after') !== null, show(`${probe.name} during the outage: no Retry-After`, reply));
        assert.ok(reply.ms < OUTAGE_ANSWER_MS, show(`${probe.name} during the outage took too long`, reply));
        if (probe.body) {
          assert.match(reply.headers.get('content-type') ?? '', /^application\/json/, show(probe.name, reply));
          assert.equal(errorCode(reply), 'UNAVAILABLE', show(`${probe.name} during the outage`, reply));
        }
        assert.doesNotMatch(reply.body.toString(), STACK, show(`${probe.name}: internals in the body`, reply));
      }
      const health = await call(`${node.url}/healthz`, {}, OUTAGE_ANSWER_MS + 5000);
      outage.push(show('GET /healthz', health));
      assert.equal(health.status, 503, show('GET /healthz during the outage', health));
      assert.ok(health.ms < OUTAGE_ANSWER_MS, show('GET /healthz during the outage took too long', health));
      assert.doesNotMatch(health.body.toString(), STACK, show('/healthz: internals in the body', health));
      for (const line of outage) note(`during the outage: ${line}`);

      await proxy.resume();
      const resumed = Date.now();
      const deadline = resumed + 30_000;
      let last: string[] = [];
      for (;;) {
        const replies = await Promise.all([
          call(`${node.url}/healthz`),
          ...probes.map((probe) => call(probe.url, probe.init)),
        ]);
        const expected = [200, ...probes.map((probe) => probe.ok)];
        last = replies.map((reply, i) => show(i === 0 ? '/healthz' : (probes[i - 1]?.name ?? ''), reply));
        if (replies.every((reply, i) => reply.status === expected[i])) break;
        if (Date.now() > deadline) assert.fail(`no recovery within 30 s of the backend coming back:\n${last.join('\n')}`);
        await delay(250);
      }
      note(`recovered ${Date.now() - resumed} ms after the backend came back`);
      assert.doesNotThrow(() => process.kill(node.pid, 0), 'the same Berth process answers');
      const manifest = await call(`${node.url}/v2/${repo}/manifests/seed`, { headers: accept });
      assert.ok(manifest.body.equals(image.manifest.bytes), 'the seeded manifest is intact');
      const next = buildImage({ layers: 1 });
      await pushImageOverHttp(node.url, repo, 'after', next);
      const pulled = await call(`${node.url}/v2/${repo}/blobs/${next.layers[0]?.digest ?? ''}`);
      assert.equal(sha256Digest(pulled.body), next.layers[0]?.digest, 'a push after the recovery reads back');
    });
  });
}
