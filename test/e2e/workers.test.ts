/**
 * `berth serve --workers 2` as a real process tree (a cluster primary and two workers on one
 * socket), checked from outside through HTTP and the access log (every line carries `worker`):
 *   - a chunked upload whose PATCHes arrive on separate connections is served by both workers
 *     (the live hash of one worker is unknown to the other: the re-hash path) and commits
 *     byte-identical;
 *   - a worker killed with SIGKILL is restarted (a new pid for the same worker number) and both
 *     workers serve again;
 *   - SIGTERM to the primary drains: a PATCH whose body is still arriving completes with 202,
 *     and the whole tree exits with status 0.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BERTH_CLI, freePort } from '../helpers/berth-process.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request on its own connection (no agent: `Connection: close`). */
function send(base: string, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, agent: false, headers: { ...headers, 'content-length': String(body?.length ?? 0) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface LogLine {
  worker?: number;
  pid?: number;
  msg?: string;
  req?: { method?: string; url?: string };
  res?: { statusCode?: number };
}

class Tree {
  output = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }
  lines(): LogLine[] {
    return this.output.split('\n').flatMap((l) => {
      try {
        return l.startsWith('{') ? [JSON.parse(l) as LogLine] : [];
      } catch {
        return [];
      }
    });
  }
  workerPids(): Map<number, number> {
    const pids = new Map<number, number>();
    for (const l of this.lines()) if (l.msg === 'worker started' && l.worker !== undefined && l.pid !== undefined) pids.set(l.worker, l.pid);
    return pids;
  }
  /** Workers that logged a completed request matching `method` and `url` prefix. */
  servedBy(method: string, urlPrefix: string): Set<number> {
    const out = new Set<number>();
    for (const l of this.lines()) {
      if (l.req?.method === method && (l.req.url ?? '').startsWith(urlPrefix) && l.worker !== undefined) out.add(l.worker);
    }
    return out;
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('serve --workers 2', () => {
  let dir: string;
  let base: string;
  let tree: Tree;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-workers-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const config = join(dir, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log: { level: info }',
        `http: { addr: 127.0.0.1:${port}, secret: workers-test-secret, draintimeout: 10s }`,
        `storage: { filesystem: { rootdirectory: ${JSON.stringify(join(dir, 'data'))} }, delete: { enabled: true } }`,
        '',
      ].join('\n'),
    );
    tree = new Tree(spawn(process.execPath, [BERTH_CLI, 'serve', config, '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    await until('two listening workers', () => tree.lines().filter((l) => l.msg === 'berth listening').length >= 2);
    await until('GET /v2/ answers', async () => (await send(base, 'GET', '/v2/').catch(() => ({ status: 0 }))).status === 200);
  });

  after(async () => {
    if (tree.child.exitCode === null && tree.child.signalCode === null) {
      tree.child.kill('SIGKILL');
      for (const pid of tree.workerPids().values()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  test('chunks on separate connections reach both workers; the blob commits byte-identical', async () => {
    const data = randomBytes(24 * 64 * 1024 + 77);
    const digest = sha256(data);
    const post = await send(base, 'POST', '/v2/team/workers/blobs/uploads/');
    assert.equal(post.status, 202);
    let location = String(post.headers['location']);
    const chunk = 64 * 1024;
    for (let off = 0; off < data.length; off += chunk) {
      const part = data.subarray(off, Math.min(data.length, off + chunk));
      const r = await send(base, 'PATCH', location, part, { 'content-type': 'application/octet-stream', 'content-range': `${off}-${off + part.length - 1}` });
      assert.equal(r.status, 202, r.body.toString());
      assert.equal(r.headers['range'], `0-${off + part.length - 1}`);
      location = String(r.headers['location']);
    }
    const put = await send(base, 'PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`);
    assert.equal(put.status, 201, put.body.toString());
    const got = await send(base, 'GET', `/v2/team/workers/blobs/${digest}`);
    assert.equal(got.status, 200);
    assert.equal(sha256(got.body), digest);
    assert.ok(got.body.equals(data));
    await until('access log lines', () => tree.servedBy('PATCH', '/v2/team/workers/blobs/uploads/').size > 0);
    assert.deepEqual([...tree.servedBy('PATCH', '/v2/team/workers/blobs/uploads/')].sort(), [1, 2], 'PATCHes served by both workers');
  });

  test('a killed worker is restarted', async () => {
    const before = tree.workerPids();
    const victim = before.get(2);
    assert.ok(victim !== undefined);
    process.kill(victim, 'SIGKILL');
    await until('worker 2 restarted', () => {
      const now = tree.workerPids().get(2);
      return now !== undefined && now !== victim;
    });
    await until('both workers serve', async () => {
      await send(base, 'GET', '/v2/?after-restart');
      return tree.servedBy('GET', '/v2/?after-restart').size === 2;
    });
  });

  test('SIGTERM drains an upload in flight, then the tree exits 0', async () => {
    const post = await send(base, 'POST', '/v2/team/drain/blobs/uploads/');
    assert.equal(post.status, 202);
    const data = randomBytes(256 * 1024);
    const reply = new Promise<Reply>((resolve, reject) => {
      const req = request(new URL(String(post.headers['location']), base), {
        method: 'PATCH',
        agent: false,
        headers: { 'content-length': String(data.length), 'content-type': 'application/octet-stream' },
      }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      });
      req.on('error', reject);
      req.write(data.subarray(0, 1000));
      setTimeout(() => {
        tree.child.kill('SIGTERM');
        setTimeout(() => req.end(data.subarray(1000)), 500);
      }, 300);
    });
    const r = await reply;
    assert.equal(r.status, 202, r.body.toString());
    assert.equal(r.headers['range'], `0-${data.length - 1}`);
    const code = await Promise.race([tree.exited, new Promise<string>((res) => setTimeout(() => res('timeout'), 15_000))]);
    assert.equal(code, 0);
    for (const pid of tree.workerPids().values()) {
      assert.throws(() => process.kill(pid, 0), 'worker process gone');
    }
  });
});
