/**
 * `berth import-v1-storage`: the tree the old Python registry (0.9) wrote for v1 pushes is built
 * here file by file exactly as its code wrote it (docker-registry `images.py`, `tags.py`,
 * `index.py`, `core/driver.py`: JSON verbatim, layer as sent, `_checksum` a JSON list
 * `["sha256:…"]`, `ancestry` a JSON list, `_inprogress` holding `true`, `tag_<t>` the bare ID,
 * `tag<t>_json` and `json` the tag metadata, `_index_images` the merged list) from images with
 * docker's IDs and payload checksums (test/protocol/v1-fixtures.ts), then imported with the real
 * command into filesystem storage and pulled over v1 and over v2 (the bridge) byte for byte; the
 * result equals a real v1 push of the same images. A second run changes nothing and says so; a
 * corrupted layer is reported and skipped with everything that needs it (exit 1); hostile trees
 * (IDs with ../, symlinks out of the tree, oversized JSON) are refused. One test runs on the real
 * Swift of test/setup/30-swift.sh: the old tree in a container as the old swift driver named its
 * objects, Berth configured with the old SETTINGS_FLAVOR=swift environment only, import in place,
 * pull back (skipped without Swift, a failure under CI=true).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { checked } from '../../storage-drivers/checked.js';
import { createDriver } from '../../storage-drivers/index.js';
import { createFilesystemDriver } from '../../storage-drivers/filesystem/index.js';
import { createInMemoryDriver } from '../../storage-drivers/inmemory/index.js';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { importV1StorageCommand } from '../../src/cli/import-v1-storage.js';
import { localV1Tree, V1TreeError } from '../../src/archive/v1-tree-source.js';
import { loadConfigFile } from '../../src/config/load.js';
import { BERTH_CLI } from '../helpers/berth-process.js';
import { binary, buildTestApp, type TestApp } from '../helpers/build-app.js';
import { envVar, swiftBackend } from '../helpers/object-backends.js';
import { DOCKER_UA, payloadChecksum, pushV1, sha256Hex, v1Chain, v1Image, type V1Fixture } from '../protocol/v1-fixtures.js';

const exec = promisify(execFile);
const inCi = process.env.CI === 'true';
const SCHEMA2 = 'application/vnd.docker.distribution.manifest.v2+json';

// ---- the old registry's tree, as its code wrote it

/** Python 2 `json.dumps` of a list of strings (", " separator). */
function pyList(items: readonly string[]): string {
  return `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;
}

function tagMeta(when: number): string {
  return `{"arch": "amd64", "docker_go_version": "go1.4.3", "docker_version": "1.9.1", "kernel": "4.2.0", "last_update": ${when}, "os": "linux"}`;
}

interface OldImageOptions {
  readonly inProgress?: boolean;
  /** Replace the `_checksum` file's content (null: no file). */
  readonly checksum?: string | null;
}

/** What PUT json / layer / checksum left under images/<id>/. */
async function writeOldImage(root: string, image: V1Fixture, ancestry: readonly string[], options: OldImageOptions = {}): Promise<void> {
  const dir = join(root, 'images', image.id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'json'), image.json);
  await writeFile(join(dir, 'ancestry'), pyList(ancestry));
  await writeFile(join(dir, 'layer'), image.layer);
  const checksum = options.checksum === undefined ? pyList([payloadChecksum(image.json, image.layer)]) : options.checksum;
  if (checksum !== null) await writeFile(join(dir, '_checksum'), checksum);
  if (options.inProgress === true) await writeFile(join(dir, '_inprogress'), 'true');
}

/** Every image of a chain (base first), with the ancestry the old registry computed. */
async function writeOldChain(root: string, chain: readonly V1Fixture[], options: (i: number) => OldImageOptions = () => ({})): Promise<void> {
  for (let i = 0; i < chain.length; i++) {
    const image = chain[i] as V1Fixture;
    const ancestry = chain
      .slice(0, i + 1)
      .map((c) => c.id)
      .reverse();
    await writeOldImage(root, image, ancestry, options(i));
  }
}

/** What PUT tags/<t> and the index calls left under repositories/<ns>/<repo>/. */
async function writeOldRepo(root: string, ns: string, repo: string, tags: Readonly<Record<string, string>>, index: readonly string[]): Promise<void> {
  const dir = join(root, 'repositories', ns, repo);
  await mkdir(dir, { recursive: true });
  let when = 1_433_154_030;
  for (const [tag, id] of Object.entries(tags)) {
    await writeFile(join(dir, `tag_${tag}`), id);
    await writeFile(join(dir, `tag${tag}_json`), tagMeta(when));
    if (tag === 'latest') await writeFile(join(dir, 'json'), tagMeta(when));
    when += 60;
  }
  await writeFile(join(dir, '_index_images'), `[${index.map((id) => `{"id": "${id}"}`).join(', ')}]`);
}

// ---- running the command and pulling

interface RunResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function runImport(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await importV1StorageCommand(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The real CLI in a child process. */
async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BERTH_CLI, 'import-v1-storage', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? '' };
  }
}

async function configFile(dir: string, doc: string): Promise<string> {
  const path = join(dir, `config-${randomBytes(3).toString('hex')}.yml`);
  await writeFile(path, doc);
  return path;
}

function filesystemApp(root: string): TestApp {
  return buildTestApp({ driver: checked(createFilesystemDriver({ rootDirectory: root })), config: { storage: { filesystem: { rootdirectory: root } } } });
}

async function getBytes(t: TestApp, path: string, status = 200): Promise<{ body: Buffer; headers: Record<string, string> }> {
  const res = await t.http.get(path).set('User-Agent', DOCKER_UA).buffer(true).parse(binary);
  assert.equal(res.status, status, `${path}: ${res.status} ${String(res.body)}`);
  return { body: res.body as Buffer, headers: res.headers as Record<string, string> };
}

/** docker 1.x's v1 pull of name:tag, checked against the chain (base first) byte for byte. */
async function pullV1(t: TestApp, name: string, tag: string, chain: readonly V1Fixture[]): Promise<void> {
  const top = chain[chain.length - 1] as V1Fixture;
  await t.http.get(`/v1/repositories/${name}/images`).set('X-Docker-Token', 'true').set('User-Agent', DOCKER_UA).expect(200);
  const tags = (await t.http.get(`/v1/repositories/${name}/tags`).set('User-Agent', DOCKER_UA).expect(200)).body as Record<string, string>;
  assert.equal(tags[tag], top.id, `tag ${name}:${tag}`);
  const ancestry = (await t.http.get(`/v1/images/${top.id}/ancestry`).expect(200)).body as string[];
  assert.deepEqual(ancestry, chain.map((c) => c.id).reverse());
  for (const image of chain) {
    const json = await getBytes(t, `/v1/images/${image.id}/json`);
    assert.ok(json.body.equals(image.json), `json of ${image.id}`);
    assert.equal(json.headers['x-docker-size'], String(image.layer.length));
    assert.equal(json.headers['x-docker-checksum-payload'], payloadChecksum(image.json, image.layer));
    const layer = await getBytes(t, `/v1/images/${image.id}/layer`);
    assert.ok(layer.body.equals(image.layer), `layer of ${image.id}`);
  }
}

/** A v2 pull of name:tag through the bridge: the layers are the v1 layers, byte for byte. */
async function pullV2(t: TestApp, name: string, tag: string, chain: readonly V1Fixture[]): Promise<string> {
  const res = await t.http.get(`/v2/${name}/manifests/${tag}`).set('Accept', SCHEMA2).buffer(true).parse(binary).expect(200);
  const manifest = JSON.parse((res.body as Buffer).toString('utf8')) as { layers: Array<{ digest: string; size: number }>; config: { digest: string } };
  assert.equal(manifest.layers.length, chain.length);
  for (let i = 0; i < chain.length; i++) {
    const image = chain[i] as V1Fixture;
    const layer = manifest.layers[i];
    assert.equal(layer?.digest, `sha256:${sha256Hex(image.layer)}`);
    const blob = await getBytes(t, `/v2/${name}/blobs/${layer.digest}`);
    assert.ok(blob.body.equals(image.layer), `v2 blob ${i}`);
  }
  const config = JSON.parse((await getBytes(t, `/v2/${name}/blobs/${manifest.config.digest}`)).body.toString('utf8')) as { rootfs: { diff_ids: string[] } };
  assert.deepEqual(config.rootfs.diff_ids, chain.map((c) => c.diffId));
  return String(res.headers['docker-content-digest']);
}

describe('berth import-v1-storage from a local directory', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-v1import-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('a complete old tree: imported, pulled over v1 and v2 byte for byte, same as a v1 push; a second run changes nothing', async () => {
    const old = join(work, 'old');
    const target = join(work, 'berth');
    // busybox: base → mid (tag 1.0) → top (tag latest, gzip) ; team/app on the same base; an
    // uncompressed layer; an image no tag reaches (pullable by ID in v1); a push that never finished.
    const chain = v1Chain(3, { gzip: (i) => i !== 1 });
    const [base, mid, top] = chain as [V1Fixture, V1Fixture, V1Fixture];
    const app = v1Image({ parent: base.id, cmd: 'app' });
    const orphan = v1Image({ parent: mid.id, cmd: 'orphan' });
    const unfinished = v1Image({ parent: base.id, cmd: 'unfinished' });
    await writeOldChain(old, chain);
    await writeOldImage(old, app, [app.id, base.id]);
    await writeOldImage(old, orphan, [orphan.id, mid.id, base.id]);
    await writeOldImage(old, unfinished, [unfinished.id, base.id], { inProgress: true, checksum: null });
    await writeOldRepo(old, 'library', 'busybox', { latest: top.id, '1.0': mid.id }, chain.map((c) => c.id));
    await writeOldRepo(old, 'team', 'app', { v1: app.id, wip: unfinished.id }, [base.id, app.id, unfinished.id]);
    const config = await configFile(work, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${target}\n`);

    const first = await runCli([old, config]);
    assert.equal(first.code, 0, `${first.out}\n${first.err}`);
    assert.match(first.out, /repositories: 2 found/);
    assert.match(first.out, /\[1\/2\] repository library\/busybox: 2 tag file\(s\) \(Berth name busybox\)/);
    assert.match(first.out, /tag library\/busybox:latest → [0-9a-f]{12} imported/);
    assert.match(first.out, /checksum verified/);
    assert.match(first.out, /skipped tag team\/app:wip: image [0-9a-f]{12} was still being pushed/);
    assert.match(first.out, /summary: 2 repositories; tags: 3 imported, 0 already there, 1 skipped, 0 failed; images: 5 imported, 0 already there, 1 skipped, 0 failed/);
    assert.match(first.out, /import complete/);

    const t = filesystemApp(target);
    await pullV1(t, 'library/busybox', 'latest', chain);
    await pullV1(t, 'busybox', '1.0', [base, mid]);
    await pullV1(t, 'team/app', 'v1', [base, app]);
    const v2Digest = await pullV2(t, 'busybox', 'latest', chain);
    await pullV2(t, 'team/app', 'v1', [base, app]);
    // The untagged image is served by ID; the unfinished one is not.
    assert.ok((await getBytes(t, `/v1/images/${orphan.id}/json`)).body.equals(orphan.json));
    await getBytes(t, `/v1/images/${unfinished.id}/json`, 404);
    await t.http.get('/v2/team/app/manifests/wip').set('Accept', SCHEMA2).expect(404);
    // The index list and the tag metadata came along.
    const index = (await t.http.get('/v1/repositories/team/app/images').set('X-Docker-Token', 'true').expect(200)).body as Array<{ id: string }>;
    assert.deepEqual(index.map((i) => i.id).sort(), [base.id, app.id, unfinished.id].sort());
    const meta = (await t.http.get('/v1/repositories/busybox/tags/latest/json').expect(200)).body as Record<string, unknown>;
    assert.equal(meta['docker_version'], '1.9.1');
    assert.equal(meta['last_update'], 1_433_154_030);

    // Exactly what a v1 push of the same images gives.
    const pushed = buildTestApp({ driver: checked(createInMemoryDriver()) });
    await pushV1(pushed, 'busybox', 'latest', chain);
    const pushedDigest = String((await pushed.http.get('/v2/busybox/manifests/latest').set('Accept', SCHEMA2).expect(200)).headers['docker-content-digest']);
    assert.equal(v2Digest, pushedDigest, 'the import synthesizes the manifest a v1 push synthesizes');

    // Idempotent: nothing changes, and the command says so.
    const second = await runCli([old, config]);
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /tags: 0 imported, 3 already there, 1 skipped, 0 failed; images: 0 imported, 5 already there, 1 skipped, 0 failed; 0 B of layers read/);
    assert.match(second.out, /nothing to do: everything was already imported/);
    assert.equal(String((await t.http.get('/v2/busybox/manifests/latest').set('Accept', SCHEMA2).expect(200)).headers['docker-content-digest']), v2Digest);

    // --tagged-only leaves images no tag needs alone.
    const taggedOnlyTarget = join(work, 'tagged-only');
    const taggedConfig = await configFile(work, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${taggedOnlyTarget}\n`);
    const tagged = await runImport([old, taggedConfig, '--tagged-only']);
    assert.equal(tagged.code, 0, tagged.out);
    await getBytes(filesystemApp(taggedOnlyTarget), `/v1/images/${orphan.id}/json`, 404);
  });

  test('in place: Berth on the old STORAGE_PATH (SETTINGS_FLAVOR=local) imports the tree next to its own', async () => {
    const root = join(work, 'inplace');
    const chain = v1Chain(2);
    // registry < 0.7 stored `_checksum` as a bare string (load_checksums still reads it).
    await writeOldChain(root, chain, (i) => (i === 0 ? { checksum: payloadChecksum((chain[0] as V1Fixture).json, (chain[0] as V1Fixture).layer) } : {}));
    await writeOldRepo(root, 'library', 'web', { latest: (chain[1] as V1Fixture).id }, chain.map((c) => c.id));
    const res = await runImport([root], { SETTINGS_FLAVOR: 'local', STORAGE_PATH: root });
    assert.equal(res.code, 0, `${res.out}\n${res.err}`);
    const t = filesystemApp(root);
    await pullV1(t, 'web', 'latest', chain);
    await pullV2(t, 'web', 'latest', chain);
    // The old tree is untouched.
    assert.ok((await readFile(join(root, 'images', (chain[0] as V1Fixture).id, 'layer'))).equals((chain[0] as V1Fixture).layer));
  });

  test('a corrupted layer is reported and skipped with the images and tags that need it; exit 1', async () => {
    const old = join(work, 'corrupt');
    const target = join(work, 'corrupt-berth');
    const chain = v1Chain(3);
    const [base, mid, top] = chain as [V1Fixture, V1Fixture, V1Fixture];
    const other = v1Image({ parent: base.id, cmd: 'other' });
    await writeOldChain(old, chain);
    await writeOldImage(old, other, [other.id, base.id]);
    // A byte of mid's layer changed after the push (its _checksum is the one computed at push time):
    // the gzip header's MTIME, so the layer still decompresses and only the checksum can tell.
    const bad = Buffer.from(mid.layer);
    bad[4] = (bad[4] ?? 0) ^ 0xff;
    await writeFile(join(old, 'images', mid.id, 'layer'), bad);
    // Another whose stored gzip stream is cut short (bit rot that breaks decompression too).
    const cut = v1Image({ parent: base.id, cmd: 'cut' });
    await writeOldImage(old, cut, [cut.id, base.id]);
    await writeFile(join(old, 'images', cut.id, 'layer'), cut.layer.subarray(0, cut.layer.length - 20));
    await writeOldRepo(old, 'library', 'busybox', { latest: top.id, '1.0': mid.id, other: other.id, cut: cut.id }, []);
    const config = await configFile(work, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${target}\n`);
    const res = await runCli([old, config]);
    assert.equal(res.code, 1, res.out);
    assert.match(res.out, new RegExp(`FAILED image ${mid.id}: layer checksum mismatch: _checksum says ${payloadChecksum(mid.json, mid.layer)}`));
    assert.match(res.out, new RegExp(`FAILED image ${top.id}: an ancestor failed`));
    assert.match(res.out, /FAILED tag library\/busybox:latest: image [0-9a-f]{12} was not imported/);
    assert.match(res.out, /FAILED tag library\/busybox:1\.0/);
    assert.match(res.out, new RegExp(`FAILED image ${cut.id}: Layer is not a valid gzip stream`));
    assert.match(res.out, /tags: 1 imported, 0 already there, 0 skipped, 3 failed; images: 2 imported, 0 already there, 0 skipped, 3 failed/);
    assert.match(res.out, /import incomplete: \d+ problem\(s\)/);
    const t = filesystemApp(target);
    await pullV1(t, 'busybox', 'other', [base, other]);
    await getBytes(t, `/v1/images/${mid.id}/json`, 404);
    await getBytes(t, `/v1/images/${top.id}/json`, 404);
    await getBytes(t, `/v1/images/${cut.id}/json`, 400);
    await t.http.get('/v1/repositories/busybox/tags/latest').expect(404);
    // After a repair (the right bytes back) a second run completes the rest.
    await writeFile(join(old, 'images', mid.id, 'layer'), mid.layer);
    await writeFile(join(old, 'images', cut.id, 'layer'), cut.layer);
    const again = await runImport([old, config]);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /tags: 3 imported, 1 already there/);
    await pullV1(t, 'busybox', 'cut', [base, cut]);
    await pullV1(t, 'busybox', 'latest', chain);
  });

  test('hostile trees: IDs with ../, symlinks out of the tree, oversized JSON, bad names are refused', async () => {
    const old = join(work, 'hostile');
    const outside = join(work, 'outside');
    const target = join(work, 'hostile-berth');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'secret'), 'not for the registry');
    const good = v1Image();
    await writeOldImage(old, good, [good.id]);
    // A layer that is a symlink to a file outside the tree.
    const linked = v1Image();
    await writeOldImage(old, linked, [linked.id]);
    await rm(join(old, 'images', linked.id, 'layer'));
    await symlink(join(outside, 'secret'), join(old, 'images', linked.id, 'layer'));
    // A JSON larger than Berth's manifest limit (set to 64 KiB below).
    const huge = v1Image({ extra: { padding: 'x'.repeat(100 * 1024) } });
    await writeOldImage(old, huge, [huge.id]);
    // A parent that is a path, not an ID.
    const escaping = v1Image({ extra: { parent: '../../outside' } });
    await writeOldImage(old, escaping, [escaping.id]);
    // A whole namespace that is a symlink to a directory outside.
    await mkdir(join(outside, 'repo'), { recursive: true });
    await writeFile(join(outside, 'repo', 'tag_latest'), good.id);
    await mkdir(join(old, 'repositories'), { recursive: true });
    await symlink(outside, join(old, 'repositories', 'evil'));
    await writeOldRepo(
      old,
      'library',
      'app',
      { good: good.id, walk: '../../../outside/secret', linked: linked.id, huge: huge.id, escaping: escaping.id },
      [good.id, '../x'],
    );
    await writeOldRepo(old, 'library', 'UPPER%2F..', { latest: good.id }, []);
    const config = await configFile(work, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${target}\nberth:\n  limits:\n    manifestbytes: 65536\n`);
    const res = await runImport([old, config]);
    assert.equal(res.code, 1, res.out);
    assert.match(res.out, /FAILED tag library\/app:walk: the tag file does not hold an image ID/);
    assert.match(res.out, new RegExp(`FAILED image ${linked.id}: layer leads out of the tree|FAILED image ${linked.id}: images/${linked.id}/layer leads out of the tree`));
    assert.match(res.out, new RegExp(`FAILED image ${huge.id}: images/${huge.id}/json is \\d+ bytes, more than the 65536 accepted`));
    assert.match(res.out, new RegExp(`FAILED image ${escaping.id}: its parent "\\.\\./\\.\\./outside" is not an image ID`));
    assert.match(res.out, /FAILED repositories\/evil: repositories\/evil leads out of the tree/);
    assert.match(res.out, /FAILED repository library\/UPPER%2F\.\.: not a valid repository name/);
    assert.match(res.out, /1 entr\(ies\) of _index_images without a valid image ID ignored/);
    assert.match(res.out, /tag library\/app:good → [0-9a-f]{12} imported/);
    assert.ok(!res.out.includes('not for the registry'));
    const t = filesystemApp(target);
    await pullV1(t, 'app', 'good', [good]);
    await getBytes(t, `/v1/images/${linked.id}/json`, 404);
    // Nothing outside the tree was read into the store.
    const { stdout } = await exec('grep', ['-rl', 'not for the registry', target]).catch(() => ({ stdout: '' }));
    assert.equal(stdout, '');
  });

  test('the source refuses dot segments and paths leaving the tree before touching anything', async () => {
    const root = join(work, 'segments');
    await mkdir(join(root, 'images'), { recursive: true });
    const source = await localV1Tree(root);
    for (const bad of [['images', '..'], ['images', '.'], ['images', 'a/b'], ['images', ''], ['..', 'etc']]) {
      await assert.rejects(source.read(bad, 100), V1TreeError, bad.join('|'));
    }
    assert.equal(await source.read(['images', 'missing', 'json'], 100), undefined);
    assert.deepEqual(await source.list(['repositories']), []);
  });

  test('usage and configuration errors', async () => {
    assert.equal((await runImport([])).code, 2);
    assert.equal((await runImport([work])).code, 2, 'no configuration: nothing says where to import to');
    assert.equal((await runImport([work, 'x.yml', '--bogus'])).code, 2);
    const missing = await runImport([join(work, 'no-such-dir')], { SETTINGS_FLAVOR: 'local', STORAGE_PATH: join(work, 'x') });
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no-such-dir/);
    const readonly = await configFile(work, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, 'ro')}\n  maintenance:\n    readonly:\n      enabled: true\n`);
    const ro = await runImport([work, readonly]);
    assert.equal(ro.code, 1);
    assert.match(ro.err, /read-only/);
  });
});

// ---- the real Swift

/** PUTs an object as the old swift driver did (`<storage_path>/<path>`, leading slash dropped). */
async function swiftPut(session: { url: string; token: string }, container: string, name: string, body: Buffer | string): Promise<void> {
  const res = await fetch(`${session.url}/${container}/${name.split('/').map(encodeURIComponent).join('/')}`, {
    method: 'PUT',
    headers: { 'X-Auth-Token': session.token },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  await res.arrayBuffer();
  assert.ok(res.status === 201 || res.status === 202, `PUT ${name}: ${res.status}`);
}

describe('berth import-v1-storage on a real Swift (old swift flavor, in place)', () => {
  const run = randomBytes(4).toString('hex');
  const backend = swiftBackend({ tag: `v1import-${run}` });
  const container = `berth-v1import-${run}`;
  after(async () => {
    if (backend.missing === undefined) await backend.cleanup();
  });

  test('old tree in the container → import with SETTINGS_FLAVOR=swift → pull over v1 and v2', { skip: inCi ? false : backend.missing, timeout: 120_000 }, async () => {
    assert.equal(backend.missing, undefined, `CI=true but ${backend.missing ?? ''}`);
    const login = await fetch(envVar('BERTH_SWIFT_AUTH_URL') ?? '', {
      headers: { 'X-Auth-User': envVar('BERTH_SWIFT_USER') ?? '', 'X-Auth-Key': envVar('BERTH_SWIFT_KEY') ?? '' },
    });
    await login.arrayBuffer();
    const session = { url: login.headers.get('x-storage-url') ?? '', token: login.headers.get('x-auth-token') ?? '' };
    const created = await fetch(`${session.url}/${container}`, { method: 'PUT', headers: { 'X-Auth-Token': session.token } });
    await created.arrayBuffer();
    assert.ok(created.status === 201 || created.status === 202, `container: ${created.status}`);

    // The tree a v1 push of ns/app:latest left with STORAGE_PATH=/registry.
    const chain = v1Chain(2);
    const [base, top] = chain as [V1Fixture, V1Fixture];
    for (let i = 0; i < chain.length; i++) {
      const image = chain[i] as V1Fixture;
      const prefix = `registry/images/${image.id}`;
      await swiftPut(session, container, `${prefix}/json`, image.json);
      await swiftPut(session, container, `${prefix}/ancestry`, pyList(chain.slice(0, i + 1).map((c) => c.id).reverse()));
      await swiftPut(session, container, `${prefix}/layer`, image.layer);
      await swiftPut(session, container, `${prefix}/_checksum`, pyList([payloadChecksum(image.json, image.layer)]));
    }
    await swiftPut(session, container, 'registry/repositories/ns/app/tag_latest', top.id);
    await swiftPut(session, container, 'registry/repositories/ns/app/taglatest_json', tagMeta(1_433_154_030));
    await swiftPut(session, container, 'registry/repositories/ns/app/json', tagMeta(1_433_154_030));
    await swiftPut(session, container, 'registry/repositories/ns/app/_index_images', `[{"id": "${base.id}"}, {"id": "${top.id}"}]`);

    // The old registry's environment, nothing else: it names both the old tree and Berth's storage.
    const env: NodeJS.ProcessEnv = {
      SETTINGS_FLAVOR: 'swift',
      OS_AUTH_URL: envVar('BERTH_SWIFT_AUTH_URL') ?? '',
      OS_AUTH_VERSION: '1',
      OS_USERNAME: envVar('BERTH_SWIFT_USER') ?? '',
      OS_PASSWORD: envVar('BERTH_SWIFT_KEY') ?? '',
      OS_CONTAINER: container,
    };
    const res = await runCli(['swift:'], env);
    assert.equal(res.code, 0, `${res.out}\n${res.err}`);
    assert.match(res.out, new RegExp(`swift container ${container}, storage path /registry`));
    assert.match(res.out, /tags: 1 imported/);
    assert.ok(!`${res.out}${res.err}`.includes(envVar('BERTH_SWIFT_KEY') ?? '\u0000'), 'the password is never printed');

    const { config } = await loadConfigFile(undefined, env);
    const driver: StorageDriver = createDriver(config.storage.driver, config.storage.params);
    const t = buildTestApp({ driver });
    await pullV1(t, 'ns/app', 'latest', chain);
    await pullV2(t, 'ns/app', 'latest', chain);

    const again = await runImport(['swift:'], env);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /nothing to do/);
  });
});
