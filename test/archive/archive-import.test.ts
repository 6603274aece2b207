/**
 * `berth import` / `berth export` on a real filesystem storage (src/archive/archive-import.ts,
 * archive-export.ts): docker save archives built here (legacy layout, any entry order, gzip, zstd,
 * shared layers linked as docker writes them), OCI image layouts (directory and tar, multi-arch),
 * export → import round trips, and hostile or broken archives — path traversal, absolute names,
 * links out of the archive, devices, huge PAX headers, truncation, corrupt compression, a layer or
 * blob that does not match its digest, a manifest naming a missing layer — each refused with a
 * clear message and nothing visible in storage: no tag, no manifest, no blob, no upload left.
 */
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { ArchiveError } from '../../src/archive/archive-error.js';
import { exportArchive } from '../../src/archive/archive-export.js';
import { importArchive, type ImportResult } from '../../src/archive/archive-import.js';
import { parseImageName, parseImageRef } from '../../src/archive/image-names.js';
import { Progress } from '../../src/archive/progress.js';
import { tryParseDigest } from '../../src/core/digest.js';
import { createRegistry, type Registry } from '../../src/core/registry.js';
import { createDriver } from '../../storage-drivers/index.js';
import { rawTar, zstdStored, type RawEntry } from '../helpers/archive-fixtures.js';
import { BERTH_CLI } from '../helpers/berth-process.js';
import { buildDockerArchive, readTar, rootfsTar, sha256 } from '../helpers/docker-archive.js';
import { buildMultiPlatform, writeOciLayout, type Blob } from '../helpers/oci-image.js';

const quiet = new Progress({ line: () => undefined, quiet: true });

function registryAt(root: string): Registry {
  return createRegistry(createDriver('filesystem', { rootdirectory: root }), { maxBlobBytes: 0, manifestCacheBytes: 1 << 20, now: () => new Date() });
}

async function importBytes(registry: Registry, bytes: Buffer, tags: string[] = []): Promise<ImportResult> {
  return importArchive(registry, { kind: 'stream', stream: Readable.from([bytes]), size: bytes.length }, { tags: tags.map(parseImageName), maxManifestBytes: 4 << 20, progress: quiet });
}

/** Every file under the storage root, relative. */
async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(join(dir, e.name), r);
      else out.push(r);
    }
  };
  await walk(root, '');
  return out;
}

/** Nothing visible: no manifest, tag, link, blob or upload. */
async function assertNothingStored(root: string): Promise<void> {
  const left = await files(root);
  assert.deepEqual(left, [], `storage is not empty after a refusal:\n${left.join('\n')}`);
}

function legacyArchive(repoTags: string[] = ['team/app:1']): ReturnType<typeof buildDockerArchive> {
  const lower = rootfsTar([{ path: 'etc/motd', content: 'lower\n' }, { path: 'srv/data.bin', content: Buffer.alloc(300_000, 7) }]);
  const upper = rootfsTar([{ path: 'etc/motd', content: 'upper\n' }]);
  return buildDockerArchive({ repoTags, layers: [lower, upper] });
}

/** The archive's entries, as raw fixtures (to reorder, drop or alter). */
function entriesOf(tar: Buffer): RawEntry[] {
  return [...readTar(tar).values()].map((e) => (e.type === '5' ? { name: `${e.name}/`, type: '5' } : { name: e.name, type: e.type, data: e.data }));
}

describe('berth import: archives into the storage', () => {
  let root = '';
  let registry: Registry;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-archive-'));
    registry = registryAt(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function resolved(name: string, tag: string): Promise<{ digest: string; json: Record<string, unknown> }> {
    const d = await registry.tags.resolve(name, tag);
    assert.ok(d, `${name}:${tag} is not tagged`);
    const m = await registry.manifests.get(name, d);
    assert.ok(m, `${name}:${tag} has no manifest`);
    return { digest: d.digest, json: m.parsed.json as Record<string, unknown> };
  }

  test('a docker save archive (legacy layout): schema 2 manifest, uncompressed layers whose digests are the diff_ids', async () => {
    const archive = legacyArchive(['team/app:1', '127.0.0.1:5000/team/app:2', 'docker.io/library/alpine:latest']);
    const result = await importBytes(registry, archive.tar);
    assert.equal(result.images.length, 1);
    const { json, digest } = await resolved('team/app', '1');
    assert.equal((await resolved('team/app', '2')).digest, digest);
    assert.equal((await resolved('alpine', 'latest')).digest, digest);
    const layers = json['layers'] as { mediaType: string; digest: string }[];
    assert.deepEqual(layers.map((l) => l.digest), archive.diffIds);
    assert.ok(layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar'));
    assert.equal((json['config'] as { digest: string }).digest, archive.imageId);
    for (const d of [...archive.diffIds, archive.imageId]) {
      const parsed = tryParseDigest(d);
      assert.ok(parsed && (await registry.blobs.sizeInRepo('team/app', parsed)) !== undefined, `${d} not linked`);
    }
    assert.deepEqual((await files(root)).filter((f) => f.includes('_uploads')), [], 'staging uploads left behind');
  });

  test('entries in any order (manifest.json first, layers last), gzip and zstd give the same image', async () => {
    const archive = legacyArchive();
    const reference = (await importBytes(registryAt(join(root, 'ref')), archive.tar)).images[0]?.digest;
    const reversed = rawTar(entriesOf(archive.tar).reverse());
    for (const [label, bytes] of [['reversed', reversed], ['gzip', gzipSync(reversed)], ['zstd', zstdStored(archive.tar)]] as const) {
      const r = registryAt(join(root, label));
      const result = await importBytes(r, bytes);
      assert.equal(result.images[0]?.digest, reference, `${label} gave another manifest`);
      assert.equal(result.compression, label === 'reversed' ? 'none' : label);
    }
  });

  test('a layer docker save links to an identical one (symlink inside the archive) is followed', async () => {
    const archive = legacyArchive();
    const entries = entriesOf(archive.tar);
    const manifest = JSON.parse(readTar(archive.tar).get('manifest.json')?.data.toString() ?? '[]') as { Layers: string[] }[];
    const upper = manifest[0]?.Layers[1] ?? '';
    const lower = manifest[0]?.Layers[0] ?? '';
    // The upper layer's file moves to another directory, reached through a relative symlink.
    const moved = entries.map((e) => (e.name === upper ? { name: 'zz/layer.tar', data: e.data ?? Buffer.alloc(0) } : e));
    moved.push({ name: upper, type: '2', linkname: '../zz/layer.tar' });
    const result = await importBytes(registry, rawTar(moved));
    assert.equal(result.images.length, 1);
    assert.ok(lower !== '');
  });

  test('an OCI image layout (directory and tar, any order) with a multi-arch index, named by --tag', async () => {
    const built = buildMultiPlatform();
    const dir = join(root, 'layout');
    await writeOciLayout(dir, built.blobs, [{ tag: 'v1', target: built.index }]);
    const store = registryAt(join(root, 'store'));
    const fromDir = await importArchive(store, { kind: 'directory', path: dir }, { tags: [parseImageName('multi/app:v1')], maxManifestBytes: 4 << 20, progress: quiet });
    assert.equal(fromDir.images[0]?.digest, built.index.digest);
    const d = await store.tags.resolve('multi/app', 'v1');
    assert.equal(d?.digest, built.index.digest);
    for (const img of built.images) {
      const child = tryParseDigest(img.manifest.digest);
      assert.ok(child && (await store.manifests.has('multi/app', child)), 'child manifest missing');
    }
    // As a tar, index.json first and a full name in the ref.name annotation.
    const index = { schemaVersion: 2, manifests: [{ mediaType: built.index.mediaType, digest: built.index.digest, size: built.index.size, annotations: { 'org.opencontainers.image.ref.name': 'registry.example.com/multi/other:2' } }] };
    const tar = rawTar([
      { name: 'index.json', data: Buffer.from(JSON.stringify(index)) },
      ...built.blobs.map((b: Blob) => ({ name: `blobs/sha256/${b.digest.slice(7)}`, data: b.bytes })),
      { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    ]);
    await importBytes(store, tar);
    assert.equal((await store.tags.resolve('multi/other', '2'))?.digest, built.index.digest);
  });

  test('export → import round trips: oci keeps the index byte for byte; docker picks the platform', async () => {
    const built = buildMultiPlatform();
    const dir = join(root, 'layout');
    await writeOciLayout(dir, built.blobs, [{ tag: 'v1', target: built.index }]);
    await importArchive(registry, { kind: 'directory', path: dir }, { tags: [parseImageName('multi/app:v1')], maxManifestBytes: 4 << 20, progress: quiet });
    const legacy = legacyArchive(['team/app:1']);
    await importBytes(registry, legacy.tar);

    const collect = async (format: 'oci' | 'docker', refs: string[]): Promise<Buffer> => {
      const sink = new PassThrough();
      const chunks: Buffer[] = [];
      sink.on('data', (c: Buffer) => chunks.push(c));
      await exportArchive(registry, refs.map(parseImageRef), sink, { format, platform: { os: 'linux', architecture: 'arm64' }, progress: quiet });
      return Buffer.concat(chunks);
    };
    const oci = await collect('oci', ['multi/app:v1', 'team/app:1']);
    const entries = readTar(oci);
    for (const b of built.blobs) assert.ok(entries.get(`blobs/sha256/${b.digest.slice(7)}`)?.data.equals(b.bytes), `blob ${b.digest} differs`);
    const other = registryAt(join(root, 'other'));
    const back = await importBytes(other, oci);
    assert.deepEqual(back.images.map((i) => i.digest).sort(), [built.index.digest, (await registry.tags.resolve('team/app', '1'))?.digest].sort());

    const docker = readTar(await collect('docker', ['multi/app:v1']));
    const manifestJson = JSON.parse(docker.get('manifest.json')?.data.toString() ?? '') as { Config: string; RepoTags: string[]; Layers: string[] }[];
    const arm = built.images.find((i) => i.platform.architecture === 'arm64');
    assert.ok(arm);
    assert.equal(manifestJson[0]?.Config, `blobs/sha256/${arm.config.digest.slice(7)}`);
    assert.deepEqual(manifestJson[0]?.RepoTags, ['multi/app:v1']);
    assert.deepEqual(manifestJson[0]?.Layers, arm.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`));
  });

  describe('refused, with nothing visible in storage', () => {
    const legacy = legacyArchive();
    const good = entriesOf(legacy.tar);
    const manifest = JSON.parse(readTar(legacy.tar).get('manifest.json')?.data.toString() ?? '[]') as { Layers: string[] }[];
    const firstLayer = manifest[0]?.Layers[0] ?? '';
    const cases: [string, () => Buffer, RegExp][] = [
      ['path traversal', () => rawTar([...good, { name: '../evil', data: Buffer.from('x') }]), /path traversal/],
      ['an absolute name', () => rawTar([{ name: '/etc/passwd', data: Buffer.from('x') }, ...good]), /absolute path/],
      ['a symlink out of the archive', () => rawTar([...good, { name: 'evil/layer.tar', type: '2', linkname: '../../etc/passwd' }]), /leads out of the archive/],
      ['an absolute symlink', () => rawTar([...good, { name: 'evil', type: '2', linkname: '/etc/passwd' }]), /absolute target/],
      ['a character device', () => rawTar([...good, { name: 'dev/null', type: '3' }]), /character-device/],
      ['a huge PAX header', () => Buffer.concat([rawTar(good.slice(0, 3), false), rawTar([{ name: 'PaxHeader', type: 'x', declaredSize: 64 << 20 }], false), Buffer.alloc(1 << 20)]), /PAX header of 67108864 bytes/],
      ['a manifest naming a missing layer', () => rawTar(good.filter((e) => e.name !== firstLayer)), /not in the archive/],
      ['a layer that does not match its diff_id', () => rawTar(good.map((e) => (e.name === firstLayer ? { ...e, data: Buffer.concat([e.data ?? Buffer.alloc(0), Buffer.alloc(512)]) } : e))), /corrupt archive/],
      ['an archive cut in the middle of a layer', () => legacy.tar.subarray(0, 150_000), /truncated/],
      ['an archive without its end-of-archive blocks', () => rawTar(good, false), /truncated/],
      ['a truncated gzip stream', () => { const gz = gzipSync(legacy.tar); return gz.subarray(0, gz.length - 100); }, /truncated|corrupt/],
      ['a corrupt gzip stream', () => { const gz = Buffer.from(gzipSync(legacy.tar)); gz.fill(0x55, Math.floor(gz.length / 2), Math.floor(gz.length / 2) + 40); return gz; }, /corrupt/],
      ['a truncated zstd stream', () => { const z = zstdStored(legacy.tar); return z.subarray(0, z.length - 1000); }, /zstd/],
      ['not an image archive', () => rawTar([{ name: 'hello.txt', data: Buffer.from('hi') }]), /not an image archive/],
      ['an image without a name', () => rawTar(entriesOf(legacyArchive([]).tar)), /--tag/],
    ];
    for (const [label, make, message] of cases) {
      test(label, async () => {
        await assert.rejects(importBytes(registry, make()), (error: unknown) => {
          assert.ok(error instanceof ArchiveError, `not an ArchiveError: ${String(error)}`);
          assert.match(error.message, message);
          return true;
        });
        await assertNothingStored(join(root, 'docker'));
      });
    }

    test('an OCI blob whose content does not match its name', async () => {
      const built = buildMultiPlatform();
      const dir = join(root, 'layout');
      await writeOciLayout(dir, built.blobs, [{ tag: 'v1', target: built.index }]);
      const layer = built.images[0]?.layers[0];
      assert.ok(layer);
      await writeFile(join(dir, 'blobs', 'sha256', layer.digest.slice(7)), Buffer.concat([layer.bytes, Buffer.from('x')]));
      await assert.rejects(
        importArchive(registry, { kind: 'directory', path: dir }, { tags: [parseImageName('a/b:1')], maxManifestBytes: 4 << 20, progress: quiet }),
        /corrupt archive/,
      );
      await assertNothingStored(join(root, 'docker'));
    });
  });

  test('the CLI: import from stdin, exit 1 with a message on a refusal, export to stdout', async () => {
    const config = join(root, 'config.yml');
    await writeFile(config, `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${join(root, 'cli')} } }\n`);
    const legacy = legacyArchive(['cli/app:1']);
    const ok = spawnSync(process.execPath, [BERTH_CLI, 'import', '-', '--tag', 'cli/app:2', config], { input: legacy.tar, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^cli\/app:2 sha256:[0-9a-f]{64}$/m);
    const bad = spawnSync(process.execPath, [BERTH_CLI, 'import', '-', config], { input: legacy.tar.subarray(0, 4000), encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /import: refused: .*truncated.*; nothing was imported/);
    const out = spawnSync(process.execPath, [BERTH_CLI, 'export', 'cli/app:2', '-o', '-', '--format', 'docker', '--quiet', config], { maxBuffer: 64 << 20 });
    assert.equal(out.status, 0, out.stderr.toString());
    const entries = readTar(out.stdout);
    assert.ok(entries.has('manifest.json') && entries.has('index.json') && entries.has('oci-layout'));
    for (const d of legacy.diffIds) assert.equal(sha256(entries.get(`blobs/sha256/${d.slice(7)}`)?.data ?? Buffer.alloc(0)), d);
    const usage = spawnSync(process.execPath, [BERTH_CLI, 'export', 'cli/app:2', config], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /-o FILE/);
  });
});
