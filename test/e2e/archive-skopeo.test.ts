/**
 * End-to-end with skopeo: a multi-arch OCI archive written by skopeo (`oci-archive:`) is pushed by
 * skopeo to a running Berth, exported with `berth export --format oci` while the server runs, and
 * read back by `skopeo copy --all oci-archive:… dir:` — every blob byte-identical to what was
 * built. The same skopeo-made archive imported with `berth import` is pulled back by skopeo
 * (`docker://` → `dir:`) with the same bytes.
 */
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BERTH_CLI, startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { buildMultiPlatform, writeOciLayout, type BuiltIndex } from '../helpers/oci-image.js';

const hasSkopeo = spawnSync('skopeo', ['--version']).status === 0;
const skip = hasSkopeo ? false : process.env['CI'] === 'true' ? false : 'skopeo is not installed (test/setup/10-skopeo.sh installs it)';

function skopeo(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', ['--insecure-policy', ...args], { timeout: 60_000, encoding: 'utf8', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`skopeo ${args.join(' ')}: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function berthCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BERTH_CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('skopeo: OCI archives through berth import and berth export', { skip, timeout: 180_000 }, () => {
  let berth: BerthProcess | undefined;
  let work = '';
  let config = '';
  let built: BuiltIndex;
  let archive = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-archive-skopeo-'));
    const rootDir = join(work, 'storage');
    await mkdir(rootDir, { recursive: true });
    config = join(work, 'config.yml');
    await writeFile(config, `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${rootDir} } }\n`);
    berth = await startBerth({ rootDir });
    built = buildMultiPlatform();
    const layout = join(work, 'layout');
    await writeOciLayout(layout, built.blobs, [{ tag: 'v1', target: built.index }]);
    archive = join(work, 'skopeo.tar');
    await skopeo(['copy', '--all', `oci:${layout}:v1`, `oci-archive:${archive}:v1`]);
  });

  after(async () => {
    if (berth !== undefined) await berth.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  async function assertSameBlobs(dir: string): Promise<void> {
    const manifests = new Set(built.images.map((i) => i.manifest.digest));
    for (const b of built.blobs) {
      if (b.digest === built.index.digest) continue; // the index is dir:'s manifest.json
      // dir: keeps child manifests as <hex>.manifest.json, other blobs as <hex>.
      const file = manifests.has(b.digest) ? `${b.digest.slice(7)}.manifest.json` : b.digest.slice(7);
      const got = await readFile(join(dir, file)).catch(() => undefined);
      assert.ok(got?.equals(b.bytes), `blob ${b.digest} (${b.mediaType}) differs or is missing in ${dir}`);
    }
    assert.ok((await readFile(join(dir, 'manifest.json'))).equals(built.index.bytes), 'the index differs');
  }

  test('skopeo pushes the oci-archive to Berth; berth export --format oci reads back byte-identical through skopeo', async () => {
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci-archive:${archive}:v1`, `docker://${berth?.host ?? ''}/sk/multi:v1`]);
    const out = join(work, 'export.tar');
    const exported = berthCli(['export', 'sk/multi:v1', '--format', 'oci', '-o', out, config]);
    assert.equal(exported.status, 0, exported.stderr);
    const dir = join(work, 'dir-export');
    await skopeo(['copy', '--all', `oci-archive:${out}:v1`, `dir:${dir}`]);
    await assertSameBlobs(dir);
  });

  test('berth import of the skopeo-made oci-archive, then skopeo pulls it byte-identical', async () => {
    const imported = berthCli(['import', archive, '--tag', 'sk/imported:1', config]);
    assert.equal(imported.status, 0, imported.stderr);
    assert.match(imported.stdout, new RegExp(`sk/imported:1 ${built.index.digest}`));
    const dir = join(work, 'dir-pull');
    await skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${berth?.host ?? ''}/sk/imported:1`, `dir:${dir}`]);
    await assertSameBlobs(dir);
  });
});
