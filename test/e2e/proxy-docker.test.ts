/**
 * End-to-end: Berth's pull-through cache pulled by a real Docker engine (the test run's own, from
 * test/setup/20-docker-engine.sh, named by BERTH_DOCKER_HOST). The upstream is a second Berth with
 * htpasswd and its token server, so anonymous callers are refused and the proxy must do the Bearer
 * token dance with its configured credentials. An image built offline (a docker-archive made in
 * Node, `docker load`) is pushed to the upstream by docker after `docker login`. Two proxies mirror
 * it: one by prefix (`berth.proxy.upstreams: [{prefix: up, …}]`), one as distribution's
 * whole-registry mirror (`proxy: {remoteurl, …}`) pulled under docker's `library/` name. Checked:
 * a cold and a warm `docker pull` through the prefix proxy, and a pull of `library/<name>` through
 * the mirror, give the upstream's image ID, layers and manifest digest (RepoDigest), and the
 * upstream's log shows the proxies' token requests (account and pull scope) granted; with the
 * upstream stopped and the tags' TTL past, both proxies still serve the cached image to a fresh
 * pull. The engine talks to the proxies anonymously (its credentials are for the upstream only).
 * Without BERTH_DOCKER_HOST the suite is skipped, except under CI=true where that is a failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHtpasswd } from '../helpers/auth-app.js';
import { jsonLines } from '../helpers/auth-e2e.js';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { buildDockerArchive, rootfsTar } from '../helpers/docker-archive.js';
import { DockerCli, dockerEngineForSuite } from '../helpers/docker-cli.js';

const { dockerHost, skipReason } = dockerEngineForSuite('docker engine (proxy)', test);
const USER = 'mirror';
const PASSWORD = 'upstream-docker-pw-2718';
const TTL_MS = 1500;

/** What the upstream holds, to compare every pull against. */
interface Expected {
  readonly imageId: string;
  readonly digest: string;
  readonly layers: readonly string[];
}

describe('docker engine: pull-through cache (upstream Berth with token server)', { skip: skipReason, timeout: 90_000 }, () => {
  let upstream: BerthProcess | undefined;
  let upstreamStopped = false;
  let prefixProxy: BerthProcess | undefined;
  let mirror: BerthProcess | undefined;
  let docker: DockerCli | undefined;
  let work = '';
  const run = randomBytes(4).toString('hex');
  const repo = `team/app-${run}`;
  const official = `busybox-${run}`;
  const refs = { upstream: '', upstreamLibrary: '', prefix: '', mirror: '' };
  let expected: Expected | undefined;

  function cli(): DockerCli {
    assert.ok(docker !== undefined, 'the docker client was not set up (see the before hook)');
    return docker;
  }

  function want(): Expected {
    assert.ok(expected !== undefined, 'the image was not pushed to the upstream (see the before hook)');
    return expected;
  }

  /** Runs a step; on failure the servers' recent output is added to the error. */
  async function step(body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      if (err instanceof Error) {
        for (const [label, p] of [['upstream', upstream], ['prefix proxy', prefixProxy], ['mirror', mirror]] as const) {
          if (p !== undefined) err.message += `\n--- ${label} output (tail)\n${p.output().slice(-3000)}`;
        }
      }
      throw err;
    }
  }

  /** The proxies' token requests the upstream granted (user agent berth-proxy) for `remote`'s pull scope. */
  function proxyTokenGrants(remote: string): string[] {
    const scope = `scope=${encodeURIComponent(`repository:${remote}:pull`)}`;
    return jsonLines(upstream?.output() ?? '')
      .map((line) => ({ req: line['req'] as { url?: unknown; userAgent?: unknown } | undefined, res: line['res'] as { statusCode?: unknown } | undefined }))
      .filter(({ req, res }) => req?.userAgent === 'berth-proxy' && res?.statusCode === 200 && typeof req.url === 'string' && req.url.startsWith('/token?'))
      .map(({ req }) => String(req?.url))
      .filter((url) => url.includes(scope));
  }

  /** The image is absent locally, then `docker pull ref` gives the upstream's image. */
  async function pullAndCheck(ref: string): Promise<void> {
    const d = cli();
    const { imageId, digest, layers } = want();
    assert.equal(await d.hasImage(imageId), false, `${imageId} is still present before pulling ${ref}`);
    const pulled = await d.pull(ref);
    assert.equal(pulled.digest, digest, `pull of ${ref} reported another digest:\n${pulled.output}`);
    assert.equal(await d.imageId(ref), imageId, `pulled ${ref} has another image ID`);
    assert.deepEqual(await d.layerDiffIds(ref), layers, `pulled ${ref} has other layers`);
    const name = ref.slice(0, ref.lastIndexOf(':'));
    assert.deepEqual(await d.repoDigests(ref), [`${name}@${digest}`], `RepoDigests of ${ref}`);
    await d.rmi([ref]);
  }

  before(
    async () => {
      assert.ok(dockerHost !== undefined, 'unreachable: the suite is skipped without BERTH_DOCKER_HOST');
      work = await mkdtemp(join(tmpdir(), 'berth-e2e-proxy-docker-'));
      docker = await DockerCli.create(dockerHost);
      const htpasswd = await writeHtpasswd({ [USER]: PASSWORD });
      upstream = await startBerth({
        config: {
          log: { level: 'info' },
          auth: { htpasswd: { realm: 'upstream', path: htpasswd } },
          berth: { auth: { tokenserver: { enabled: true } } },
        },
      });
      const credentials = { username: USER, password: PASSWORD, ttl: `${TTL_MS}ms` };
      prefixProxy = await startBerth({
        config: { log: { level: 'info' }, berth: { proxy: { upstreams: [{ prefix: 'up', remoteurl: upstream.url, ...credentials }] } } },
      });
      mirror = await startBerth({ config: { log: { level: 'info' }, proxy: { remoteurl: upstream.url, ...credentials } } });
      refs.upstream = `${upstream.host}/${repo}:v1`;
      refs.upstreamLibrary = `${upstream.host}/library/${official}:v1`;
      refs.prefix = `${prefixProxy.host}/up/${repo}:v1`;
      refs.mirror = `${mirror.host}/library/${official}:v1`;

      // Anonymous callers are refused upstream: the proxies can only succeed with their credentials.
      assert.equal((await fetch(`${upstream.url}/v2/${repo}/tags/list`)).status, 401);

      const archive = buildDockerArchive({
        repoTags: [refs.upstream],
        layers: [
          rootfsTar([{ path: 'etc/berth/nonce', content: `${run}\n` }, { path: 'srv/blob.bin', content: randomBytes(256 * 1024) }], 1_700_000_000),
          rootfsTar([{ path: 'opt/app/run.sh', content: `#!/bin/sh\necho ${run}\n`, mode: 0o755 }], 1_700_000_100),
        ],
        containerConfig: { Cmd: ['/opt/app/run.sh'], Labels: { 'org.berth.e2e': 'proxy' } },
      });
      const file = join(work, 'image.tar');
      await writeFile(file, archive.tar);
      const d = docker;
      await step(async () => {
        assert.deepEqual(await d.load(file), [refs.upstream]);
        await d.tag(refs.upstream, refs.upstreamLibrary);
        await d.login(upstream?.host ?? '', USER, PASSWORD);
        const pushed = await d.push(refs.upstream);
        const again = await d.push(refs.upstreamLibrary);
        assert.equal(again.digest, pushed.digest, 'the same image pushed under library/ has the same digest');
        expected = { imageId: archive.imageId, digest: pushed.digest, layers: archive.diffIds };
        assert.deepEqual(await d.layerDiffIds(refs.upstream), archive.diffIds);
        assert.deepEqual(await d.repoDigests(refs.upstream), [`${upstream?.host ?? ''}/library/${official}@${pushed.digest}`, `${upstream?.host ?? ''}/${repo}@${pushed.digest}`].sort());
        await d.rmi([refs.upstream, refs.upstreamLibrary]);
        assert.equal(await d.hasImage(archive.imageId), false, 'the loaded image is gone locally');
      });
    },
    { timeout: 60_000 },
  );

  after(async () => {
    if (docker !== undefined) {
      await docker.rmi(Object.values(refs).filter((r) => r !== ''), { ignoreMissing: true }).catch(() => undefined);
      if (upstream !== undefined) await docker.logout(upstream.host).catch(() => undefined);
      await docker.dispose();
    }
    for (const p of [prefixProxy, mirror]) {
      if (p === undefined) continue;
      assert.ok(!p.output().includes(PASSWORD), 'the upstream password reached a proxy log');
      await p.stop();
    }
    if (!upstreamStopped) await upstream?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  test('docker pull <proxy>/up/<name>: cold, then warm after docker rmi, the upstream image', async () => {
    await step(async () => {
      await pullAndCheck(refs.prefix);
      assert.match(prefixProxy?.output() ?? '', /proxy: blob cached/, 'the cold pull fetched blobs from the upstream');
      const grants = proxyTokenGrants(repo);
      assert.ok(grants.length > 0, 'the proxy got no token for the pull scope from the upstream');
      assert.ok(grants.every((url) => url.includes(`account=${USER}`)), `token requests without the credentials: ${grants.join(', ')}`);
      await pullAndCheck(refs.prefix);
    });
  });

  test('distribution-style mirror (proxy.remoteurl): docker pull <mirror>/library/<name>', async () => {
    await step(async () => {
      await pullAndCheck(refs.mirror);
      assert.ok(proxyTokenGrants(`library/${official}`).length > 0, 'the mirror got no token from the upstream for the library/ name');
      await pullAndCheck(refs.mirror);
    });
  });

  test('with the upstream stopped and the TTL past, both proxies serve the cached image', async () => {
    await step(async () => {
      assert.ok(upstream !== undefined);
      await upstream.stop();
      upstreamStopped = true;
      await new Promise((r) => setTimeout(r, TTL_MS + 300));
      await pullAndCheck(refs.prefix);
      await pullAndCheck(refs.mirror);
      for (const p of [prefixProxy, mirror]) {
        assert.match(p?.output() ?? '', /upstream unavailable, serving the cached tag/);
      }
    });
  });
});
