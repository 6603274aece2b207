/**
 * End-to-end: a real Docker engine (the test run's own, from test/setup/20-docker-engine.sh, named
 * by BERTH_DOCKER_HOST) pushes to and pulls from a real Berth process over plain HTTP on loopback.
 * Images are made offline: one by `docker import` of a rootfs tar written here, one by `docker load`
 * of a docker-archive built in Node with two layers (the second adds files, overwrites one and
 * deletes one with a whiteout). Both are pushed, removed locally and pulled back, and must come back
 * with the same image ID and repo digest; the manifests Berth serves are checked byte for byte.
 * The loaded image is then pushed to a second repository (Docker mounts its layers across repos
 * instead of uploading them) and pulled from there.
 *
 * BERTH_E2E_REGISTRY_URL=http://127.0.0.1:PORT targets an already running registry instead of
 * starting Berth (e.g. the reference registry, to check the test itself). Without
 * BERTH_DOCKER_HOST the suite is skipped, except under CI=true where that is a failure.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import {
  buildDockerArchive,
  readTar,
  rootfsTar,
  sha256,
  whiteoutPath,
  type DockerArchive,
  type TarReadEntry,
} from '../helpers/docker-archive.js';
import { DockerCli, dockerEngineForSuite } from '../helpers/docker-cli.js';

const DOCKER_V2_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const { dockerHost, skipReason } = dockerEngineForSuite('docker engine', test);
const overrideUrl = process.env['BERTH_E2E_REGISTRY_URL'];
interface ManifestJson {
  readonly schemaVersion: number;
  readonly mediaType?: string;
  readonly config: { readonly digest: string; readonly mediaType: string; readonly size: number };
  readonly layers: readonly { readonly digest: string; readonly mediaType: string; readonly size: number }[];
}

function isManifestJson(value: unknown): value is ManifestJson {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['schemaVersion'] === 'number' && typeof v['config'] === 'object' && Array.isArray(v['layers']);
}

/** What a push left behind, to compare the pulled image against. */
interface Pushed {
  readonly ref: string;
  readonly imageId: string;
  readonly digest: string;
  readonly repoDigests: readonly string[];
  readonly layers: readonly string[];
}

const suiteOptions = { skip: skipReason, timeout: 170_000 };

describe('docker engine: import / load / push / pull against the registry', suiteOptions, () => {
  let berth: BerthProcess | undefined;
  let registryUrl = '';
  let registryHost = '';
  let docker: DockerCli | undefined;
  let workDir = '';
  const nonce = randomBytes(8).toString('hex');
  const refs = { imported: '', loaded: '', copy: '' };
  let archive: DockerArchive | undefined;
  const pushed = new Map<string, Pushed>();
  const blob = randomBytes(64 * 1024);

  function cli(): DockerCli {
    assert.ok(docker, 'the docker client was not set up (see the before hook)');
    return docker;
  }

  /** Runs a step; on failure the registry's recent output is added to the error. */
  async function step(body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      if (berth !== undefined && err instanceof Error) {
        err.message += `\n--- berth output (tail)\n${berth.output().slice(-4000)}`;
      }
      throw err;
    }
  }

  async function fetchManifest(repo: string, reference: string): Promise<{ digest: string; body: Buffer; json: ManifestJson }> {
    const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${reference}`, {
      headers: { accept: `${DOCKER_V2_MANIFEST}, ${OCI_MANIFEST}` },
      signal: AbortSignal.timeout(15_000),
    });
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, `GET manifest ${repo}:${reference}: ${res.status} ${body.toString()}`);
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    assert.ok(isManifestJson(parsed), `not an image manifest: ${body.toString()}`);
    return { digest: res.headers.get('docker-content-digest') ?? '', body, json: parsed };
  }

  async function blobStatus(repo: string, digest: string): Promise<number> {
    const res = await fetch(`${registryUrl}/v2/${repo}/blobs/${digest}`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(15_000),
    });
    return res.status;
  }

  /** Pushes `ref`, checks what the engine and the registry then say, and records it. */
  async function pushAndCheck(ref: string, repo: string, expectedLayers: number): Promise<Pushed> {
    const d = cli();
    const imageId = await d.imageId(ref);
    const layers = await d.layerDiffIds(ref);
    assert.equal(layers.length, expectedLayers, `${ref} has ${layers.length} layers`);
    const result = await d.push(ref);
    const repoDigests = await d.repoDigests(ref);
    assert.ok(
      repoDigests.includes(`${registryHost}/${repo}@${result.digest}`),
      `RepoDigests ${JSON.stringify(repoDigests)} lack ${registryHost}/${repo}@${result.digest}`,
    );
    const manifest = await fetchManifest(repo, '1');
    assert.equal(manifest.digest, result.digest, 'Docker-Content-Digest differs from the pushed digest');
    assert.equal(sha256(manifest.body), result.digest, 'served manifest bytes do not hash to the pushed digest');
    assert.equal(manifest.body.length, result.size, 'served manifest size differs from the pushed size');
    assert.equal(manifest.json.schemaVersion, 2);
    assert.equal(manifest.json.config.digest, imageId, 'the config blob is the image ID');
    assert.equal(manifest.json.layers.length, expectedLayers);
    for (const layer of manifest.json.layers) {
      assert.equal(await blobStatus(repo, layer.digest), 200, `layer ${layer.digest} missing in ${repo}`);
    }
    assert.equal(await blobStatus(repo, imageId), 200, `config ${imageId} missing in ${repo}`);
    const record: Pushed = { ref, imageId, digest: result.digest, repoDigests, layers };
    pushed.set(ref, record);
    return record;
  }

  /** The image is gone locally, then pulled back identical to what was pushed. */
  async function pullAndCheck(ref: string, expected: Pushed): Promise<void> {
    const d = cli();
    assert.equal(await d.hasImage(ref), false, `${ref} is still present before the pull`);
    assert.equal(await d.hasImage(expected.imageId), false, `${expected.imageId} is still present before the pull`);
    const pulled = await d.pull(ref);
    assert.equal(pulled.digest, expected.digest, `pull of ${ref} reported another digest`);
    assert.equal(await d.imageId(ref), expected.imageId, `pulled ${ref} has another image ID`);
    assert.deepEqual(await d.layerDiffIds(ref), expected.layers, `pulled ${ref} has other layers`);
    const repo = ref.slice(registryHost.length + 1, ref.lastIndexOf(':'));
    assert.ok(
      (await d.repoDigests(ref)).includes(`${registryHost}/${repo}@${expected.digest}`),
      `pulled ${ref} lacks repo digest ${expected.digest}`,
    );
  }

  /** The image's filesystem as a container sees it (`docker create` + `docker export`, never run). */
  async function filesOf(ref: string): Promise<Map<string, TarReadEntry>> {
    const d = cli();
    const id = await d.createContainer(ref);
    try {
      const file = join(workDir, `export-${id.slice(0, 12)}.tar`);
      await d.exportContainer(id, file);
      const files = readTar(await readFile(file));
      await rm(file, { force: true });
      return files;
    } finally {
      await d.removeContainer(id);
    }
  }

  function text(files: Map<string, TarReadEntry>, path: string): string {
    const entry = files.get(path);
    assert.ok(entry, `${path} is missing from the image`);
    return entry.data.toString('utf8');
  }

  before(
    async () => {
      assert.ok(dockerHost !== undefined, 'unreachable: the suite is skipped without BERTH_DOCKER_HOST');
      docker = await DockerCli.create(dockerHost);
      const version = await docker.serverVersion();
      assert.match(version, /^\d+\./, `unexpected engine version ${version}`);
      const insecure = await docker.insecureRegistryCidrs();
      assert.ok(insecure.includes('127.0.0.0/8'), `engine does not treat loopback as insecure: ${insecure.join(',')}`);

      workDir = await mkdtemp(join(tmpdir(), 'berth-docker-e2e-'));
      if (overrideUrl !== undefined && overrideUrl !== '') {
        registryUrl = overrideUrl.replace(/\/+$/, '');
      } else {
        // Berth's storage (and the config file written beside it) live in workDir, removed after.
        const rootDir = join(workDir, 'berth', 'storage');
        await mkdir(rootDir, { recursive: true });
        berth = await startBerth({ rootDir });
        registryUrl = berth.url;
      }
      registryHost = new URL(registryUrl).host;
      const ping = await fetch(`${registryUrl}/v2/`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(ping.status, 200, `GET /v2/ on ${registryUrl}: ${ping.status}`);

      refs.imported = `${registryHost}/e2e/imported:1`;
      refs.loaded = `${registryHost}/e2e/loaded:1`;
      refs.copy = `${registryHost}/e2e/loaded-copy:1`;
      await docker.rmi(Object.values(refs), { ignoreMissing: true });
    },
    { timeout: 60_000 },
  );

  after(async () => {
    if (docker !== undefined) {
      await docker.rmi(Object.values(refs).filter((r) => r !== ''), { ignoreMissing: true }).catch(() => undefined);
      await docker.dispose();
    }
    if (berth !== undefined) await berth.stop();
    if (workDir !== '') await rm(workDir, { recursive: true, force: true });
  });

  test('docker import of a rootfs tar made here gives a one-layer image', async (t) => {
    t.diagnostic(`registry ${registryUrl} (${berth === undefined ? 'BERTH_E2E_REGISTRY_URL' : 'Berth, started here'})`);
    t.diagnostic(`engine ${cli().host} via ${cli().binary}`);
    const d = cli();
    const file = join(workDir, 'rootfs.tar');
    await writeFile(
      file,
      rootfsTar(
        [
          { path: 'etc/os-release', content: 'NAME="Berth e2e"\nID=berth-e2e\n' },
          { path: 'etc/berth/nonce', content: `${nonce}\n` },
          { path: 'usr/local/bin/hello', content: '#!/bin/sh\necho hello from berth\n', mode: 0o755 },
          { path: 'README', content: 'imported with docker import\n' },
        ],
        1_700_000_000,
      ),
    );
    const id = await d.importTar(file, refs.imported, ['CMD ["/usr/local/bin/hello"]', 'LABEL org.berth.e2e=imported']);
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await d.imageId(refs.imported), id);
    assert.equal((await d.layerDiffIds(refs.imported)).length, 1);
  });

  test('docker load of a two-layer docker-archive built in Node', async () => {
    const d = cli();
    const lower = rootfsTar(
      [
        { path: 'etc/motd', content: 'lower layer\n' },
        { path: 'etc/berth/nonce', content: `${nonce}\n` },
        { path: 'srv/data/keep.txt', content: 'kept\n' },
        { path: 'srv/data/drop.txt', content: 'deleted by the upper layer\n' },
        { path: 'srv/blob.bin', content: blob },
      ],
      1_700_000_000,
    );
    const upper = rootfsTar(
      [
        { path: 'etc/motd', content: 'upper layer wins\n' },
        { path: whiteoutPath('srv/data/drop.txt'), content: '' },
        { path: 'opt/app/run.sh', content: `#!/bin/sh\necho ${nonce}\n`, mode: 0o755 },
      ],
      1_700_000_100,
    );
    assert.notEqual(sha256(lower), sha256(upper));
    archive = buildDockerArchive({
      repoTags: [refs.loaded],
      layers: [lower, upper],
      containerConfig: { Cmd: ['/opt/app/run.sh'], Labels: { 'org.berth.e2e': 'loaded' } },
    });
    const file = join(workDir, 'image.tar');
    await writeFile(file, archive.tar);
    const loaded = await d.load(file);
    assert.deepEqual(loaded, [refs.loaded]);
    assert.equal(await d.imageId(refs.loaded), archive.imageId, 'image ID is the sha256 of the config we wrote');
    assert.deepEqual(await d.layerDiffIds(refs.loaded), archive.diffIds);
  });

  test('docker push of both images; the registry serves the pushed manifests', async () => {
    await step(async () => {
      await pushAndCheck(refs.imported, 'e2e/imported', 1);
      const loaded = await pushAndCheck(refs.loaded, 'e2e/loaded', 2);
      assert.equal(loaded.imageId, archive?.imageId);
    });
  });

  test('docker rmi, then docker pull gives back the same image IDs and repo digests', async () => {
    await step(async () => {
      const d = cli();
      const imported = pushed.get(refs.imported);
      const loaded = pushed.get(refs.loaded);
      assert.ok(imported && loaded, 'the push step did not complete');
      await d.rmi([refs.imported, refs.loaded]);
      await pullAndCheck(refs.imported, imported);
      await pullAndCheck(refs.loaded, loaded);
      const files = await filesOf(refs.imported);
      assert.equal(text(files, 'etc/berth/nonce'), `${nonce}\n`);
      assert.equal(text(files, 'usr/local/bin/hello'), '#!/bin/sh\necho hello from berth\n');
      assert.equal(files.get('usr/local/bin/hello')?.mode, 0o755);
    });
  });

  test('push to a second repository mounts the layers; pulling from there gives the same image', async () => {
    await step(async () => {
      const d = cli();
      const loaded = pushed.get(refs.loaded);
      assert.ok(loaded, 'the push step did not complete');
      await d.tag(refs.loaded, refs.copy);
      const result = await d.push(refs.copy);
      assert.equal(result.digest, loaded.digest, 'the same image pushed elsewhere has the same manifest digest');
      const mounted = [...result.output.matchAll(/: Mounted from e2e\/loaded$/gm)].length;
      assert.equal(mounted, 2, `expected both layers to be mounted from e2e/loaded:\n${result.output}`);
      const manifest = await fetchManifest('e2e/loaded-copy', '1');
      assert.equal(manifest.digest, loaded.digest);
      for (const layer of manifest.json.layers) {
        assert.equal(await blobStatus('e2e/loaded-copy', layer.digest), 200, `layer ${layer.digest} not in e2e/loaded-copy`);
      }
      await d.rmi([refs.loaded, refs.copy]);
      await pullAndCheck(refs.copy, { ...loaded, ref: refs.copy });
      // The layers came back intact and stacked: the upper one overwrote, added and deleted files.
      const files = await filesOf(refs.copy);
      assert.equal(text(files, 'etc/motd'), 'upper layer wins\n');
      assert.equal(text(files, 'srv/data/keep.txt'), 'kept\n');
      assert.equal(files.has('srv/data/drop.txt'), false, 'the whiteout in the upper layer was not applied');
      assert.ok(files.get('srv/blob.bin')?.data.equals(blob), 'srv/blob.bin differs');
      assert.equal(text(files, 'opt/app/run.sh'), `#!/bin/sh\necho ${nonce}\n`);
      assert.equal(files.get('opt/app/run.sh')?.mode, 0o755);
    });
  });
});
