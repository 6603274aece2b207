/**
 * End to end: docker/Dockerfile, for real. No base image can be pulled here, so
 * test/setup/40-docker-base-image.sh makes one offline (debootstrap minbase of Debian bookworm plus
 * this machine's Node.js, imported as berth-test-base:latest, announced in BERTH_TEST_BASE_IMAGE)
 * and the user-facing Dockerfile is built unchanged from it with
 * `--build-arg BASE_IMAGE=berth-test-base:latest`, by the test run's own engine (BERTH_DOCKER_HOST).
 * `npm ci` in the build stage reaches the npm registry through the host network
 * (`--network host`; the engine runs with --bridge=none) with the machine's npm configuration,
 * which the base image carries.
 *
 * The engine stores layers with vfs, where the classic builder copies the whole root filesystem
 * for every instruction (about 20 s each here), so the image is built with BuildKit
 * (DOCKER_BUILDKIT=1), which only snapshots RUN and COPY steps.
 *
 * Then: the image's metadata (non-root user, volume, port, health check, entry point); a
 * container on 127.0.0.1 only (host network) that answers GET /v2/ and /healthz and becomes
 * healthy; a small image pushed into it and pulled back; Berth's own image pushed into it, then
 * (the container stopped, the image removed) pulled back from a Berth process serving the same
 * data directory, and run again.
 *
 * Without BERTH_DOCKER_HOST and BERTH_TEST_BASE_IMAGE the suite is skipped, except under CI=true
 * where that is a failure.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createServer } from 'node:net';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { DockerCli, DockerCommandError, dockerBinaryFromEnv, dockerHostFromEnv } from '../helpers/docker-cli.js';
import { rootfsTar } from '../helpers/docker-archive.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const DOCKERFILE = join(ROOT, 'docker', 'Dockerfile');
/** What the build context needs (the rest of the repository is not sent to the engine). */
const CONTEXT_ENTRIES = ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'storage-drivers', 'docker'];
const BERTH_UID = 10001;

const dockerHost = dockerHostFromEnv();
const baseImage = process.env['BERTH_TEST_BASE_IMAGE'];
const inCi = process.env['CI'] === 'true';
const missing = dockerHost === undefined ? 'BERTH_DOCKER_HOST' : baseImage === undefined || baseImage === '' ? 'BERTH_TEST_BASE_IMAGE' : undefined;
const skipReason =
  missing === undefined
    ? false
    : inCi
      ? `${missing} is not set (reported as a failure by the test above)`
      : `${missing} is not set: test/setup/20-docker-engine.sh and 40-docker-base-image.sh provide them; run the tests through test/run.sh`;

if (missing !== undefined && inCi) {
  test('dockerfile: a test Docker engine and base image are available in CI', () => {
    assert.fail(`CI=true but ${missing} is not set`);
  });
}

/** `docker build` with BuildKit (the helper's run() does not pass extra environment). */
function buildImage(context: string, tag: string, logFile: string): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_BUILDKIT: '1', DOCKER_CLI_HINTS: 'false', BUILDKIT_PROGRESS: 'plain' };
  delete env['DOCKER_HOST'];
  delete env['DOCKER_CONTEXT'];
  const args = [
    '-H',
    dockerHost ?? '',
    'build',
    '--progress',
    'plain',
    '--network',
    'host',
    '-f',
    join(context, 'docker', 'Dockerfile'),
    '--build-arg',
    `BASE_IMAGE=${baseImage ?? ''}`,
    '-t',
    tag,
    context,
  ];
  return new Promise((resolvePromise, reject) => {
    execFile(dockerBinaryFromEnv(), args, { env, timeout: 300_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      void writeFile(logFile, `${stdout}\n${stderr}`).finally(() => {
        if (error === null) resolvePromise();
        else reject(new Error(`docker build failed (${error.code ?? error.signal ?? '?'}):\n${stderr.split('\n').slice(-60).join('\n')}`));
      });
    });
  });
}

/**
 * A free loopback port below Linux's ephemeral range (32768-60999): the container binds it a minute
 * after it was picked, and a port from listen(0) could meanwhile be handed to another test's
 * ephemeral server.
 */
async function pickPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolveFree) => {
      const srv = createServer();
      srv.once('error', () => resolveFree(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolveFree(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function getJson(url: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

interface ImageConfig {
  readonly User?: string;
  readonly ExposedPorts?: Record<string, unknown>;
  readonly Volumes?: Record<string, unknown>;
  readonly Env?: string[];
  readonly Entrypoint?: string[];
  readonly Cmd?: string[];
  readonly WorkingDir?: string;
  readonly Healthcheck?: { readonly Test?: string[] };
}

describe('docker/Dockerfile: build, run, push and pull Berth as a container', { skip: skipReason, timeout: 420_000 }, () => {
  const run = randomBytes(4).toString('hex');
  const tag = `berth-e2e-${run}:test`;
  let docker: DockerCli | undefined;
  let workDir = '';
  let dataDir = '';
  let port = 0;
  let url = '';
  let container = '';
  let imageId = '';
  let pushedRef = '';
  let hostBerth: BerthProcess | undefined;
  const containers: string[] = [];
  const images: string[] = [];

  const cli = (): DockerCli => {
    assert.ok(docker !== undefined, 'docker CLI not set up');
    return docker;
  };

  before(async () => {
    docker = await DockerCli.create(dockerHost ?? '');
    workDir = await mkdtemp(join(tmpdir(), 'berth-dockerfile-e2e-'));
    dataDir = join(workDir, 'data');
    await mkdir(dataDir);
    await chown(dataDir, BERTH_UID, BERTH_UID);
    port = await pickPort();
    url = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    if (docker !== undefined) {
      for (const c of containers) await docker.removeContainer(c).catch(() => undefined);
      await docker.rmi(images, { ignoreMissing: true }).catch(() => undefined);
      await docker.dispose();
    }
    await hostBerth?.stop();
    if (workDir !== '') await rm(workDir, { recursive: true, force: true });
  });

  test('the Dockerfile is the standard one: base image ARG, two stages, npm ci and build, non-root, volume, port, health check', async () => {
    const text = await readFile(DOCKERFILE, 'utf8');
    assert.match(text, /^ARG BASE_IMAGE=node:20-bookworm-slim$/m);
    assert.equal(text.match(/^FROM \$\{BASE_IMAGE\} AS \w+$/gm)?.length, 2);
    assert.match(text, /^RUN npm ci\b/m);
    assert.match(text, /npm run build/);
    assert.match(text, /npm prune --omit=dev/);
    assert.match(text, /^USER berth:berth$/m);
    assert.match(text, /^VOLUME \/var\/lib\/berth$/m);
    assert.match(text, /^EXPOSE 5000$/m);
    assert.match(text, /^HEALTHCHECK .*\n?.*fetch\(process\.env\.BERTH_HEALTHCHECK_URL/m);
    assert.doesNotMatch(text, /curl|wget/);
    assert.match(text, /\/etc\/berth\/config\.yml/);
  });

  test('docker build --build-arg BASE_IMAGE=<offline base> gives an image with the expected metadata', async (t) => {
    const context = join(workDir, 'context');
    await mkdir(context);
    for (const entry of CONTEXT_ENTRIES) await cp(join(ROOT, entry), join(context, entry), { recursive: true });
    const started = Date.now();
    await buildImage(context, tag, join(workDir, 'build.log'));
    images.push(tag);
    t.diagnostic(`built ${tag} from ${baseImage ?? '?'} in ${Math.round((Date.now() - started) / 1000)} s`);
    imageId = await cli().imageId(tag);
    const { stdout } = await cli().run(['image', 'inspect', '--format', '{{json .Config}}', tag]);
    const config = JSON.parse(stdout) as ImageConfig;
    assert.equal(config.User, 'berth:berth');
    assert.deepEqual(Object.keys(config.ExposedPorts ?? {}), ['5000/tcp']);
    assert.deepEqual(Object.keys(config.Volumes ?? {}), ['/var/lib/berth']);
    assert.deepEqual(config.Entrypoint, ['node', '--max-semi-space-size=8', '/app/dist/src/cli/main.js']);
    assert.deepEqual(config.Cmd, ['serve', '/etc/berth/config.yml']);
    assert.ok(config.Env?.includes('NODE_ENV=production'));
    assert.equal(config.Healthcheck?.Test?.[0], 'CMD');
    assert.equal(config.Healthcheck?.Test?.[1], 'node');
  });

  test('the container serves GET /v2/ and /healthz on 127.0.0.1, becomes healthy, runs as berth, production deps only', async () => {
    assert.ok(imageId !== '', 'the build step did not complete');
    container = `berth-e2e-${run}`;
    const { stdout } = await cli().run([
      'run',
      '-d',
      '--name',
      container,
      '--network',
      'host',
      '-e',
      `REGISTRY_HTTP_ADDR=127.0.0.1:${port}`,
      '-e',
      `BERTH_HEALTHCHECK_URL=${url}/healthz`,
      '-e',
      'REGISTRY_LOG_LEVEL=warn',
      '--health-interval',
      '1s',
      '--health-start-period',
      '1s',
      '-v',
      `${dataDir}:/var/lib/berth`,
      tag,
    ]);
    containers.push(container);
    assert.match(stdout.trim(), /^[0-9a-f]{64}$/);
    const v2 = await waitFor('GET /v2/', 60_000, async () => {
      const r = await getJson(`${url}/v2/`);
      return r.status === 200 ? r : undefined;
    });
    assert.deepEqual(v2.body, {});
    // The image's own config (docker/config.filesystem.yml) adds this header: it is our container.
    assert.equal(v2.headers.get('x-content-type-options'), 'nosniff');
    // Retried like the first probe: a kept-alive socket may be closed under a request (fetch failed).
    const health = await waitFor('GET /healthz', 30_000, async () => {
      const r = await getJson(`${url}/healthz`);
      return r.status === 200 ? r : undefined;
    });
    assert.equal((health.body as { status?: unknown }).status, 'ok');
    await waitFor('the container to be healthy', 60_000, async () => {
      const { stdout: state } = await cli().run(['inspect', '--format', '{{.State.Health.Status}}', container]);
      if (state.trim() === 'unhealthy') throw new Error('container is unhealthy');
      return state.trim() === 'healthy' ? true : undefined;
    });
    const { stdout: ids } = await cli().run(['exec', container, 'node', '-e', 'process.stdout.write(`${process.getuid()}:${process.getgid()}`)']);
    assert.equal(ids, `${BERTH_UID}:${BERTH_UID}`);
    await cli().run(['exec', container, 'node', '-e', "require('fs').accessSync('/app/node_modules/express'); require('fs').accessSync('/etc/berth/config.yml')"]);
    await assert.rejects(
      cli().run(['exec', container, 'node', '-e', "require('fs').accessSync('/app/node_modules/typescript')"]),
      DockerCommandError,
      'devDependencies are not in the runtime image',
    );
  });

  test('an image pushed into the containerised Berth is pulled back intact', async () => {
    assert.ok(container !== '', 'the run step did not complete');
    const d = cli();
    const small = `127.0.0.1:${port}/e2e/small:${run}`;
    const file = join(workDir, 'small.tar');
    await writeFile(file, rootfsTar([{ path: 'etc/berth-e2e', content: `${run}\n` }], 1_700_000_000));
    const id = await d.importTar(file, small, ['CMD ["/bin/true"]']);
    images.push(small);
    const pushed = await d.push(small);
    await d.rmi([small]);
    const pulled = await d.pull(small);
    assert.equal(pulled.digest, pushed.digest);
    assert.equal(await d.imageId(small), id);
  });

  test('Berth’s own image: pushed into the running Berth, pulled back after removal, and it runs', async () => {
    assert.ok(container !== '', 'the run step did not complete');
    const d = cli();
    pushedRef = `127.0.0.1:${port}/berth/berth:${run}`;
    await d.tag(tag, pushedRef);
    images.push(pushedRef);
    const pushed = await d.push(pushedRef);
    const translated = await getJson(`${url}/smartos/v1/images/berth/berth:${run}`);
    assert.equal(translated.status, 200, JSON.stringify(translated.body));
    assert.match(String((translated.body as { uuid?: unknown }).uuid), /^[0-9a-f-]{36}$/);
    // Stop the container and forget the image, then pull it from a Berth serving the same data.
    await d.run(['stop', '--time', '10', container]);
    await d.removeContainer(container);
    await d.rmi([pushedRef, tag]);
    assert.equal(await d.hasImage(imageId), false, 'the image is gone from the engine');
    hostBerth = await startBerth({ rootDir: dataDir, port });
    const pulled = await d.pull(pushedRef);
    assert.equal(pulled.digest, pushed.digest);
    assert.equal(await d.imageId(pushedRef), imageId, 'same image ID after the round trip');
    await hostBerth.stop();
    hostBerth = undefined;
    // The pulled image runs: a second container on the same data answers again.
    const again = `berth-e2e-${run}-pulled`;
    await d.run(['run', '-d', '--name', again, '--network', 'host', '-e', `REGISTRY_HTTP_ADDR=127.0.0.1:${port}`, '-v', `${dataDir}:/var/lib/berth`, pushedRef]);
    containers.push(again);
    const health = await waitFor('the pulled image to serve /healthz', 60_000, async () => {
      const r = await getJson(`${url}/healthz`);
      return r.status === 200 ? r : undefined;
    });
    assert.equal((health.body as { status?: unknown }).status, 'ok');
    assert.equal(health.headers.get('x-content-type-options'), 'nosniff', 'answered by the container');
    const tags = await getJson(`${url}/v2/berth/berth/tags/list`);
    assert.deepEqual((tags.body as { tags?: unknown }).tags, [run]);
  });
});
