/**
 * End-to-end: Berth as a pull-through cache in front of two real upstreams, pulled with skopeo.
 * Upstream 1 is a second Berth process with htpasswd and its token server (the Bearer token
 * dance); upstream 2 is Debian's docker-registry (CNCF distribution 2.8) with htpasswd (Basic).
 * Every upstream request passes a counting HTTP relay in this test. The proxying Berth mirrors
 * both by prefix (`berth.proxy.upstreams`) with a 2 s TTL. Checked: cold and warm pulls
 * byte-identical to a pull from the upstream itself; 20 concurrent cold pulls of one image fetch
 * each blob from the upstream once; with the upstream stopped, cached images still pull; a tag
 * moved upstream is seen after the TTL; a push into a proxied name is refused.
 * skopeo and docker-registry come from test/setup (10-skopeo.sh, 50-docker-registry.sh); without
 * them the suite is skipped, except under CI=true.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { commandWorks, runSkopeo, skipUnless } from '../helpers/auth-e2e.js';
import { writeHtpasswd } from '../helpers/auth-app.js';
import { freePort, startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { buildImage, writeOciLayout, type BuiltImage } from '../helpers/oci-image.js';

const USER = 'mirror';
const PASSWORD = 'upstream-pw-3141';
const TTL_MS = 2000;

/** A relay that forwards every request to `target` (keeping the Host header) and records it. */
interface Relay {
  readonly url: string;
  readonly host: string;
  readonly seen: string[];
  close(): Promise<void>;
}

async function startRelay(targetPort: number): Promise<Relay> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`);
    const out = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => req.socket.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Debian's docker-registry (distribution 2.8) with htpasswd, on a free loopback port. */
async function startDistribution(htpasswd: string): Promise<{ port: number; stop(): Promise<void>; output(): string }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-proxy-dist-'));
  const port = await freePort();
  const config = {
    version: 0.1,
    log: { level: 'warn' },
    http: { addr: `127.0.0.1:${port}` },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    auth: { htpasswd: { realm: 'distribution', path: htpasswd } },
  };
  await writeFile(join(dir, 'config.yml'), stringify(config));
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited:\n${output}`);
    const status = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => 0);
    if (status === 401 || status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function skopeo(args: readonly string[]): Promise<void> {
  const result = await runSkopeo(args);
  assert.equal(result.code, 0, `skopeo ${args.join(' ')}:\n${result.stderr}`);
}

/** Every file of a skopeo `dir:` copy (manifest.json and the blobs), by name. */
async function dirFiles(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) if (name !== 'version') out.set(name, await readFile(join(dir, name)));
  return out;
}

function assertSameDirs(actual: Map<string, Buffer>, expected: Map<string, Buffer>, what: string): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()], `${what}: same files`);
  for (const [name, bytes] of expected) assert.ok(actual.get(name)?.equals(bytes), `${what}: ${name} differs`);
}

const haveSkopeo = await commandWorks('skopeo', ['--version']);
const haveDistribution = await commandWorks('docker-registry', ['--version']);
const skip = skipUnless(haveSkopeo && haveDistribution, 'skopeo or docker-registry (Debian package docker-registry)');

describe('pull-through cache end to end (skopeo; Berth with token server and distribution 2.8 as upstreams)', { skip, timeout: 240_000 }, () => {
  let work: string;
  let upstreamBerth: BerthProcess;
  let berthRelay: Relay;
  let dist: Awaited<ReturnType<typeof startDistribution>>;
  let distRelay: Relay;
  let proxy: BerthProcess;
  let image: BuiltImage;
  let moved: BuiltImage;
  /** One image per upstream for the concurrency test, so no blob of it is in storage yet. */
  const crowd = new Map<string, BuiltImage>();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-proxy-e2e-'));
    const htpasswd = await writeHtpasswd({ [USER]: PASSWORD });
    upstreamBerth = await startBerth({
      config: {
        auth: { htpasswd: { realm: 'upstream', path: htpasswd } },
        berth: { auth: { tokenserver: { enabled: true } } },
      },
    });
    berthRelay = await startRelay(upstreamBerth.port);
    dist = await startDistribution(htpasswd);
    distRelay = await startRelay(dist.port);
    proxy = await startBerth({
      config: {
        log: { level: 'info' },
        berth: {
          proxy: {
            upstreams: [
              { prefix: 'berth.up', remoteurl: berthRelay.url, username: USER, password: PASSWORD, ttl: `${TTL_MS}ms` },
              { prefix: 'dist.up', remoteurl: distRelay.url, username: USER, password: PASSWORD, ttl: `${TTL_MS}ms` },
            ],
          },
        },
      },
    });
    image = buildImage({ layerSizes: [3 * 1024 * 1024 + 5, 64 * 1024, 1000] });
    moved = buildImage({ layers: 1 });
    for (const prefix of ['berth.up', 'dist.up']) crowd.set(prefix, buildImage({ layerSizes: [2 * 1024 * 1024 + 11, 70_000, 500] }));
    // Seed both upstreams with skopeo, through each upstream's own authentication.
    const crowdImages = [...crowd.values()];
    await writeOciLayout(join(work, 'layout'), [...image.blobs, ...moved.blobs, ...crowdImages.flatMap((c) => c.blobs)], [
      { tag: 'v1', target: image.manifest },
      { tag: 'moved', target: moved.manifest },
      ...[...crowd.entries()].map(([prefix, c]) => ({ tag: `crowd-${prefix}`, target: c.manifest })),
    ]);
    const push = (tag: string, relay: Relay, repo: string): Promise<void> =>
      skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `${USER}:${PASSWORD}`, `oci:${join(work, 'layout')}:${tag}`, `docker://${relay.host}/${repo}:v1`]);
    for (const [prefix, relay] of [['berth.up', berthRelay], ['dist.up', distRelay]] as const) {
      await push('v1', relay, 'team/app');
      await push('v1', relay, 'team/moving');
      await push(`crowd-${prefix}`, relay, 'team/crowd');
    }
  });

  after(async () => {
    if (proxy !== undefined) {
      const failures = proxy.output().split('\n').filter((l) => l.includes('blob fetch failed'));
      if (failures.length > 0) console.error(`proxy log:\n${failures.join('\n')}`);
      assert.ok(!proxy.output().includes(PASSWORD), 'the upstream password reached the log');
      await proxy.stop();
    }
    await berthRelay?.close();
    await distRelay?.close();
    await upstreamBerth?.stop();
    await dist?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  for (const [label, prefix, relayOf] of [
    ['Berth (token server)', 'berth.up', () => berthRelay],
    ['distribution 2.8 (Basic)', 'dist.up', () => distRelay],
  ] as const) {
    it(`${label}: cold and warm pulls are byte-identical to the upstream`, async () => {
      const relay = relayOf();
      const direct = join(work, `${prefix}-direct`);
      await skopeo(['copy', '--src-tls-verify=false', '--src-creds', `${USER}:${PASSWORD}`, `docker://${relay.host}/team/app:v1`, `dir:${direct}`]);
      const expected = await dirFiles(direct);
      const before = relay.seen.length;
      const cold = join(work, `${prefix}-cold`);
      await skopeo(['copy', '--src-tls-verify=false', `docker://${proxy.host}/${prefix}/team/app:v1`, `dir:${cold}`]);
      assertSameDirs(await dirFiles(cold), expected, 'cold pull');
      assert.ok(relay.seen.length > before, 'the cold pull went to the upstream');
      const warmStart = relay.seen.length;
      const warm = join(work, `${prefix}-warm`);
      await skopeo(['copy', '--src-tls-verify=false', `docker://${proxy.host}/${prefix}/team/app:v1`, `dir:${warm}`]);
      assertSameDirs(await dirFiles(warm), expected, 'warm pull');
      const blobFetches = relay.seen.slice(warmStart).filter((s) => s.includes('/blobs/'));
      assert.deepEqual(blobFetches, [], 'the warm pull fetched no blob upstream');
    });

    it(`${label}: 20 concurrent cold pulls fetch each blob from the upstream once`, async () => {
      const relay = relayOf();
      const image = crowd.get(prefix);
      assert.ok(image !== undefined);
      const accept = 'application/vnd.oci.image.manifest.v1+json';
      const pullOnce = async (): Promise<void> => {
        const m = await fetch(`${proxy.url}/v2/${prefix}/team/crowd/manifests/v1`, { headers: { accept } });
        assert.equal(m.status, 200);
        const bytes = Buffer.from(await m.arrayBuffer());
        assert.ok(bytes.equals(image.manifest.bytes));
        await Promise.all(
          [image.config, ...image.layers].map(async (blob) => {
            const res = await fetch(`${proxy.url}/v2/${prefix}/team/crowd/blobs/${blob.digest}`);
            assert.equal(res.status, 200);
            assert.ok(Buffer.from(await res.arrayBuffer()).equals(blob.bytes), `blob ${blob.digest}`);
          }),
        );
      };
      await Promise.all(Array.from({ length: 20 }, pullOnce)).catch(async (error: unknown) => {
        await new Promise((r) => setTimeout(r, 1500)); // let the proxy's log catch up
        console.error(proxy.output().split('\n').filter((l) => /proxy:|"level":[456]0/.test(l)).join('\n'));
        throw error;
      });
      for (const blob of [image.config, ...image.layers]) {
        const gets = relay.seen.filter((s) => s === `GET /v2/team/crowd/blobs/${blob.digest}`).length;
        assert.equal(gets, 1, `${blob.digest} fetched ${gets} times:\n${relay.seen.join('\n')}`);
      }
      const manifestGets = relay.seen.filter((s) => s === 'GET /v2/team/crowd/manifests/v1').length;
      assert.ok(manifestGets <= 2, `manifest fetched ${manifestGets} times (one 401 at most, one GET)`);
    });

    it(`${label}: a tag moved upstream is seen after the TTL`, async () => {
      const relay = relayOf();
      const ref = `docker://${proxy.host}/${prefix}/team/moving:v1`;
      const inspect = async (): Promise<string> => {
        const r = await runSkopeo(['inspect', '--tls-verify=false', '--format', '{{.Digest}}', ref]);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.toString().trim();
      };
      assert.equal(await inspect(), image.manifest.digest);
      await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `${USER}:${PASSWORD}`, `oci:${join(work, 'layout')}:moved`, `docker://${relay.host}/team/moving:v1`]);
      assert.equal(await inspect(), image.manifest.digest, 'within the TTL the cached digest is served');
      await new Promise((r) => setTimeout(r, TTL_MS + 300));
      assert.equal(await inspect(), moved.manifest.digest, 'after the TTL the moved tag is seen');
      const pulled = join(work, `${prefix}-moved`);
      await skopeo(['copy', '--src-tls-verify=false', ref, `dir:${pulled}`]);
      assert.ok((await readFile(join(pulled, 'manifest.json'))).equals(moved.manifest.bytes));
    });

    it(`${label}: pushing into the proxied name is refused`, async () => {
      const r = await runSkopeo(['copy', '--dest-tls-verify=false', `oci:${join(work, 'layout')}:v1`, `docker://${proxy.host}/${prefix}/team/pushed:v1`]);
      assert.notEqual(r.code, 0);
      const res = await fetch(`${proxy.url}/v2/${prefix}/team/pushed/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 405);
      assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code, 'UNSUPPORTED');
    });
  }

  it('with both upstreams stopped, cached images still pull (stale tags served with a log line)', async () => {
    await new Promise((r) => setTimeout(r, TTL_MS + 300)); // past the TTL: revalidation is due
    await berthRelay.close();
    await distRelay.close();
    await upstreamBerth.stop();
    await dist.stop();
    for (const prefix of ['berth.up', 'dist.up']) {
      const out = join(work, `${prefix}-offline`);
      await skopeo(['copy', '--src-tls-verify=false', `docker://${proxy.host}/${prefix}/team/app:v1`, `dir:${out}`]);
      assertSameDirs(await dirFiles(out), await dirFiles(join(work, `${prefix}-direct`)), 'offline pull');
    }
    assert.match(proxy.output(), /upstream unavailable, serving the cached tag/);
    const uncached = await fetch(`${proxy.url}/v2/berth.up/team/never/manifests/v1`);
    assert.equal(uncached.status, 503);
  });
});
