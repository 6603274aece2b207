/**
 * End-to-end suite with a real client: skopeo (Debian's package, installed by
 * test/setup/10-skopeo.sh). Images are built offline (test/helpers/oci-image.ts) into an OCI
 * layout, pushed with `skopeo copy` as OCI and as Docker schema 2, pulled back into `oci:` and
 * `dir:`, and compared byte for byte; also `--all` for a two-platform index, `inspect`,
 * `list-tags`, `delete`, and a copy between two repositories of the same registry (blob mount).
 *
 * Target: a Berth process started with startBerth(), or, when BERTH_E2E_REGISTRY_URL is set
 * (e.g. http://127.0.0.1:5000), that already running registry.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth } from '../helpers/berth-process.js';
import {
  buildImage,
  buildMultiPlatform,
  MediaType,
  parseObject,
  readLayoutBlob,
  readLayoutRef,
  sha256Digest,
  writeOciLayout,
  type Blob,
  type BuiltImage,
  type BuiltIndex,
} from '../helpers/oci-image.js';

interface Target {
  readonly url: string;
  /** host:port, as written in image references. */
  readonly host: string;
  readonly logs: () => string;
  stop(): Promise<void>;
}

async function openTarget(): Promise<Target> {
  const override = process.env.BERTH_E2E_REGISTRY_URL;
  if (override !== undefined && override !== '') {
    const url = new URL(override);
    return { url: url.origin, host: url.host, logs: () => '(external registry)', stop: async () => {} };
  }
  const berth = await startBerth();
  return { url: berth.url, host: berth.host, logs: berth.output, stop: () => berth.stop() };
}

interface RunResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

const SKOPEO_TIMEOUT_MS = 45_000;

/** Runs skopeo (never through a shell) and resolves with its exit code and output. */
function runSkopeo(args: readonly string[], timeout = SKOPEO_TIMEOUT_MS): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    execFile(
      'skopeo',
      ['--insecure-policy', ...args],
      { timeout, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number' && error.killed !== true) {
          reject(error);
          return;
        }
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolveRun({ code, stdout, stderr: stderr.toString() });
      },
    );
  });
}

/** Runs skopeo and fails the test (with its stderr) unless it exits 0. */
async function skopeo(args: readonly string[], timeout?: number): Promise<RunResult> {
  const result = await runSkopeo(args, timeout);
  assert.equal(result.code, 0, `skopeo ${args.join(' ')} exited ${String(result.code)}:\n${result.stderr}`);
  return result;
}

let target: Target;
let work: string;
/** OCI layout holding the fixtures under the tags below. */
let layout: string;
let single: BuiltImage;
let labelled: BuiltImage;
let multi: BuiltIndex;
/** Unique per run, so a long-lived registry (BERTH_E2E_REGISTRY_URL) never sees stale repos. */
const run = randomBytes(4).toString('hex');

function repoName(suffix: string): string {
  return `e2e/skopeo-${run}/${suffix}`;
}

function docker(repo: string, ref: string): string {
  const sep = ref.startsWith('sha256:') ? '@' : ':';
  return `docker://${target.host}/${repo}${sep}${ref}`;
}

async function pushLayoutTag(tag: string, repo: string, ref: string, extra: readonly string[] = []): Promise<string> {
  const digestFile = join(work, `digest-${randomBytes(4).toString('hex')}`);
  await skopeo(['copy', '--dest-tls-verify=false', '--digestfile', digestFile, ...extra, `oci:${layout}:${tag}`, docker(repo, ref)]);
  return (await readFile(digestFile, 'utf8')).trim();
}

async function inspectRaw(ref: string, extra: readonly string[] = []): Promise<Buffer> {
  return (await skopeo(['inspect', '--raw', '--tls-verify=false', ...extra, ref])).stdout;
}

async function inspectJson(ref: string, extra: readonly string[] = []): Promise<Record<string, unknown>> {
  return parseObject((await skopeo(['inspect', '--tls-verify=false', ...extra, ref])).stdout);
}

/** The registry's own view of a manifest (HEAD with the given Accept). */
async function headManifest(repo: string, ref: string, accept: string): Promise<Response> {
  return fetch(`${target.url}/v2/${repo}/manifests/${ref}`, { method: 'HEAD', headers: { accept } });
}

async function assertLayoutHasBlobs(dir: string, blobs: readonly Blob[]): Promise<void> {
  for (const blob of blobs) {
    const copy = await readLayoutBlob(dir, blob.digest);
    assert.ok(copy.equals(blob.bytes), `blob ${blob.digest} (${blob.mediaType}) differs after the round trip`);
  }
}

async function assertDirHasBlobs(dir: string, blobs: readonly Blob[]): Promise<void> {
  for (const blob of blobs) {
    const copy = await readFile(join(dir, blob.digest.slice('sha256:'.length)));
    assert.ok(copy.equals(blob.bytes), `dir: blob ${blob.digest} differs after the round trip`);
  }
}

function stringArray(value: unknown): string[] {
  assert.ok(Array.isArray(value), `expected an array, got ${JSON.stringify(value)}`);
  return value.map((v) => {
    assert.equal(typeof v, 'string');
    return String(v);
  });
}

describe('skopeo end to end', { timeout: 115_000 }, () => {
  before(async () => {
    target = await openTarget();
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-skopeo-'));
    layout = join(work, 'layout');
    // One ~2 MiB layer (odd size, several TCP chunks) and one small one.
    single = buildImage({ layerSizes: [2 * 1024 * 1024 - 3, 96 * 1024] });
    labelled = buildImage({
      layers: 1,
      labels: { 'org.opencontainers.image.title': 'berth-e2e', maintainer: 'e2e@berth.test' },
      env: ['PATH=/usr/bin:/bin', 'BERTH_E2E=1'],
      cmd: ['/bin/echo', 'hello'],
      created: '2023-03-04T05:06:07Z',
    });
    multi = buildMultiPlatform();
    await writeOciLayout(layout, [...single.blobs, ...labelled.blobs, ...multi.blobs], [
      { tag: 'single', target: single.manifest },
      { tag: 'labelled', target: labelled.manifest },
      { tag: 'multi', target: multi.index },
    ]);
  });

  after(async () => {
    await target?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('pushes an OCI layout with --format oci and keeps the manifest byte for byte', { timeout: 30_000 }, async () => {
    const repo = repoName('oci');
    const pushed = await pushLayoutTag('single', repo, 'v1', ['--format', 'oci']);
    assert.equal(pushed, single.manifest.digest, 'skopeo --digestfile');

    const raw = await inspectRaw(docker(repo, 'v1'));
    assert.equal(sha256Digest(raw), pushed, 'sha256(inspect --raw) equals the pushed digest');
    assert.ok(raw.equals(single.manifest.bytes), 'manifest bytes unchanged');
    const config = (await skopeo(['inspect', '--config', '--raw', '--tls-verify=false', docker(repo, 'v1')])).stdout;
    assert.ok(config.equals(single.config.bytes), 'config blob bytes unchanged');

    const head = await headManifest(repo, 'v1', MediaType.ociManifest);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), pushed);
    assert.equal(head.headers.get('content-type'), MediaType.ociManifest);
    assert.equal(head.headers.get('content-length'), String(single.manifest.size));
  });

  it('pulls back into oci: and dir: with identical manifest and blobs', { timeout: 40_000 }, async () => {
    const repo = repoName('roundtrip');
    await pushLayoutTag('single', repo, 'v1', ['--format', 'oci']);

    const ociOut = join(work, 'pulled-oci');
    await skopeo(['copy', '--src-tls-verify=false', docker(repo, 'v1'), `oci:${ociOut}:back`]);
    const ref = await readLayoutRef(ociOut, 'back');
    assert.equal(ref.digest, single.manifest.digest);
    assert.equal(ref.mediaType, MediaType.ociManifest);
    await assertLayoutHasBlobs(ociOut, single.blobs);

    const dirOut = join(work, 'pulled-dir');
    await skopeo(['copy', '--src-tls-verify=false', docker(repo, 'v1'), `dir:${dirOut}`]);
    const manifest = await readFile(join(dirOut, 'manifest.json'));
    assert.ok(manifest.equals(single.manifest.bytes), 'dir: manifest.json is the pushed manifest');
    await assertDirHasBlobs(dirOut, [...single.layers, single.config]);

    const byDigest = await inspectRaw(docker(repo, single.manifest.digest));
    assert.ok(byDigest.equals(single.manifest.bytes), 'manifest by digest');
  });

  it('pushes with --format v2s2: converted manifest, same blobs, digests agree', { timeout: 40_000 }, async () => {
    const repo = repoName('v2s2');
    const pushed = await pushLayoutTag('single', repo, 'v1', ['--format', 'v2s2']);
    const raw = await inspectRaw(docker(repo, 'v1'));
    assert.equal(sha256Digest(raw), pushed, 'sha256(inspect --raw) equals the pushed digest');

    const manifest = parseObject(raw);
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, MediaType.dockerManifest);
    assert.deepEqual(manifest.config, {
      mediaType: MediaType.dockerConfig,
      size: single.config.size,
      digest: single.config.digest,
    });
    assert.deepEqual(
      manifest.layers,
      single.layers.map((l) => ({ mediaType: MediaType.dockerLayerGzip, size: l.size, digest: l.digest })),
    );

    const head = await headManifest(repo, 'v1', MediaType.dockerManifest);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), pushed);
    assert.equal(head.headers.get('content-type'), MediaType.dockerManifest);

    const dirOut = join(work, 'pulled-v2s2');
    await skopeo(['copy', '--src-tls-verify=false', docker(repo, 'v1'), `dir:${dirOut}`]);
    assert.ok((await readFile(join(dirOut, 'manifest.json'))).equals(raw), 'dir: manifest.json is the stored manifest');
    await assertDirHasBlobs(dirOut, [...single.layers, single.config]);
  });

  it('copies the two-platform index with --all, preserving the index digest', { timeout: 50_000 }, async () => {
    const repo = repoName('multi');
    const pushed = await pushLayoutTag('multi', repo, 'multi', ['--all']);
    assert.equal(pushed, multi.index.digest, 'index digest preserved');

    const raw = await inspectRaw(docker(repo, 'multi'));
    assert.ok(raw.equals(multi.index.bytes), 'index bytes unchanged');
    const head = await headManifest(repo, 'multi', MediaType.ociIndex);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), multi.index.digest);
    assert.equal(head.headers.get('content-type'), MediaType.ociIndex);

    for (const image of multi.images) {
      const child = await inspectRaw(docker(repo, image.manifest.digest));
      assert.ok(child.equals(image.manifest.bytes), `child ${image.platform.architecture} manifest bytes`);
      const info = await inspectJson(docker(repo, 'multi'), [
        '--override-os',
        image.platform.os,
        '--override-arch',
        image.platform.architecture,
        ...(image.platform.variant === undefined ? [] : ['--override-variant', image.platform.variant]),
      ]);
      assert.equal(info.Architecture, image.platform.architecture);
      assert.equal(info.Os, image.platform.os);
      assert.deepEqual(stringArray(info.Layers), image.layers.map((l) => l.digest));
    }

    const ociOut = join(work, 'pulled-multi');
    await skopeo(['copy', '--all', '--src-tls-verify=false', docker(repo, 'multi'), `oci:${ociOut}:multi`]);
    const ref = await readLayoutRef(ociOut, 'multi');
    assert.equal(ref.digest, multi.index.digest);
    await assertLayoutHasBlobs(ociOut, multi.blobs);
  });

  it('copies the index with --all --format v2s2 as a Docker manifest list', { timeout: 50_000 }, async () => {
    const repo = repoName('list');
    const pushed = await pushLayoutTag('multi', repo, 'list', ['--all', '--format', 'v2s2']);
    const raw = await inspectRaw(docker(repo, 'list'));
    assert.equal(sha256Digest(raw), pushed, 'sha256(inspect --raw) equals the pushed digest');
    const list = parseObject(raw);
    assert.equal(list.mediaType, MediaType.dockerList);
    const entries = list.manifests;
    assert.ok(Array.isArray(entries) && entries.length === multi.images.length, 'one entry per platform');
    const head = await headManifest(repo, 'list', MediaType.dockerList);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), pushed);
    assert.equal(head.headers.get('content-type'), MediaType.dockerList);

    for (const [i, image] of multi.images.entries()) {
      const entry = parseObject(JSON.stringify(entries[i]));
      assert.equal(entry.mediaType, MediaType.dockerManifest);
      assert.equal(typeof entry.digest, 'string');
      const child = await inspectRaw(docker(repo, String(entry.digest)));
      assert.equal(sha256Digest(child), entry.digest, `child ${image.platform.architecture} digest`);
      assert.equal(child.length, entry.size);
      const manifest = parseObject(child);
      assert.equal(manifest.mediaType, MediaType.dockerManifest);
      assert.deepEqual(manifest.config, { mediaType: MediaType.dockerConfig, size: image.config.size, digest: image.config.digest });
      assert.deepEqual(
        manifest.layers,
        image.layers.map((l) => ({ mediaType: MediaType.dockerLayerGzip, size: l.size, digest: l.digest })),
      );
    }
  });

  it('inspect reports the config fields', { timeout: 30_000 }, async () => {
    const repo = repoName('inspect');
    await pushLayoutTag('labelled', repo, 'info', ['--format', 'oci']);
    const info = await inspectJson(docker(repo, 'info'));
    assert.equal(info.Name, `${target.host}/${repo}`);
    assert.equal(info.Digest, labelled.manifest.digest);
    assert.deepEqual(stringArray(info.RepoTags), ['info']);
    assert.equal(info.Created, '2023-03-04T05:06:07Z');
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');
    assert.deepEqual(info.Labels, { 'org.opencontainers.image.title': 'berth-e2e', maintainer: 'e2e@berth.test' });
    assert.deepEqual(stringArray(info.Env), ['PATH=/usr/bin:/bin', 'BERTH_E2E=1']);
    assert.deepEqual(stringArray(info.Layers), labelled.layers.map((l) => l.digest));

    const config = parseObject((await skopeo(['inspect', '--config', '--tls-verify=false', docker(repo, 'info')])).stdout);
    assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: labelled.layers.map((l) => l.diffId) });
  });

  it('list-tags returns every tag, sorted', { timeout: 40_000 }, async () => {
    const repo = repoName('tags');
    const tags = ['v2.0', 'latest', 'alpha', 'v10', '1.0', 'beta_1', 'v1.9'];
    for (const tag of tags) await pushLayoutTag('labelled', repo, tag, ['--format', 'oci']);
    const listed = parseObject((await skopeo(['list-tags', '--tls-verify=false', `docker://${target.host}/${repo}`])).stdout);
    assert.equal(listed.Repository, `${target.host}/${repo}`);
    assert.deepEqual(stringArray(listed.Tags), [...tags].sort());
  });

  it('delete removes the manifest; inspect then fails with manifest unknown', { timeout: 30_000 }, async () => {
    const repo = repoName('delete');
    await pushLayoutTag('single', repo, 'doomed', ['--format', 'oci']);
    await pushLayoutTag('single', repo, 'alias', ['--format', 'oci']);
    await pushLayoutTag('labelled', repo, 'kept', ['--format', 'oci']);
    // skopeo resolves the tag and deletes the manifest by digest: every tag on it goes too.
    await skopeo(['delete', '--tls-verify=false', docker(repo, 'doomed')]);

    for (const ref of ['doomed', 'alias', single.manifest.digest]) {
      const gone = await runSkopeo(['inspect', '--raw', '--tls-verify=false', docker(repo, ref)]);
      assert.notEqual(gone.code, 0, `inspect ${ref} after delete must fail`);
      assert.match(gone.stderr, /manifest unknown/i, gone.stderr);
    }
    const head = await headManifest(repo, single.manifest.digest, MediaType.ociManifest);
    assert.equal(head.status, 404);
    const kept = await inspectRaw(docker(repo, 'kept'));
    assert.ok(kept.equals(labelled.manifest.bytes), 'the other tag survives');
    const listed = parseObject((await skopeo(['list-tags', '--tls-verify=false', `docker://${target.host}/${repo}`])).stdout);
    assert.deepEqual(stringArray(listed.Tags), ['kept']);
  });

  it('copies between two repositories of the same registry by mounting blobs', { timeout: 40_000 }, async () => {
    const from = repoName('mount-src');
    const to = repoName('mount-dst');
    // The push records where each blob lives in skopeo's persistent blob-info cache; the copy
    // below finds the blobs there and asks the registry to mount them (POST ?mount=&from=).
    await pushLayoutTag('single', from, 'v1', ['--format', 'oci']);
    const copied = await skopeo([
      '--debug',
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      docker(from, 'v1'),
      docker(to, 'v1'),
    ]);
    const log = copied.stderr;
    for (const layer of single.layers) {
      const mount = `/v2/${to}/blobs/uploads/?from=${encodeURIComponent(from)}&mount=${encodeURIComponent(layer.digest)}`;
      assert.ok(log.includes(`Trying to mount ${mount}`), `skopeo tried to mount ${layer.digest}:\n${log}`);
    }
    const mounted = log.match(/\.\.\. mount OK/g)?.length ?? 0;
    assert.ok(mounted >= single.layers.length, `every layer mounted (${mounted} of ${single.layers.length}):\n${log}`);

    const raw = await inspectRaw(docker(to, 'v1'));
    assert.ok(raw.equals(single.manifest.bytes), 'manifest bytes identical in the destination repository');
    for (const blob of [...single.layers, single.config]) {
      const res = await fetch(`${target.url}/v2/${to}/blobs/${blob.digest}`, { method: 'HEAD' });
      assert.equal(res.status, 200, `HEAD blob ${blob.digest} in ${to}`);
      assert.equal(res.headers.get('content-length'), String(blob.size));
      assert.equal(res.headers.get('docker-content-digest'), blob.digest);
    }
  });
});
