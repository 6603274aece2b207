/**
 * End-to-end with the real Docker engine (BERTH_DOCKER_HOST, the test run's own engine): an archive
 * written by the engine's own `docker save` is loaded with `berth import` into a Berth storage,
 * and `docker pull` from a Berth process serving that storage gives back the same image ID and
 * layers; `berth export` (run while the server runs) is loaded by `docker load` and the image runs
 * (its binary is this machine's statically linked /sbin/ldconfig; without one, the check stops at
 * `docker image inspect`); an image pushed with gzip layers is exported as a docker archive and
 * `docker load` accepts it with the right diff_ids.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BERTH_CLI, startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { buildDockerArchive, rootfsTar, type DockerArchive } from '../helpers/docker-archive.js';
import { DockerCli, dockerHostFromEnv } from '../helpers/docker-cli.js';
import { buildImage, pushImageOverHttp } from '../helpers/oci-image.js';

const dockerHost = dockerHostFromEnv();
const inCi = process.env['CI'] === 'true';
const skip = dockerHost !== undefined ? false : inCi ? 'no test Docker engine (docker-engine.test.ts reports it)' : 'BERTH_DOCKER_HOST is not set (run through test/run.sh)';

/** /sbin/ldconfig when it is statically linked (Debian's is): a binary a one-file image can run. */
function staticBinary(): Buffer | undefined {
  if (!existsSync('/sbin/ldconfig')) return undefined;
  const check = spawnSync('file', ['-L', '/sbin/ldconfig'], { encoding: 'utf8' });
  if (check.status !== 0 || !/static(-pie)? linked/.test(check.stdout)) return undefined;
  return readFileSync('/sbin/ldconfig');
}

function berthCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BERTH_CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('docker engine: docker save → berth import → docker pull; berth export → docker load → run', { skip, timeout: 240_000 }, () => {
  let docker: DockerCli | undefined;
  let berth: BerthProcess | undefined;
  let work = '';
  let config = '';
  let archive: DockerArchive | undefined;
  const nonce = randomBytes(4).toString('hex');
  const local = `e2e/archive-${nonce}:1`;
  const binary = staticBinary();

  function cli(): DockerCli {
    assert.ok(docker);
    return docker;
  }

  before(async () => {
    assert.ok(dockerHost !== undefined);
    docker = await DockerCli.create(dockerHost);
    work = await mkdtemp(join(tmpdir(), 'berth-archive-docker-'));
    const rootDir = join(work, 'storage');
    await mkdir(rootDir, { recursive: true });
    config = join(work, 'config.yml');
    await writeFile(config, `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${rootDir} } }\n`);
    berth = await startBerth({ rootDir });
  });

  after(async () => {
    if (docker !== undefined) {
      const refs = [local, `${berth?.host ?? ''}/${local}`, `e2e/gz-${nonce}:1`];
      await docker.rmi(refs, { ignoreMissing: true }).catch(() => undefined);
      await docker.dispose();
    }
    if (berth !== undefined) await berth.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  test('an archive written by docker save is imported and pulled back identical', async () => {
    const d = cli();
    const files = binary !== undefined
      ? [{ path: 'sbin/ldconfig', content: binary, mode: 0o755 }]
      : [{ path: 'etc/motd', content: 'no static binary here\n' }];
    const lower = rootfsTar(files, 1_700_000_000);
    const upper = rootfsTar([{ path: 'etc/berth-nonce', content: `${nonce}\n` }], 1_700_000_100);
    archive = buildDockerArchive({ repoTags: [local], layers: [lower, upper], containerConfig: { Cmd: ['/sbin/ldconfig', '--version'] } });
    const built = join(work, 'built.tar');
    await writeFile(built, archive.tar);
    await d.load(built);
    const saved = join(work, 'saved.tar');
    await d.run(['save', '-o', saved, local]);

    const imported = berthCli(['import', saved, config]);
    assert.equal(imported.status, 0, imported.stderr);
    const remote = `${berth?.host ?? ''}/${local}`;
    await d.rmi([local]);
    const pulled = await d.pull(remote);
    assert.match(imported.stdout, new RegExp(`${local} ${pulled.digest}`));
    assert.equal(await d.imageId(remote), archive.imageId);
    assert.deepEqual(await d.layerDiffIds(remote), archive.diffIds);
    await d.rmi([remote]);
  });

  test('berth export (server running) is loaded by docker load and runs', async () => {
    const d = cli();
    assert.ok(archive, 'the import step did not run');
    const out = join(work, 'export.tar');
    const exported = berthCli(['export', local, '-o', out, config]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.equal(await d.hasImage(local), false);
    assert.deepEqual(await d.load(out), [local]);
    assert.equal(await d.imageId(local), archive.imageId);
    if (binary !== undefined) {
      const ran = await d.run(['run', '--rm', '--network', 'none', local]);
      assert.match(ran.stdout, /ldconfig/);
    }
  });

  test('an image pushed with gzip layers exports as a docker archive docker load accepts', async () => {
    const d = cli();
    const image = buildImage({ format: 'docker', layers: 2 });
    await pushImageOverHttp(berth?.url ?? '', `e2e/gz-${nonce}`, '1', image);
    const out = join(work, 'gz.tar');
    const exported = berthCli(['export', `e2e/gz-${nonce}:1`, '-o', out, '--quiet', config]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.equal(exported.stderr, '');
    assert.deepEqual(await d.load(out), [`e2e/gz-${nonce}:1`]);
    assert.equal(await d.imageId(`e2e/gz-${nonce}:1`), image.config.digest);
    assert.deepEqual(await d.layerDiffIds(`e2e/gz-${nonce}:1`), image.configJson.rootfs.diff_ids);
  });
});
