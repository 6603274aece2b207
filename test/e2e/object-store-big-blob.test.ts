/**
 * Backpressure on the object stores with one big blob (issue 13): for each backend (the s3 driver
 * on Swift's s3api, the swift driver on Swift itself, both from test/setup/30-swift.sh) a real
 * Berth process (`node dist/src/cli/main.js serve config.yml`) on a fresh bucket/container and
 * prefix takes one 5 GiB blob as a streamed upload — POST /v2/<name>/blobs/uploads/, ONE chunked
 * PATCH carrying all the bytes, PUT ?digest= — and serves it back with GET. The client generates
 * the bytes on the fly (one random 1 MiB block, reused unchanged, after a 16-byte header holding
 * the MiB's index, so no two MiBs are alike; nothing is written to disk), waits for `drain`
 * whenever `write()` says so, and hashes what it sends and what it reads.
 *
 * Berth's resident memory (VmRSS from /proc/<pid>/status) is sampled every 200 ms through each
 * phase (push: POST → PATCH → PUT, including the commit; pull: GET to the last byte). Asserted per
 * phase: the peak stays ≤ 160 MiB, and the peak after the first GiB moved (1/5 of the blob when it
 * is smaller) is at most 32 MiB above the peak during it — memory stays flat instead of growing
 * with the bytes. The pulled blob has the pushed size and sha256. Throughput (MiB/s), peak RSS and
 * the RSS curve per tenth of the blob are printed as diagnostics only: timings never decide the
 * outcome. The bucket/container is emptied and removed in `after`, also when a step failed, so no
 * 5 GiB are left in Swift. The disk under Swift's storage needs room for the blob twice (the s3
 * commit copies the upload server-side), checked first.
 *
 * BERTH_BIG_BLOB_MIB sets the blob size in MiB for local iterations (≥ 256, default 5120; CI uses the
 * default). Without the environment a backend is skipped with the reason, except under CI=true,
 * where that is a failure.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile, statfs } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { envVar, s3Backend, swiftBackend, type Backend } from '../helpers/object-backends.js';

const inCi = process.env.CI === 'true';
const run = randomBytes(4).toString('hex');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Blob size in MiB: 5 GiB unless BERTH_BIG_BLOB_MIB says otherwise (local iterations only). */
const BLOB_MIB = blobMib();
const BLOB_BYTES = BLOB_MIB * MiB;
/** The warm-up the growth bound is measured against: the first GiB (1/5 of a smaller blob). */
const WARMUP_BYTES = Math.min(GiB, Math.floor(BLOB_BYTES / 5));
/** Largest RSS Berth may reach in a phase. */
const PEAK_RSS_LIMIT = 160 * MiB;
/** How far the peak after the warm-up may exceed the peak during it. */
const GROWTH_LIMIT = 32 * MiB;
const SAMPLE_EVERY_MS = 200;
/**
 * Per backend: start, 5 GiB in (s3 ~60–90 MiB/s on a busy 2-core box, then the commit's
 * server-side copy, ~40 s when idle), 5 GiB out, cleanup. Measured 0.8 (swift) and 2 (s3) minutes
 * on an idle box.
 */
const BACKEND_TIMEOUT_MS = Math.max(3 * 60_000, Math.ceil((BLOB_MIB / 5120) * 8 * 60_000));
/** Small requests (POST, DELETE, HEAD). */
const REQUEST_TIMEOUT_MS = 30_000;
/** The bytes after each MiB's header: the same random block for every MiB, never modified. */
const HEADER_BYTES = 16;

/**
 * Fails early, with the reason, when the disk under the test run's services (BERTH_TEST_TMP, where
 * test/setup/30-swift.sh keeps Swift's storage) cannot hold the blob twice: on s3 the commit
 * copies the upload server-side before deleting it.
 */
async function assertRoomForTheBlob(): Promise<void> {
  const dir = envVar('BERTH_TEST_TMP');
  if (dir === undefined) return;
  const stats = await statfs(dir);
  const free = stats.bavail * stats.bsize;
  const needed = 2 * BLOB_BYTES + GiB;
  assert.ok(free >= needed, `${dir}: ${mib(free)} MiB free, the ${BLOB_MIB} MiB blob needs ${mib(needed)} MiB (the upload and its copy)`);
}

function blobMib(): number {
  const raw = envVar('BERTH_BIG_BLOB_MIB');
  if (raw === undefined) return 5120;
  const value = Number(raw);
  // Smaller blobs make the warm-up (1/5) shorter than the drivers' own buffers take to fill.
  if (!Number.isSafeInteger(value) || value < 256) throw new Error(`BERTH_BIG_BLOB_MIB must be a whole number of MiB ≥ 256, not ${raw}`);
  return value;
}

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

// ------------------------------------------------------------------------------------------------
// RSS sampling of the Berth process

interface RssSample {
  /** Bytes of the blob moved when the sample was taken. */
  readonly moved: number;
  readonly rss: number;
}

async function readRss(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined; // the process is gone: its last samples tell the story
  }
}

/** Samples a process's VmRSS every {@link SAMPLE_EVERY_MS}, tagged with the progress of a phase. */
class RssWatch {
  private readonly samples: RssSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly pid: number,
    private readonly progress: () => number,
  ) {}

  start(): void {
    this.take();
    this.timer = setInterval(() => this.take(), SAMPLE_EVERY_MS);
  }

  async stop(): Promise<PhaseMemory> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.take();
    await this.pending;
    return summarize(this.samples);
  }

  private take(): void {
    const moved = this.progress();
    this.pending = this.pending.then(async () => {
      const rss = await readRss(this.pid);
      if (rss !== undefined) this.samples.push({ moved, rss });
    });
  }
}

interface PhaseMemory {
  readonly samples: number;
  readonly peak: number;
  /** Peak while the first {@link WARMUP_BYTES} moved. */
  readonly warmupPeak: number;
  /** Peak from then on, to the end of the phase (for the push: the commit included). */
  readonly laterPeak: number;
  /** Peak RSS per tenth of the blob (the last one includes what came after the last byte). */
  readonly curve: readonly number[];
}

function summarize(samples: readonly RssSample[]): PhaseMemory {
  let peak = 0;
  let warmupPeak = 0;
  let laterPeak = 0;
  const curve = new Array<number>(10).fill(0);
  for (const { moved, rss } of samples) {
    peak = Math.max(peak, rss);
    if (moved < WARMUP_BYTES) warmupPeak = Math.max(warmupPeak, rss);
    else laterPeak = Math.max(laterPeak, rss);
    const tenth = Math.min(9, Math.floor((moved * 10) / BLOB_BYTES));
    curve[tenth] = Math.max(curve[tenth] ?? 0, rss);
  }
  return { samples: samples.length, peak, warmupPeak, laterPeak, curve };
}

function describeMemory(memory: PhaseMemory): string {
  const tenths = memory.curve.map((rss, i) => `≤${Math.round(((i + 1) * BLOB_MIB) / 10)}:${rss === 0 ? '-' : mib(rss)}`).join(' ');
  return (
    `peak RSS ${mib(memory.peak)} MiB (first ${mib(WARMUP_BYTES)} MiB: ${mib(memory.warmupPeak)}, after: ${mib(memory.laterPeak)}; ` +
    `${memory.samples} samples); peak per tenth of the blob [MiB moved:RSS MiB] ${tenths}`
  );
}

function assertFlat(phase: string, memory: PhaseMemory): void {
  assert.ok(memory.samples >= 2, `${phase}: no RSS samples of the Berth process`);
  assert.ok(memory.peak <= PEAK_RSS_LIMIT, `${phase}: Berth's RSS reached ${mib(memory.peak)} MiB (limit ${mib(PEAK_RSS_LIMIT)}); ${describeMemory(memory)}`);
  assert.ok(
    memory.laterPeak <= memory.warmupPeak + GROWTH_LIMIT,
    `${phase}: Berth's RSS grew by ${mib(memory.laterPeak - memory.warmupPeak)} MiB after the first ${mib(WARMUP_BYTES)} MiB ` +
      `(limit ${mib(GROWTH_LIMIT)}); ${describeMemory(memory)}`,
  );
}

// ------------------------------------------------------------------------------------------------
// HTTP (node:http throughout: no client-side timeouts on the long requests, explicit backpressure)

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

async function readReply(res: IncomingMessage): Promise<Reply> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() };
}

/** A request without a body (or an empty one); `timeoutMs` 0 waits as long as it takes. */
async function send(method: string, url: URL, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Reply> {
  const req = httpRequest(url, { method, headers: { 'content-length': '0' } });
  if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url.pathname}: no answer in ${timeoutMs} ms`)));
  const answered = once(req, 'response') as Promise<[IncomingMessage]>;
  req.end();
  const [res] = await answered;
  return readReply(res);
}

function show(what: string, reply: Reply): string {
  return `${what} → ${reply.status} ${reply.body.slice(0, 300)}`;
}

function locationOf(reply: Reply, base: string): URL {
  const location = reply.headers.location;
  assert.ok(typeof location === 'string' && location !== '', 'no Location header');
  return new URL(location, base);
}

/**
 * One chunked PATCH of `size` bytes generated on the fly: per MiB a 16-byte header (the MiB's
 * index and this run's tag) and the rest of the one random block. Waits for `drain` whenever
 * `write()` returns false; stops writing if Berth answers before the end (an error).
 */
async function streamingPatch(url: URL, size: number, progress: { sent: number }): Promise<{ reply: Reply; digest: string }> {
  const block = randomBytes(MiB - HEADER_BYTES);
  const hash = createHash('sha256');
  const req = httpRequest(url, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' } });
  let answered = false;
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', (res: IncomingMessage) => {
      answered = true;
      resolve(res);
    });
    req.once('error', reject);
  });
  response.catch(() => undefined); // awaited below; a failure while writing must not go unhandled
  for (let index = 0; index * MiB < size && !answered; index++) {
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeBigUInt64BE(BigInt(index), 0);
    header.write(run, 8, 'latin1');
    hash.update(header).update(block);
    const headerFlushed = req.write(header);
    const blockFlushed = req.write(block);
    progress.sent += MiB;
    if (!headerFlushed || !blockFlushed) await Promise.race([once(req, 'drain'), response]);
  }
  if (!answered) req.end();
  const res = await response;
  return { reply: await readReply(res), digest: `sha256:${hash.digest('hex')}` };
}

/** GET of the blob, streamed: size, sha256 and the response headers. */
async function streamingGet(url: URL, progress: { received: number }): Promise<{ status: number; headers: IncomingHttpHeaders; size: number; digest: string }> {
  const req = httpRequest(url, { method: 'GET' });
  const answered = once(req, 'response') as Promise<[IncomingMessage]>;
  req.end();
  const [res] = await answered;
  const hash = createHash('sha256');
  for await (const chunk of res) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    progress.received += bytes.length;
  }
  return { status: res.statusCode ?? 0, headers: res.headers, size: progress.received, digest: `sha256:${hash.digest('hex')}` };
}

// ------------------------------------------------------------------------------------------------
// The suites, one backend after the other.

for (const backend of [s3Backend({ tag: `big-${run}` }), swiftBackend({ tag: `big-${run}` })]) {
  if (backend.missing !== undefined) {
    if (inCi) {
      test(`big blob on ${backend.name}: the backend is available in CI`, () => {
        assert.fail(`CI=true but ${backend.missing ?? ''}`);
      });
    } else {
      test(`big blob on ${backend.name}`, { skip: backend.missing }, () => undefined);
    }
    continue;
  }
  defineSuite(backend);
}

function defineSuite(backend: Backend): void {
  describe(`one ${BLOB_MIB} MiB blob through Berth on ${backend.name}`, { timeout: BACKEND_TIMEOUT_MS }, () => {
    let berth: BerthProcess | undefined;

    before(async () => {
      await assertRoomForTheBlob();
      await backend.prepare();
      berth = await startBerth({
        config: {
          log: { level: 'warn', accesslog: { disabled: true } },
          storage: {
            ...backend.storage(`big-${run}`),
            delete: { enabled: true },
            redirect: { disable: true },
            maintenance: { uploadpurging: { enabled: false } },
          },
        },
      });
    });

    // Also after a failure: the process first (no more writes), then every object, segment and
    // unfinished multipart upload in the bucket/container, and the bucket/container itself.
    after(async () => {
      await berth?.stop();
      await backend.cleanup();
    });

    test('push and pull stream with flat memory', async (t) => {
      const node = berth ?? assert.fail('Berth did not start');
      try {
        const repo = `big/blob-${backend.name}`;
        const idle = await readRss(node.pid);
        t.diagnostic(`${backend.name}: Berth pid ${node.pid}, idle RSS ${mib(idle ?? 0)} MiB, blob ${BLOB_MIB} MiB`);

        // Push: POST, one streaming PATCH, PUT ?digest=.
        const pushed = { sent: 0 };
        const pushWatch = new RssWatch(node.pid, () => pushed.sent);
        const pushStart = performance.now();
        pushWatch.start();
        let pushMemory: PhaseMemory;
        let digest: string;
        let patchMs: number | undefined;
        try {
          const post = await send('POST', new URL(`/v2/${repo}/blobs/uploads/`, node.url));
          assert.equal(post.status, 202, show('POST upload', post));
          const patched = await streamingPatch(locationOf(post, node.url), BLOB_BYTES, pushed);
          patchMs = performance.now() - pushStart;
          assert.equal(patched.reply.status, 202, show('PATCH', patched.reply));
          assert.equal(patched.reply.headers.range, `0-${BLOB_BYTES - 1}`, 'PATCH: Range');
          digest = patched.digest;
          const target = locationOf(patched.reply, node.url);
          target.searchParams.set('digest', digest);
          const put = await send('PUT', target, 0);
          assert.equal(put.status, 201, show('PUT ?digest=', put));
          assert.equal(put.headers['docker-content-digest'], digest, 'PUT: Docker-Content-Digest');
        } finally {
          // Also when the push failed: how far it got, how fast, and the memory until then.
          pushMemory = await pushWatch.stop();
          const pushMs = performance.now() - pushStart;
          const patchRate = patchMs === undefined ? 'PATCH unfinished' : `${(BLOB_MIB / (patchMs / 1000)).toFixed(1)} MiB/s over POST+PATCH`;
          const putTime = patchMs === undefined ? '' : ` (PUT ${((pushMs - patchMs) / 1000).toFixed(1)} s)`;
          t.diagnostic(
            `${backend.name} push: ${mib(pushed.sent)} MiB sent in ${(pushMs / 1000).toFixed(1)} s, ${patchRate}, ` +
              `${(pushed.sent / MiB / (pushMs / 1000)).toFixed(1)} MiB/s with the commit${putTime}; ${describeMemory(pushMemory)}`,
          );
        }
        assertFlat(`${backend.name} push`, pushMemory);

        // Pull: one streaming GET.
        const blobUrl = new URL(`/v2/${repo}/blobs/${digest}`, node.url);
        const head = await send('HEAD', blobUrl);
        assert.equal(head.status, 200, show('HEAD blob', head));
        assert.equal(head.headers['content-length'], String(BLOB_BYTES), 'HEAD: Content-Length');
        const pulled = { received: 0 };
        const pullWatch = new RssWatch(node.pid, () => pulled.received);
        const pullStart = performance.now();
        pullWatch.start();
        let pullMemory: PhaseMemory;
        let got: Awaited<ReturnType<typeof streamingGet>>;
        try {
          got = await streamingGet(blobUrl, pulled);
        } finally {
          pullMemory = await pullWatch.stop();
          const pullMs = performance.now() - pullStart;
          t.diagnostic(
            `${backend.name} pull: ${mib(pulled.received)} MiB in ${(pullMs / 1000).toFixed(1)} s, ` +
              `${(pulled.received / MiB / (pullMs / 1000)).toFixed(1)} MiB/s; ${describeMemory(pullMemory)}`,
          );
        }
        assert.equal(got.status, 200, 'GET blob');
        assert.equal(got.headers['content-length'], String(BLOB_BYTES), 'GET: Content-Length');
        assert.equal(got.headers['docker-content-digest'], digest, 'GET: Docker-Content-Digest');
        assert.equal(got.size, BLOB_BYTES, 'GET: bytes received');
        assert.equal(got.digest, digest, 'GET: sha256 of the bytes received');
        assertFlat(`${backend.name} pull`, pullMemory);

        // The blob goes away through the API; `after` removes what is left in the store.
        const deleted = await send('DELETE', blobUrl);
        assert.equal(deleted.status, 202, show('DELETE blob', deleted));
        assert.equal((await send('HEAD', blobUrl)).status, 404, 'HEAD after DELETE');
      } catch (error) {
        if (error instanceof Error) error.message += `\n--- Berth (pid ${node.pid}) log:\n${node.output().slice(-3000)}`;
        throw error;
      }
    });
  });
}
