/**
 * `berth garbage-collect` as a real CLI process against a real Berth process on the filesystem
 * driver: images pushed with skopeo (and over plain HTTP), one image deleted and many orphan blobs
 * as garbage. `--dry-run` prints every candidate and changes nothing; a run killed with SIGKILL in
 * the middle of its sweep (slowed down by the test-only BERTH_GC_TEST_SWEEP_DELAY_MS) leaves a
 * store that still serves every image, byte-identical (skopeo copies the image back out; HTTP
 * pulls the rest); a second run takes the dead process's lease over, finishes the job and exits 0.
 * Skips the skopeo part when skopeo is missing (fails under CI=true).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { BERTH_CLI, startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { buildImage, pushImageOverHttp, readLayoutBlob, readLayoutRef, writeOciLayout, type BuiltImage } from '../helpers/oci-image.js';
import { sha } from './fixtures.js';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BERTH_CLI, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') reject(error);
      else resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
    });
  });
}

function hasSkopeo(): Promise<boolean> {
  return new Promise((resolve) => execFile('skopeo', ['--version'], (error) => resolve(error === null)));
}

async function pull(url: string, repo: string, ref: string, image: BuiltImage): Promise<void> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${ref}`, { headers: { accept: image.manifest.mediaType } });
  assert.equal(res.status, 200, `${repo}:${ref}`);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(image.manifest.bytes));
  for (const blob of [...image.layers, image.config]) {
    const b = await fetch(`${url}/v2/${repo}/blobs/${blob.digest}`);
    assert.equal(b.status, 200);
    assert.ok(Buffer.from(await b.arrayBuffer()).equals(blob.bytes));
  }
}

async function blobFiles(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  const base = join(root, 'docker/registry/v2/blobs/sha256');
  for (const prefix of await readdir(base).catch(() => [])) {
    for (const hex of await readdir(join(base, prefix))) {
      if ((await readdir(join(base, prefix, hex))).includes('data')) out.add(`sha256:${hex}`);
    }
  }
  return out;
}

describe('berth garbage-collect (CLI, filesystem driver)', () => {
  let berth: BerthProcess;
  let work: string;
  let configPath: string;
  const kept: Array<{ repo: string; ref: string; image: BuiltImage }> = [];
  const garbage = new Set<string>();
  let skopeoImage: BuiltImage | undefined;
  let layout = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-gc-cli-'));
    const root = join(work, 'data');
    berth = await startBerth({ rootDir: root });
    configPath = join(work, 'config.yml');
    await writeFile(configPath, stringify({ version: 0.1, log: { level: 'warn' }, storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } } }));
    if (await hasSkopeo()) {
      skopeoImage = buildImage({ layers: 2 });
      layout = join(work, 'layout');
      await writeOciLayout(layout, skopeoImage.blobs, [{ tag: 'src', target: skopeoImage.manifest }]);
      await new Promise<void>((resolve, reject) =>
        execFile('skopeo', ['--insecure-policy', 'copy', '--dest-tls-verify=false', `oci:${layout}:src`, `docker://${berth.host}/cli/skopeo:1`], (error, _o, stderr) =>
          error === null ? resolve() : reject(new Error(stderr)),
        ),
      );
    } else if (process.env['CI'] === 'true') {
      throw new Error('skopeo is missing (test/setup/10-skopeo.sh installs it)');
    }
    for (let i = 0; i < 3; i++) {
      const image = buildImage({ layers: 2 });
      await pushImageOverHttp(berth.url, `cli/app${i}`, 'latest', image);
      kept.push({ repo: `cli/app${i}`, ref: 'latest', image });
    }
    const doomed = buildImage({ layers: 2 });
    await pushImageOverHttp(berth.url, 'cli/doomed', 'latest', doomed);
    const del = await fetch(`${berth.url}/v2/cli/doomed/manifests/${doomed.manifest.digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    for (const blob of doomed.blobs) garbage.add(blob.digest);
    for (let i = 0; i < 30; i++) {
      const bytes = randomBytes(1000 + i);
      const start = await fetch(`${berth.url}/v2/cli/scratch/blobs/uploads/?digest=${sha(bytes)}`, { method: 'POST', body: new Uint8Array(bytes) });
      assert.equal(start.status, 201);
      garbage.add(sha(bytes));
    }
  });

  after(async () => {
    await berth.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function servesEverything(): Promise<void> {
    for (const k of kept) await pull(berth.url, k.repo, k.ref, k.image);
    if (skopeoImage === undefined) return;
    const out = join(work, `out-${randomBytes(4).toString('hex')}`);
    await new Promise<void>((resolve, reject) =>
      execFile('skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=false', `docker://${berth.host}/cli/skopeo:1`, `oci:${out}:back`], (error, _o, stderr) =>
        error === null ? resolve() : reject(new Error(stderr)),
      ),
    );
    const ref = await readLayoutRef(out, 'back');
    assert.equal(ref.digest, skopeoImage.manifest.digest);
    for (const blob of skopeoImage.blobs) assert.ok((await readLayoutBlob(out, blob.digest)).equals(blob.bytes));
  }

  it('--dry-run lists every candidate and changes nothing', async () => {
    const before = await blobFiles(berth.rootDir);
    const run = await runCli(['garbage-collect', '--dry-run', '--grace-period=0', configPath]);
    assert.equal(run.code, 0, run.stderr);
    const listed = new Set([...run.stdout.matchAll(/blob eligible for deletion: (sha256:[0-9a-f]{64})/g)].map((m) => m[1]));
    assert.deepEqual([...listed].sort(), [...garbage].sort());
    assert.match(run.stdout, new RegExp(`eligible for deletion: ${garbage.size} blobs`));
    assert.deepEqual(await blobFiles(berth.rootDir), before);
  });

  it('a run killed mid-sweep leaves a serving store; a second run finishes', { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, [BERTH_CLI, 'garbage-collect', '--grace-period=0', configPath], {
      env: { ...process.env, BERTH_GC_TEST_SWEEP_DELAY_MS: '150' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 60_000;
    while ((out.match(/deleted blob/g) ?? []).length < 3) {
      assert.ok(child.exitCode === null, `gc exited before it could be killed:\n${out}`);
      assert.ok(Date.now() < deadline, `no deletions seen:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    const left = await blobFiles(berth.rootDir);
    const remaining = [...garbage].filter((d) => left.has(d));
    assert.ok(remaining.length > 0 && remaining.length < garbage.size, `killed mid-sweep: ${remaining.length} of ${garbage.size} left`);
    await servesEverything();
    const lease = await readFile(join(berth.rootDir, 'docker/registry/v2/_gc/lease'), 'utf8');
    assert.match(lease, new RegExp(`"pid":${String(child.pid)}`), 'the dead run left its lease');
    const second = await runCli(['garbage-collect', '--grace-period=0', configPath]);
    assert.equal(second.code, 0, second.stderr + second.stdout);
    const after = await blobFiles(berth.rootDir);
    for (const d of garbage) assert.ok(!after.has(d), `${d} deleted by the second run`);
    await servesEverything();
    const third = await runCli(['garbage-collect', '--grace-period=0', configPath]);
    assert.match(third.stdout, /deleted: 0 blobs/);
  });
});
