/**
 * End-to-end: a real Docker engine (the test run's own, from test/setup/20-docker-engine.sh,
 * named by BERTH_DOCKER_HOST) against a real Berth process over plain HTTP on loopback, in
 * token-server mode and in Basic mode: `docker login 127.0.0.1:<port>` with alice's password
 * (password on stdin) succeeds and a wrong password fails (login really checks: `/v2/` answers
 * 401 to anonymous callers); after the login docker pushes an image and pulls it back with the
 * same image ID and digest (in token mode its token requests use the identity token the login
 * stored: POST grant_type=refresh_token). bob, logged in, is denied a push to private/** but may
 * push to ci/**. After `docker logout`, in token mode an anonymous pull of public/** works and one
 * of private/** fails; in Basic mode docker cannot pull anonymously at all ("no basic auth
 * credentials": docker answers a Basic challenge only with stored credentials).
 *
 * The docker CLI runs with a private DOCKER_CONFIG (test/helpers/docker-cli.ts). Without
 * BERTH_DOCKER_HOST the suite is skipped, except under CI=true where that is a failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { authConfig, makeUsers, writeHtpasswd, type AuthTestMode } from '../helpers/auth-e2e.js';
import { rootfsTar } from '../helpers/docker-archive.js';
import { DockerCli, DockerCommandError, dockerEngineForSuite } from '../helpers/docker-cli.js';

const { dockerHost, skipReason } = dockerEngineForSuite('docker engine (auth)', test);
const { alice, bob } = makeUsers();
/** docker's words for a refusal; without stored credentials a Basic challenge gives "no basic auth credentials". */
const REFUSED = /denied|unauthorized|authentication required|insufficient_scope|no basic auth credentials/i;

for (const mode of ['token', 'basic'] as const satisfies readonly AuthTestMode[]) {
describe(`docker engine: login, push and pull with Berth ${mode === 'token' ? 'token-server' : 'Basic'} auth`, { skip: skipReason, timeout: 120_000 }, () => {
  let berth: BerthProcess | undefined;
  let docker: DockerCli | undefined;
  let work = '';
  let host = '';
  const run = randomBytes(4).toString('hex');
  const refs = { private: '', ci: '', bobPrivate: '', public: '' };
  let imageId = '';

  function cli(): DockerCli {
    assert.ok(docker !== undefined, 'the docker client was not set up (see the before hook)');
    return docker;
  }

  /** Runs a step; on failure Berth's recent output is added to the error. */
  async function step(body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      if (berth !== undefined && err instanceof Error) err.message += `\n--- berth output (tail)\n${berth.output().slice(-4000)}`;
      throw err;
    }
  }

  async function refused(promise: Promise<unknown>, pattern: RegExp = REFUSED): Promise<string> {
    try {
      await promise;
    } catch (err) {
      assert.ok(err instanceof DockerCommandError, String(err));
      assert.match(`${err.stdout}\n${err.stderr}`, pattern, err.message);
      return err.stderr;
    }
    assert.fail('the docker command should have failed');
  }

  before(
    async () => {
      assert.ok(dockerHost !== undefined, 'unreachable: the suite is skipped without BERTH_DOCKER_HOST');
      work = await mkdtemp(join(tmpdir(), 'berth-e2e-auth-docker-'));
      berth = await startBerth({ config: authConfig(mode, await writeHtpasswd(work, [alice, bob])) });
      host = berth.host;
      docker = await DockerCli.create(dockerHost);
      refs.private = `${host}/private/app-${run}:1`;
      refs.ci = `${host}/ci/app-${run}:1`;
      refs.bobPrivate = `${host}/private/bob-${run}:1`;
      refs.public = `${host}/public/app-${run}:1`;
      const tar = join(work, 'rootfs.tar');
      await writeFile(
        tar,
        rootfsTar(
          [
            { path: 'etc/berth/nonce', content: `${run}\n` },
            { path: 'README', content: 'auth e2e\n' },
          ],
          1_700_000_000,
        ),
      );
      imageId = await docker.importTar(tar, refs.private, ['LABEL org.berth.e2e=auth']);
      for (const ref of [refs.ci, refs.bobPrivate, refs.public]) await docker.tag(refs.private, ref);
    },
    { timeout: 60_000 },
  );

  after(async () => {
    if (docker !== undefined) {
      await docker.rmi(Object.values(refs).filter((r) => r !== ''), { ignoreMissing: true }).catch(() => undefined);
      await docker.logout(host).catch(() => undefined);
      await docker.dispose();
    }
    await berth?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  test('docker login with a wrong password fails', async () => {
    await step(async () => {
      await refused(cli().login(host, alice.name, 'not-the-password'), /unauthorized|invalid username or password|incorrect/i);
      await refused(cli().login(host, 'mallory', alice.password), /unauthorized|invalid username or password|incorrect/i);
    });
  });

  test('docker push without logging in is refused', async () => {
    await step(async () => {
      await refused(cli().push(refs.private));
    });
  });

  test("docker login with alice's password, then push and pull back the same image", async () => {
    await step(async () => {
      const d = cli();
      const login = await d.login(host, alice.name, alice.password);
      assert.match(login.stdout, /Login Succeeded/);
      if (mode === 'token') {
        // The token server handed docker a refresh token at login: the CLI keeps it as identity
        // token instead of the password, and later token requests POST grant_type=refresh_token.
        const stored = JSON.parse(await readFile(join(d.configDir, 'config.json'), 'utf8')) as { auths?: Record<string, { auth?: string; identitytoken?: string }> };
        const entry = stored.auths?.[host];
        assert.equal(typeof entry?.identitytoken, 'string', `identity token stored for ${host}: ${JSON.stringify(Object.keys(entry ?? {}))}`);
        assert.ok(!Buffer.from(entry?.auth ?? '', 'base64').toString().includes(alice.password), 'the password is not stored');
      }
      const pushed = await d.push(refs.private);
      const publicPush = await d.push(refs.public);
      assert.equal(publicPush.digest, pushed.digest);
      // Every name goes, so the pull really downloads the layers.
      await d.rmi([refs.private, refs.ci, refs.bobPrivate, refs.public]);
      assert.equal(await d.hasImage(imageId), false, 'the image is gone locally before the pull');
      const pulled = await d.pull(refs.private);
      assert.equal(pulled.digest, pushed.digest, 'pull reports the pushed digest');
      assert.equal(await d.imageId(refs.private), imageId, 'same image ID after the round trip');
      assert.ok((await d.repoDigests(refs.private)).includes(`${host}/private/app-${run}@${pushed.digest}`));
      for (const ref of [refs.ci, refs.bobPrivate, refs.public]) await d.tag(refs.private, ref);
    });
  });

  test('bob, logged in, may push to ci/** but is denied on private/**', async () => {
    await step(async () => {
      const d = cli();
      await d.login(host, bob.name, bob.password);
      await d.push(refs.ci);
      await refused(d.push(refs.bobPrivate));
      await refused(d.pull(refs.private));
    });
  });

  test(`after docker logout: anonymous pull of public/** ${mode === 'token' ? 'works' : 'is impossible with docker in Basic mode'}, of private/** fails`, async () => {
    await step(async () => {
      const d = cli();
      await d.logout(host);
      await d.rmi([refs.public, refs.private, refs.ci, refs.bobPrivate], { ignoreMissing: true });
      assert.equal(await d.hasImage(imageId), false, 'the image is gone locally before the anonymous pull');
      if (mode === 'basic') {
        // docker answers a Basic challenge only with stored credentials (auth.md §1): anonymous
        // pulls need the token server (anonymous tokens), which the token-mode suite shows.
        await refused(d.pull(refs.public), /no basic auth credentials/);
        await refused(d.pull(refs.private), /no basic auth credentials/);
        return;
      }
      await d.pull(refs.public);
      assert.equal(await d.imageId(refs.public), imageId);
      await refused(d.pull(refs.private));
    });
  });
});
}
