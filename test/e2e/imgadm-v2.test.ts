/**
 * End to end: the exact sequence SmartOS imgadm 3.8+ performs for
 * `imgadm sources -a http://<berth> -t docker -k` and `imgadm import <berth>/<name>:<tag>`
 * (imgadm.md §1–§2), against a real Berth process, with Joyent's docker-registry-client configured
 * as imgadm configures it (test/helpers/drc.ts: one v2 client per repository, http, insecure,
 * maxSchemaVersion 2, no credentials, no list types accepted):
 *
 *   1. pingV2 of the source URL (200, or 401);
 *   2. GET /v2/<name>/manifests/<tag> (a list would be followed by a GET of its first
 *      linux/amd64|386 child);
 *   3. GET of the config blob, parsed as JSON;
 *   4. the UUID chain and the manifests (no network) — compared with Berth's translation endpoint;
 *   5. GET of every layer blob, at most 5 in parallel, each with a Content-Length (imgadm refuses
 *      chunked layers), a Docker-Content-Digest equal to the digest asked for, and bytes that hash
 *      to it.
 *
 * The installed library is docker-registry-client 3.4.0, not the 3.2.10 (+ OS-8675 patches) that
 * imgadm vendors: 3.4 sends the same Accept set as imgadm 3.9.5 (Docker schema 2 + OCI manifest,
 * plus `application/json`), but its name rules are laxer (dots in the namespace). Where that
 * matters the test speaks HTTP itself: the Accept set of imgadm 3.8–3.9.4 (Docker schema 2 only),
 * separate Accept lines, gzip, redirects; and the namespace rules come from translate.ts's
 * `imgadmNameProblems`, which encodes 3.2.10's. imgadm never sends credentials: Berth has no auth
 * yet, so anonymous pull is the only mode (anonymous Bearer tokens will matter once auth lands).
 *
 * Last, the same images through `imgadm sources -a http://<berth>/imgapi -t imgapi`: ping,
 * GetImage of the top UUID, the origin walk, GetImageFile of each (same bytes as the docker path);
 * and the v1-era UUIDs (`?uuids=v1`) against what Berth's v1 API serves imgadm 3.5–3.7.
 */
import { randomBytes, createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { createMemoryLogger, Drc, DrcError, pingV2, type LogRecord } from '../helpers/drc.js';
import {
  buildImage,
  buildMultiPlatform,
  MediaType,
  pushImageOverHttp,
  pushIndexOverHttp,
  sha256Digest,
  type BuiltImage,
  type BuiltIndex,
} from '../helpers/oci-image.js';
import type { SmartOsImageManifest, TranslationResponse } from '../../src/smartos/schema.js';
import { imgadmNameProblems, translate } from '../../src/smartos/translate.js';
import { imgUuidFromDockerV1Id, uuidChain } from '../../src/smartos/uuid.js';

/** What imgadm 3.8.0–3.9.4 (unpatched drc 3.2.10) sends as Accept, one header line each. */
const ACCEPT_IMGADM_38 = ['application/json', MediaType.dockerManifest];
/** imgadm 3.9.5 (OS-8675). */
const ACCEPT_IMGADM_395 = ['application/json', MediaType.dockerManifest, MediaType.ociManifest];
const LIST_TYPES: readonly string[] = [MediaType.dockerList, MediaType.ociIndex];

interface Raw {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A GET with exactly these headers (array values go out as repeated lines, as node writes them). */
function rawGet(url: string, headers: Record<string, string | string[]> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Imported {
  readonly manifestDigest: string | undefined;
  readonly manifest: Record<string, unknown>;
  readonly config: Buffer;
  readonly layers: readonly { readonly digest: string; readonly size: number; readonly mediaType: string }[];
  readonly uuids: readonly string[];
  readonly manifests: readonly SmartOsImageManifest[];
  readonly blobs: ReadonlyMap<string, Buffer>;
}

let berth: BerthProcess | undefined;
let url = '';
let host = '';
const run = randomBytes(4).toString('hex');
const ns = `imgadm-e2e`;
const records: LogRecord[] = [];
const clients: Drc[] = [];
const images: { docker?: BuiltImage; oci?: BuiltImage; multi?: BuiltIndex; dlist?: BuiltIndex; nomt?: BuiltIndex } = {};

function client(repo: string): Drc {
  const c = new Drc({ host, repo, log: createMemoryLogger(records) });
  clients.push(c);
  return c;
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** `imgadm import <host>/<repo>:<tag>`, network steps 2–5, as DockerSource + _importImage do them. */
async function imgadmImport(repo: string, tag: string): Promise<Imported> {
  const c = client(repo);
  let got = await c.getManifest(tag);
  let manifest = got.manifest;
  if (typeof manifest['mediaType'] === 'string' && LIST_TYPES.includes(manifest['mediaType'])) {
    // 3.9.5 only: the first linux/amd64|386 entry, fetched by digest.
    const entry = listOf(manifest['manifests']).find((m) => {
      const p = isRecord(m) ? m['platform'] : undefined;
      return isRecord(p) && p['os'] === 'linux' && (p['architecture'] === 'amd64' || p['architecture'] === '386');
    });
    assert.ok(isRecord(entry) && typeof entry['digest'] === 'string', 'no linux/amd64 entry');
    got = await c.getManifest(entry['digest']);
    manifest = got.manifest;
  }
  assert.equal(manifest['schemaVersion'], 2);
  assert.equal(typeof manifest['mediaType'], 'string', 'manifest bodies carry mediaType');
  const config = manifest['config'];
  assert.ok(isRecord(config) && typeof config['digest'] === 'string', 'config.digest');
  const layers = listOf(manifest['layers']).map((l) => {
    assert.ok(isRecord(l) && typeof l['digest'] === 'string' && typeof l['size'] === 'number' && typeof l['mediaType'] === 'string');
    return { digest: l['digest'], size: l['size'], mediaType: l['mediaType'] };
  });
  assert.ok(layers.length > 0, 'layers');
  const configBlob = await c.readBlob(config['digest']);
  JSON.parse(configBlob.bytes.toString());
  const digests = layers.map((l) => l.digest);
  const translated = translate({
    registry: host,
    repository: repo,
    tag,
    image: {
      kind: 'schema2',
      manifestMediaType: String(manifest['mediaType']),
      configMediaType: String(config['mediaType']),
      config: configBlob.bytes,
      layers,
    },
  });
  // Downloads: a queue of concurrency 5, as imgadm's downloadQ.
  const blobs = new Map<string, Buffer>();
  let inFlight = 0;
  let maxInFlight = 0;
  const queue = [...layers];
  const worker = async (): Promise<void> => {
    for (let l = queue.shift(); l !== undefined; l = queue.shift()) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const blob = await c.readBlob(l.digest);
        const final = blob.ress.at(-1);
        const first = blob.ress[0];
        assert.ok(final !== undefined && first !== undefined);
        const cl = Number(blob.headers['content-length']);
        assert.ok(Number.isInteger(cl) && cl >= 0, `Content-Length on ${l.digest}: ${String(blob.headers['content-length'])}`);
        assert.equal(cl, l.size);
        assert.equal(blob.bytes.length, cl);
        assert.equal(first.headers['docker-content-digest'], l.digest);
        assert.equal(sha256Digest(blob.bytes), l.digest);
        for (const r of blob.ress.slice(0, -1)) assert.ok(r.statusCode === 302 || r.statusCode === 307, `redirect ${r.statusCode}`);
        blobs.set(l.digest, blob.bytes);
      } finally {
        inFlight--;
      }
    }
  };
  await Promise.all(Array.from({ length: 5 }, worker));
  assert.ok(maxInFlight <= 5);
  return {
    manifestDigest: got.digest,
    manifest,
    config: configBlob.bytes,
    layers,
    uuids: uuidChain(digests),
    manifests: translated.layers.map((l) => l.manifest),
    blobs,
  };
}

async function translation(repo: string, tag: string): Promise<TranslationResponse> {
  const res = await rawGet(`${url}/smartos/v1/images/${repo}:${tag}?registry=${encodeURIComponent(host)}`, { accept: 'application/json' });
  assert.equal(res.status, 200, res.body.toString());
  return JSON.parse(res.body.toString()) as TranslationResponse;
}

describe('imgadm 3.8+ import from a Berth docker source', { timeout: 120_000 }, () => {
  before(async () => {
    const override = process.env['BERTH_E2E_REGISTRY_URL'];
    if (override !== undefined && override !== '') {
      url = new URL(override).origin;
    } else {
      berth = await startBerth();
      url = berth.url;
    }
    host = new URL(url).host;
    images.docker = buildImage({ format: 'docker', layers: 7, layerBytes: 16 * 1024, cmd: ['/usr/bin/app', '--serve'] });
    images.oci = buildImage({ format: 'oci', layers: 2, layerBytes: 8 * 1024 });
    images.multi = buildMultiPlatform(undefined, { layers: 2, layerBytes: 4096 });
    images.dlist = buildMultiPlatform(undefined, { format: 'docker', layers: 1, layerBytes: 4096 });
    images.nomt = buildMultiPlatform(undefined, { layers: 1, layerBytes: 4096 });
    await pushImageOverHttp(url, `${ns}/${run}-docker`, '1.0', images.docker);
    await pushImageOverHttp(url, `${ns}/${run}-oci`, '1.0', images.oci);
    await pushIndexOverHttp(url, `${ns}/${run}-multi`, 'latest', images.multi);
    await pushIndexOverHttp(url, `${ns}/${run}-dlist`, 'latest', images.dlist);
    // An OCI index without the optional `mediaType` field, pushed with its Content-Type only.
    const nomt = images.nomt;
    for (const [i, img] of nomt.images.entries()) await pushImageOverHttp(url, `${ns}/${run}-nomt`, `c${i}`, img);
    const indexJson = JSON.parse(nomt.index.bytes.toString()) as Record<string, unknown>;
    delete indexJson['mediaType'];
    const put = await fetch(`${url}/v2/${ns}/${run}-nomt/manifests/latest`, {
      method: 'PUT',
      headers: { 'content-type': MediaType.ociIndex },
      body: JSON.stringify(indexJson),
    });
    assert.equal(put.status, 201, await put.text());
  });

  after(async () => {
    for (const c of clients) c.close();
    const problems = records.filter(([level]) => level === 'error' || level === 'fatal');
    if (problems.length > 0) console.error('docker-registry-client logged:', JSON.stringify(problems, null, 1));
    await berth?.stop();
  });

  test('imgadm sources -a http://<berth> -t docker -k: the ping passes', async () => {
    const { res, body } = await pingV2(url);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body, {});
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  test('the repository names pass imgadm 3.2.10 name rules', () => {
    for (const repo of ['docker', 'oci', 'multi', 'dlist', 'nomt']) assert.deepEqual(imgadmNameProblems(host, `${ns}/${run}-${repo}`), []);
    // drc 3.4 accepts dots in the namespace; imgadm's vendored 3.2.10 does not.
    assert.notDeepEqual(imgadmNameProblems(host, 'my.ns/app'), []);
  });

  test('imgadm import of a Docker schema 2 image: manifest, config, UUIDs, 7 layers 5 at a time', async () => {
    const img = images.docker;
    assert.ok(img !== undefined);
    const repo = `${ns}/${run}-docker`;
    const got = await imgadmImport(repo, '1.0');
    assert.equal(got.manifestDigest, img.manifest.digest);
    assert.equal(got.manifest['mediaType'], MediaType.dockerManifest);
    assert.deepEqual(got.uuids, uuidChain(img.layers.map((l) => l.digest)));
    for (const l of img.layers) assert.ok(got.blobs.get(l.digest)?.equals(l.bytes));
    // Berth's translation endpoint says the same as what imgadm computes from the bytes it got.
    const t = await translation(repo, '1.0');
    assert.deepEqual(t.images, got.manifests);
    assert.equal(t.uuid, got.uuids.at(-1));
    assert.equal(t.ref, `${host}/${repo}:1.0`);
    assert.deepEqual(t.warnings, []);
    assert.equal(t.images.at(-1)?.tags['docker:repo'], `${host}/${repo}`);
  });

  test('imgadm import of an OCI image manifest', async () => {
    const img = images.oci;
    assert.ok(img !== undefined);
    const got = await imgadmImport(`${ns}/${run}-oci`, '1.0');
    assert.equal(got.manifest['mediaType'], MediaType.ociManifest);
    assert.deepEqual(got.uuids, uuidChain(img.layers.map((l) => l.digest)));
    assert.deepEqual((await translation(`${ns}/${run}-oci`, '1.0')).images, got.manifests);
  });

  test('an OCI index is answered with its linux/amd64 image (imgadm 3.9.5 accepts no list type)', async () => {
    const multi = images.multi;
    assert.ok(multi !== undefined);
    const amd64 = multi.images.find((i) => i.platform.architecture === 'amd64');
    assert.ok(amd64 !== undefined);
    const got = await imgadmImport(`${ns}/${run}-multi`, 'latest');
    assert.equal(got.manifestDigest, amd64.manifest.digest, 'the child, not the index');
    assert.deepEqual(got.uuids, uuidChain(amd64.layers.map((l) => l.digest)));
    const t = await translation(`${ns}/${run}-multi`, 'latest');
    assert.deepEqual(t.images, got.manifests);
    // imgadm 3.8–3.9.4 (Docker schema 2 only) on a Docker manifest list: the Docker child.
    const dlist = images.dlist;
    assert.ok(dlist !== undefined);
    const dAmd64 = dlist.images.find((i) => i.platform.architecture === 'amd64');
    const old = await rawGet(`${url}/v2/${ns}/${run}-dlist/manifests/latest`, { accept: ACCEPT_IMGADM_38 });
    assert.equal(old.status, 200);
    assert.equal(old.headers['docker-content-digest'], dAmd64?.manifest.digest);
    assert.ok(old.body.equals(dAmd64?.manifest.bytes ?? Buffer.alloc(0)));
  });

  test('an OCI index without mediaType in its body still gets imgadm its image manifest', async () => {
    const nomt = images.nomt;
    assert.ok(nomt !== undefined);
    const amd64 = nomt.images.find((i) => i.platform.architecture === 'amd64');
    const got = await imgadmImport(`${ns}/${run}-nomt`, 'latest');
    assert.equal(got.manifestDigest, amd64?.manifest.digest);
  });

  test('imgadm 3.8–3.9.4 on an OCI index with OCI children gets the linux/amd64 image', async () => {
    const res = await rawGet(`${url}/v2/${ns}/${run}-multi/manifests/latest`, { accept: ACCEPT_IMGADM_38 });
    assert.equal(res.status, 200, `${res.status} ${res.body.toString()}`);
  });

  test('wire details imgadm depends on', async () => {
    const img = images.docker;
    assert.ok(img !== undefined);
    const repo = `${ns}/${run}-docker`;
    // Separate Accept lines are merged; JSON is never gzipped, even when the client offers gzip.
    for (const accept of [ACCEPT_IMGADM_38, ACCEPT_IMGADM_395]) {
      const m = await rawGet(`${url}/v2/${repo}/manifests/1.0`, { accept, 'accept-encoding': 'gzip, deflate' });
      assert.equal(m.status, 200, 'manifests are never redirected');
      assert.equal(m.headers['content-encoding'], undefined);
      assert.equal(m.headers['content-type'], MediaType.dockerManifest);
      assert.equal(m.headers['content-length'], String(img.manifest.size));
      assert.equal(m.headers['docker-content-digest'], img.manifest.digest);
      assert.equal(m.headers['docker-distribution-api-version'], 'registry/2.0');
    }
    const ping = await rawGet(`${url}/v2/`, { accept: 'application/json', 'accept-encoding': 'gzip' });
    assert.equal(ping.headers['content-encoding'], undefined);
    const blob = await rawGet(`${url}/v2/${repo}/blobs/${img.config.digest}`, { 'accept-encoding': 'gzip' });
    assert.equal(blob.status, 200);
    assert.equal(blob.headers['content-encoding'], undefined);
    assert.equal(blob.headers['transfer-encoding'], undefined, 'no chunked encoding');
    assert.equal(blob.headers['content-length'], String(img.config.size));
    // "not in this source": 404 with a JSON body.
    const missing = await rawGet(`${url}/v2/${repo}/manifests/nope`, { accept: ACCEPT_IMGADM_395 });
    assert.equal(missing.status, 404);
    assert.ok(Array.isArray((JSON.parse(missing.body.toString()) as { errors?: unknown }).errors));
    await assert.rejects(client(repo).getManifest('nope'), (e: unknown) => e instanceof DrcError && e.statusCode === 404);
  });

  test('imgadm sources -a http://<berth>/imgapi -t imgapi serves the same images', async () => {
    const img = images.docker;
    assert.ok(img !== undefined);
    const uuids = uuidChain(img.layers.map((l) => l.digest));
    const headers = { accept: 'application/json', 'accept-version': '~2', 'user-agent': 'imgadm/3.9.5 (node/6.17.1; OpenSSL/1.0.2)' };
    const ping = await rawGet(`${url}/imgapi/ping`, headers);
    assert.equal(ping.status, 200);
    assert.equal(ping.headers['content-type'], 'application/json');
    assert.equal((JSON.parse(ping.body.toString()) as { imgapi?: unknown }).imgapi, true);
    // `imgadm import <top uuid>`, then the origin walk; each file downloaded and checked.
    let uuid: string | undefined = uuids.at(-1);
    const seen: string[] = [];
    while (uuid !== undefined) {
      const got = await rawGet(`${url}/imgapi/images/${uuid}?registry=${encodeURIComponent(host)}`, headers);
      assert.equal(got.status, 200, got.body.toString());
      const manifest = JSON.parse(got.body.toString()) as SmartOsImageManifest & { state: string; files: { sha1: string; size: number }[] };
      assert.equal(manifest.v, 2);
      assert.equal(manifest.state, 'active');
      const file = await rawGet(`${url}/imgapi/images/${uuid}/file`, { 'accept-version': '~2' });
      assert.equal(file.status, 200, 'no redirect');
      assert.equal(file.headers['content-length'], String(manifest.files[0]?.size));
      assert.equal(createHash('sha1').update(file.body).digest('hex'), manifest.files[0]?.sha1);
      assert.ok(img.layers.some((l) => l.bytes.equals(file.body)));
      seen.push(uuid);
      uuid = manifest.origin;
    }
    assert.deepEqual(seen, [...uuids].reverse());
  });

  test('imgadm 3.5–3.7 over v1: ?uuids=v1 names the images Berth\'s v1 API serves', async () => {
    const repo = `${ns}/${run}-docker`;
    const ping = await rawGet(`${url}/v1/_ping`);
    assert.equal(ping.status, 200);
    assert.equal(ping.headers['x-docker-registry-standalone'], 'true', 'imgadm 3.x crashes without this header');
    const tags = JSON.parse((await rawGet(`${url}/v1/repositories/${repo}/tags`)).body.toString()) as Record<string, string>;
    const id = tags['1.0'];
    assert.ok(id !== undefined && /^[0-9a-f]{64}$/.test(id));
    const ancestry = JSON.parse((await rawGet(`${url}/v1/images/${id}/ancestry`)).body.toString()) as string[];
    const v1Chain = [];
    for (const v1id of [...ancestry].reverse()) {
      const json = await rawGet(`${url}/v1/images/${v1id}/json`);
      assert.equal(json.status, 200);
      v1Chain.push({ json: json.body, blob: { mediaType: MediaType.dockerLayerGzip, digest: `sha256:${'0'.repeat(64)}`, size: 0 } });
    }
    const layer = await rawGet(`${url}/v1/images/${id}/layer`);
    assert.equal(layer.status, 200);
    assert.equal(layer.headers['content-length'], String(layer.body.length));
    const img = images.docker;
    assert.ok(img !== undefined);
    const expected = translate({
      registry: host,
      repository: repo,
      tag: '1.0',
      scheme: 'v1',
      v1Tags: Object.keys(tags).filter((t) => tags[t] === id),
      v1Chain,
      image: { kind: 'schema2', manifestMediaType: img.manifest.mediaType, configMediaType: img.config.mediaType, config: img.config.bytes, layers: img.layers },
    });
    const res = await rawGet(`${url}/smartos/v1/images/${repo}:1.0?uuids=v1&registry=${encodeURIComponent(host)}`);
    assert.equal(res.status, 200, res.body.toString());
    const body = JSON.parse(res.body.toString()) as TranslationResponse;
    assert.deepEqual(body.images, expected.layers.map((l) => l.manifest));
    assert.equal(body.uuid, imgUuidFromDockerV1Id(host, id));
  });
});
