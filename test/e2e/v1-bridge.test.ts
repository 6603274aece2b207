/**
 * End-to-end v1⇄v2 bridge against a real Berth process (startBerth), with real clients:
 *
 * - v2 → v1: images pushed with skopeo (Docker schema 2 and OCI, one with empty-layer history
 *   steps) are pulled with Joyent's `docker-registry-client` v1 client (`createClientV1`, the
 *   client SmartOS imgadm 3.0–3.7 used: ping, session via `…/images`, tags, ancestry, JSON,
 *   layer streams) — layer bytes and count identical, `Content-Length` on every layer; also the
 *   library's v1 ping, login and search; and the library's v2 client limited to schema1
 *   (`maxSchemaVersion: 1`) verifies the signed schema1 manifest with its own JWS code.
 * - v1 → v2: a push scripted exactly as docker 1.x sends it (index PUT, per image GET json /
 *   PUT json / chunked PUT layer / PUT checksum, tag PUT, final PUT images) is pulled with
 *   skopeo over v2 (blobs byte for byte, config diff_ids) and over v1 again.
 * - determinism: a restart on the same storage and a second instance on fresh storage give the
 *   same v1 IDs and synthesized digests.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import drc, { type BlobReadStream, type MaybeError, type RegistryClientV1, type RegistryResponse } from 'docker-registry-client';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { createMemoryLogger, Drc } from '../helpers/drc.js';
import { buildImage, MediaType, sha256Digest, writeOciLayout, type Blob, type BuiltImage } from '../helpers/oci-image.js';
import { createTar } from '../helpers/tar.js';

const EMPTY_GZ = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
const DOCKER_UA = 'docker/1.9.1 go/go1.4.3 git-commit/a34a1d5 kernel/4.2.0 os/linux arch/amd64';
const run = randomBytes(4).toString('hex');

// ---- skopeo

interface RunResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

function runSkopeo(args: readonly string[]): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    execFile('skopeo', ['--insecure-policy', ...args], { timeout: 45_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number' && error.killed !== true) {
        reject(error);
        return;
      }
      resolveRun({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr: stderr.toString() });
    });
  });
}

async function skopeo(args: readonly string[]): Promise<RunResult> {
  const result = await runSkopeo(args);
  assert.equal(result.code, 0, `skopeo ${args.join(' ')} exited ${String(result.code)}:\n${result.stderr}`);
  return result;
}

// ---- Joyent's v1 client, promisified

function v1Client(berth: BerthProcess, repo: string): RegistryClientV1 {
  return drc.createClientV1({ name: `${berth.host}/${repo}`, scheme: 'http', insecure: true, log: createMemoryLogger() });
}

function call<T>(fn: (cb: (err: MaybeError, value: T, res?: RegistryResponse) => void) => void): Promise<{ value: T; res: RegistryResponse | undefined }> {
  return new Promise((resolve, reject) => fn((err, value, res) => (err ? reject(err) : resolve({ value, res }))));
}

function readLayer(client: RegistryClientV1, imgId: string): Promise<{ bytes: Buffer; headers: BlobReadStream['headers']; status: number }> {
  return new Promise((resolve, reject) => {
    client.getImgLayerStream({ imgId }, (err, stream) => {
      if (err || stream === undefined) {
        reject(err ?? new Error('no stream'));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('end', () => resolve({ bytes: Buffer.concat(chunks), headers: stream.headers, status: stream.statusCode }));
      stream.resume();
    });
  });
}

interface V1Pull {
  readonly tags: Record<string, string>;
  readonly ancestry: string[];
  readonly jsons: Record<string, unknown>[];
  readonly layers: Buffer[];
}

/** imgadm 3.x's sequence: ping, tags (the session starts with GET …/images), ancestry, then base→top json + layer. */
async function pullV1(berth: BerthProcess, repo: string, tag: string): Promise<V1Pull> {
  const client = v1Client(berth, repo);
  try {
    const ping = await call<unknown>((cb) => client.ping(cb));
    assert.equal(ping.res?.headers['x-docker-registry-standalone'], 'true');
    const tags = (await call<unknown>((cb) => client.listRepoTags(cb))).value as Record<string, string>;
    assert.ok(client.token?.startsWith('signature='), 'session token from X-Docker-Token');
    const id = (await call<unknown>((cb) => client.getImgId({ tag }, cb))).value;
    assert.equal(typeof id, 'string');
    assert.equal(id, tags[tag]);
    const ancestry = (await call<unknown>((cb) => client.getImgAncestry({ imgId: String(id) }, cb))).value as string[];
    const jsons: Record<string, unknown>[] = [];
    const layers: Buffer[] = [];
    for (const imgId of [...ancestry].reverse()) {
      const json = await call<unknown>((cb) => client.getImgJson({ imgId }, cb));
      jsons.push(json.value as Record<string, unknown>);
      const layer = await readLayer(client, imgId);
      assert.equal(layer.status, 200);
      assert.equal(layer.headers['content-length'], String(layer.bytes.length), 'imgadm needs Content-Length on layers');
      assert.equal(json.res?.headers['x-docker-size'], String(layer.bytes.length));
      layers.push(layer.bytes);
    }
    return { tags, ancestry, jsons, layers };
  } finally {
    client.close();
  }
}

// ---- a scripted docker 1.x push over plain HTTP

interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

function http(berth: BerthProcess, method: string, path: string, headers: Record<string, string>, body?: Buffer, chunked = false): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: berth.port, method, path, headers: { 'User-Agent': DOCKER_UA, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) {
      req.end();
    } else if (chunked) {
      // docker streams layers with Transfer-Encoding: chunked, in pieces.
      for (let i = 0; i < body.length; i += 32 * 1024) req.write(body.subarray(i, i + 32 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

interface V1Fixture {
  readonly id: string;
  readonly json: Buffer;
  readonly layer: Buffer;
  readonly diffId: string;
  readonly gzip: boolean;
}

function fixtureChain(): V1Fixture[] {
  const chain: V1Fixture[] = [];
  for (let i = 0; i < 3; i++) {
    const id = randomBytes(32).toString('hex');
    const tar = createTar([
      { name: `layer${i}/`, mtime: 1_400_000_000 },
      { name: `layer${i}/data.bin`, data: randomBytes(150_000 + i * 1000), mtime: 1_400_000_000 },
    ]);
    const gzip = i !== 1; // docker 1.x pushed plain tars; gzipped ones exist too
    const parent = chain[i - 1]?.id;
    const json = Buffer.from(
      JSON.stringify({
        id,
        ...(parent !== undefined ? { parent } : {}),
        created: `2015-06-0${i + 1}T10:00:00.5Z`,
        container_config: { Cmd: ['/bin/sh', '-c', `step ${i}`] },
        config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'] },
        docker_version: '1.9.1',
        architecture: 'amd64',
        os: 'linux',
        Size: tar.length,
      }),
    );
    chain.push({ id, json, layer: gzip ? gzipSync(tar) : tar, diffId: sha256Digest(tar), gzip });
  }
  return chain;
}

async function dockerPushV1(berth: BerthProcess, name: string, tag: string, chain: readonly V1Fixture[]): Promise<void> {
  const top = chain[chain.length - 1] as V1Fixture;
  const list = [...chain.slice(0, -1).map((c) => ({ id: c.id })), { id: top.id, Tag: tag }];
  const index = await http(berth, 'PUT', `/v1/repositories/${name}/`, { 'X-Docker-Token': 'true', 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(list)));
  assert.equal(index.status, 200, index.body.toString());
  const token = String(index.headers['x-docker-token']);
  const endpoints = String(index.headers['x-docker-endpoints']);
  assert.equal(endpoints, berth.host);
  const auth = { Authorization: `Token ${token.replace(/^Token /, '')}` };
  for (const image of chain) {
    const exists = await http(berth, 'GET', `/v1/images/${image.id}/json`, auth);
    assert.equal(exists.status, 404);
    assert.equal((await http(berth, 'PUT', `/v1/images/${image.id}/json`, { ...auth, 'Content-Type': 'application/json' }, image.json)).status, 200);
    const layer = await http(berth, 'PUT', `/v1/images/${image.id}/layer`, { ...auth, 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' }, image.layer, true);
    assert.equal(layer.status, 200, layer.body.toString());
    const payload = `sha256:${createHash('sha256').update(image.json).update('\n').update(image.layer).digest('hex')}`;
    const sum = await http(berth, 'PUT', `/v1/images/${image.id}/checksum`, { ...auth, 'X-Docker-Checksum': 'tarsum+sha256:unused', 'X-Docker-Checksum-Payload': payload });
    assert.equal(sum.status, 200, sum.body.toString());
  }
  const tagged = await http(berth, 'PUT', `/v1/repositories/${name}/tags/${tag}`, { ...auth, 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(top.id)));
  assert.equal(tagged.status, 200, tagged.body.toString());
  const done = await http(berth, 'PUT', `/v1/repositories/${name}/images`, { ...auth, 'X-Docker-Token': 'true', 'X-Docker-Endpoints': endpoints, 'Content-Type': 'application/json' }, Buffer.from('[]'));
  assert.equal(done.status, 204);
}

// ---- an image with empty-layer history steps

function withEmptySteps(): BuiltImage {
  const base = buildImage({ format: 'oci', layers: 2, layerSizes: [300_000, 40_000] });
  const created = '2024-05-01T12:00:00Z';
  const history = [
    { created, created_by: '/bin/sh -c #(nop) ADD file:base in /' },
    { created, created_by: '/bin/sh -c #(nop) ENV A=1', empty_layer: true },
    { created, created_by: '/bin/sh -c make install' },
    { created, created_by: '/bin/sh -c #(nop) CMD ["sh"]', empty_layer: true },
  ];
  const configJson = { ...base.configJson, history };
  const bytes = Buffer.from(JSON.stringify(configJson));
  const config: Blob = { mediaType: MediaType.ociConfig, digest: sha256Digest(bytes), size: bytes.length, bytes };
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
      layers: base.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  const manifest: Blob = { mediaType: MediaType.ociManifest, digest: sha256Digest(manifestBytes), size: manifestBytes.length, bytes: manifestBytes };
  return { ...base, config, configJson: configJson as BuiltImage['configJson'], manifest, blobs: [...base.layers, config, manifest] };
}

// ---- the suite

let work: string;
let layout: string;
let rootA: string;
let berth: BerthProcess;
let docker2: BuiltImage;
let oci: BuiltImage;
let empty: BuiltImage;
let pushedV1: V1Fixture[];
const repo = (suffix: string): string => `e2ev1/${run}-${suffix}`;

async function skopeoPush(b: BerthProcess, tag: string, target: string, format: 'v2s2' | 'oci'): Promise<void> {
  await skopeo(['copy', '--dest-tls-verify=false', '--format', format, `oci:${layout}:${tag}`, `docker://${b.host}/${target}`]);
}

describe('v1 bridge end to end (skopeo, docker-registry-client v1)', { timeout: 170_000 }, () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-v1-'));
    layout = join(work, 'layout');
    rootA = join(work, 'storage-a');
    // skopeo's oci: transport reads OCI manifests only; --format v2s2 makes Docker schema 2 of them.
    docker2 = buildImage({ format: 'oci', layerSizes: [1024 * 1024 + 7, 64 * 1024] });
    oci = buildImage({ format: 'oci', layers: 1 });
    empty = withEmptySteps();
    await writeOciLayout(layout, [...docker2.blobs, ...oci.blobs, ...empty.blobs], [
      { tag: 'docker', target: docker2.manifest },
      { tag: 'oci', target: oci.manifest },
      { tag: 'empty', target: empty.manifest },
    ]);
    pushedV1 = fixtureChain();
    berth = await startBerth({ rootDir: rootA });
  });

  after(async () => {
    await berth?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('pulls over v1 an image skopeo pushed as Docker schema 2: same layers, same count', { timeout: 40_000 }, async () => {
    await skopeoPush(berth, 'docker', `${repo('docker')}:v1`, 'v2s2');
    const pulled = await pullV1(berth, repo('docker'), 'v1');
    assert.deepEqual(Object.keys(pulled.tags), ['v1']);
    assert.equal(pulled.layers.length, docker2.layers.length);
    pulled.layers.forEach((bytes, i) => assert.ok(bytes.equals(docker2.layers[i]?.bytes ?? Buffer.alloc(0)), `layer ${i} byte for byte`));
    const top = pulled.jsons[pulled.jsons.length - 1] ?? {};
    assert.equal(top['id'], pulled.ancestry[0]);
    assert.deepEqual(top['config'], docker2.configJson.config);
    for (const json of pulled.jsons) assert.match(String(json['id']), /^[0-9a-f]{64}$/);
  });

  it('pulls over v1 an OCI image, and one with empty-layer history steps', { timeout: 40_000 }, async () => {
    await skopeoPush(berth, 'oci', `${repo('oci')}:latest`, 'oci');
    const o = await pullV1(berth, repo('oci'), 'latest');
    assert.equal(o.layers.length, 1);
    assert.ok(o.layers[0]?.equals(oci.layers[0]?.bytes ?? Buffer.alloc(0)));

    await skopeoPush(berth, 'empty', `${repo('empty')}:latest`, 'v2s2');
    const e = await pullV1(berth, repo('empty'), 'latest');
    assert.equal(e.ancestry.length, 4, 'one v1 image per history step');
    assert.deepEqual(e.jsons.map((j) => j['throwaway'] === true), [false, true, false, true]);
    assert.ok(e.layers[0]?.equals(empty.layers[0]?.bytes ?? Buffer.alloc(0)));
    assert.ok(e.layers[2]?.equals(empty.layers[1]?.bytes ?? Buffer.alloc(0)));
    for (const i of [1, 3]) {
      assert.equal(sha256Digest(e.layers[i] ?? Buffer.alloc(0)), EMPTY_GZ);
      assert.equal(gunzipSync(e.layers[i] ?? Buffer.alloc(0)).length, 1024);
    }
  });

  it('v1 ping, login and search through the library', { timeout: 20_000 }, async () => {
    const log = createMemoryLogger();
    const ping = await call<unknown>((cb) => drc.pingIndexV1({ indexName: `http://${berth.host}`, log }, cb));
    assert.equal(ping.res?.headers['x-docker-registry-standalone'], 'true');
    const login = await new Promise<{ status: string } | undefined>((resolve, reject) =>
      drc.loginV1({ indexName: `http://${berth.host}`, username: 'u', email: 'u@berth.test', password: 'p', log }, (err, result) => (err ? reject(err) : resolve(result))),
    );
    assert.equal(login?.status, 'Login Succeeded');
    const client = v1Client(berth, repo('docker'));
    try {
      const hits = (await call<unknown>((cb) => client.search({ term: run }, cb))).value as { results: { name: string }[] };
      assert.ok(hits.results.some((r) => r.name === repo('docker')));
    } finally {
      client.close();
    }
  });

  it('a schema1-only v2 client gets a signed schema1 manifest its own JWS code verifies', { timeout: 20_000 }, async () => {
    const client = new Drc({ host: berth.host, repo: repo('docker') });
    try {
      const res = await new Promise<{ manifest: Record<string, unknown>; digest: string | undefined }>((resolve, reject) =>
        client.client.getManifest({ ref: 'v1', maxSchemaVersion: 1 }, (err, manifest, r) =>
          err ? reject(err) : resolve({ manifest: manifest as Record<string, unknown>, digest: r?.headers['docker-content-digest'] as string | undefined }),
        ),
      );
      assert.equal(res.manifest['schemaVersion'], 1);
      assert.equal((res.manifest['fsLayers'] as unknown[]).length, docker2.layers.length);
      const pulled = await pullV1(berth, repo('docker'), 'v1');
      const history = res.manifest['history'] as { v1Compatibility: string }[];
      assert.equal((JSON.parse(history[0]?.v1Compatibility ?? '{}') as { id: string }).id, pulled.tags['v1']);
    } finally {
      client.close();
    }
  });

  it("a push scripted as docker 1.x sends it is pulled over v2 with skopeo, and over v1 again", { timeout: 40_000 }, async () => {
    await dockerPushV1(berth, repo('pushed'), 'latest', pushedV1);
    const out = join(work, 'pulled-dir');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${berth.host}/${repo('pushed')}:latest`, `dir:${out}`]);
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as {
      mediaType: string;
      config: { digest: string };
      layers: { digest: string; mediaType: string }[];
    };
    assert.equal(manifest.mediaType, MediaType.dockerManifest);
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), pushedV1.map((c) => (c.gzip ? MediaType.dockerLayerGzip : 'application/vnd.docker.image.rootfs.diff.tar')));
    for (const [i, layer] of manifest.layers.entries()) {
      const bytes = await readFile(join(out, layer.digest.slice('sha256:'.length)));
      assert.ok(bytes.equals(pushedV1[i]?.layer ?? Buffer.alloc(0)), `layer ${i} byte for byte over v2`);
    }
    const config = JSON.parse(await readFile(join(out, manifest.config.digest.slice('sha256:'.length)), 'utf8')) as { rootfs: { diff_ids: string[] }; history: unknown[] };
    assert.deepEqual(config.rootfs.diff_ids, pushedV1.map((c) => c.diffId));
    assert.equal(config.history.length, pushedV1.length);

    const again = await pullV1(berth, repo('pushed'), 'latest');
    assert.deepEqual(again.ancestry, [...pushedV1].reverse().map((c) => c.id));
    again.layers.forEach((bytes, i) => assert.ok(bytes.equals(pushedV1[i]?.layer ?? Buffer.alloc(0))));
    for (const [i, c] of pushedV1.entries()) {
      const raw = await http(berth, 'GET', `/v1/images/${c.id}/json`, {});
      assert.ok(raw.body.equals(c.json), `image JSON ${i} exactly as pushed`);
    }
  });

  it('deterministic: a restart and a second instance give the same v1 IDs and digests', { timeout: 60_000 }, async () => {
    const before = (await pullV1(berth, repo('empty'), 'latest')).ancestry;
    const v2Before = (await http(berth, 'HEAD', `/v2/${repo('pushed')}/manifests/latest`, { Accept: MediaType.dockerManifest })).headers['docker-content-digest'];
    await berth.kill('SIGTERM');
    berth = await startBerth({ rootDir: rootA });
    const restarted = await http(berth, 'GET', `/v1/images/${before[0] ?? ''}/ancestry`, {});
    assert.equal(restarted.status, 200, 'bridge records survive a restart (no re-listing needed)');
    assert.deepEqual(JSON.parse(restarted.body.toString()), before);

    const other = await startBerth();
    try {
      await skopeoPush(other, 'empty', `${repo('empty')}:latest`, 'v2s2');
      assert.deepEqual((await pullV1(other, repo('empty'), 'latest')).ancestry, before);
      await dockerPushV1(other, repo('pushed'), 'latest', pushedV1);
      const v2Other = (await http(other, 'HEAD', `/v2/${repo('pushed')}/manifests/latest`, { Accept: MediaType.dockerManifest })).headers['docker-content-digest'];
      assert.equal(v2Other, v2Before);
    } finally {
      await other.stop();
    }
  });
});
