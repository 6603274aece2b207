/**
 * End-to-end suite with Joyent's `docker-registry-client` 3.4, the library SmartOS imgadm uses to
 * pull Docker images, configured as imgadm configures it (TritonDataCenter/smartos-live, `src/img/lib/sources/docker.js`):
 * ping, version detection, listTags, getManifest (Docker schema 2 and OCI, by tag and by digest,
 * with the `Docker-Content-Digest` header), blob downloads checked by the library against
 * `Docker-Content-Digest` and `Content-Length`, then a push through the library (blobUpload +
 * putManifest of a new schema 2 manifest) read back with getManifest.
 *
 * Fixtures are seeded over plain HTTP (test/helpers/oci-image.ts), independent of the client.
 * Target: a Berth process started with startBerth(), or, when BERTH_E2E_REGISTRY_URL is set
 * (e.g. http://127.0.0.1:5000), that already running registry.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth } from '../helpers/berth-process.js';
import { createMemoryLogger, digestFromManifestStr, Drc, DrcError, detectApiVersion, pingV2, type LogRecord } from '../helpers/drc.js';
import {
  buildImage,
  buildMultiPlatform,
  MediaType,
  pushImageOverHttp,
  pushIndexOverHttp,
  randomLayer,
  sha256Digest,
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

let target: Target;
const run = randomBytes(4).toString('hex');
/** Namespace of two or more [a-z0-9_-] characters, as imgadm's vendored parseRepo requires. */
const dockerRepo = `e2e-drc/${run}/docker`;
const ociRepo = `e2e-drc/${run}/oci`;
const pushRepo = `e2e-drc/${run}/pushed`;
const listRepo = `e2e-drc/${run}/list`;
let dockerImage: BuiltImage;
let ociImage: BuiltImage;
let multi: BuiltIndex;
let dockerList: BuiltIndex;
const dockerTags = ['v1', '1.0', 'latest'];
const records: LogRecord[] = [];
const clients: Drc[] = [];

function client(repo: string, acceptManifestLists?: boolean): Drc {
  const c = new Drc({
    host: target.host,
    repo,
    log: createMemoryLogger(records),
    ...(acceptManifestLists === undefined ? {} : { acceptManifestLists }),
  });
  clients.push(c);
  return c;
}

function headerOf(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

describe('docker-registry-client (imgadm) end to end', { timeout: 110_000 }, () => {
  before(async () => {
    target = await openTarget();
    dockerImage = buildImage({ format: 'docker', layers: 2 });
    ociImage = buildImage({ format: 'oci', layers: 1 });
    multi = buildMultiPlatform();
    dockerList = buildMultiPlatform(undefined, { format: 'docker', layers: 1 });
    for (const tag of dockerTags) await pushImageOverHttp(target.url, dockerRepo, tag, dockerImage);
    await pushImageOverHttp(target.url, ociRepo, 'v1', ociImage);
    await pushIndexOverHttp(target.url, ociRepo, 'multi', multi);
    await pushIndexOverHttp(target.url, listRepo, 'list', dockerList);
  });

  after(async () => {
    for (const c of clients) c.close();
    const problems = records.filter(([level]) => level === 'error' || level === 'fatal');
    if (problems.length > 0) console.error('docker-registry-client logged:', JSON.stringify(problems, null, 1));
    await target?.stop();
  });

  it('pingV2 and client.ping get 200 {} with the registry/2.0 header', { timeout: 15_000 }, async () => {
    // imgadm pings the docker source URL (`imgadm sources -a http://host:port -t docker`).
    for (const { body, res } of [await pingV2(target.url), await client(dockerRepo).ping()]) {
      assert.equal(res.statusCode, 200);
      assert.deepEqual(body, {});
      assert.equal(headerOf(res.headers, 'docker-distribution-api-version'), 'registry/2.0');
    }
    assert.equal(await client(dockerRepo).supportsV2(), true);
    assert.equal(await detectApiVersion(target.host, dockerRepo), 2);
  });

  it('listTags returns the repository name and its tags', { timeout: 15_000 }, async () => {
    const { name, tags } = await client(dockerRepo).listTags();
    assert.equal(name, dockerRepo);
    assert.deepEqual([...tags].sort(), [...dockerTags].sort());
  });

  it('getManifest returns a Docker schema 2 manifest with its Docker-Content-Digest', { timeout: 15_000 }, async () => {
    const c = client(dockerRepo);
    for (const ref of ['v1', dockerImage.manifest.digest]) {
      const got = await c.getManifest(ref);
      assert.equal(got.manifestStr, dockerImage.manifest.bytes.toString(), `body of ${ref}`);
      assert.equal(got.digest, dockerImage.manifest.digest, `Docker-Content-Digest of ${ref}`);
      assert.equal(digestFromManifestStr(got.manifestStr), dockerImage.manifest.digest);
      assert.equal(got.manifest.mediaType, MediaType.dockerManifest);
      assert.equal(headerOf(got.res.headers, 'content-type'), MediaType.dockerManifest);
      assert.equal(headerOf(got.res.headers, 'content-length'), String(dockerImage.manifest.size));
    }
  });

  it('getManifest returns an OCI image manifest (imgadm 3.9.5 Accept set)', { timeout: 15_000 }, async () => {
    const got = await client(ociRepo).getManifest('v1');
    assert.equal(got.manifestStr, ociImage.manifest.bytes.toString());
    assert.equal(got.digest, ociImage.manifest.digest);
    assert.equal(got.manifest.mediaType, MediaType.ociManifest);
    assert.equal(headerOf(got.res.headers, 'content-type'), MediaType.ociManifest);
  });

  it('getManifest with acceptManifestLists returns the OCI index', { timeout: 15_000 }, async () => {
    const got = await client(ociRepo, true).getManifest('multi');
    assert.equal(got.manifestStr, multi.index.bytes.toString());
    assert.equal(got.digest, multi.index.digest);
    assert.equal(got.manifest.mediaType, MediaType.ociIndex);
    assert.equal(headerOf(got.res.headers, 'content-type'), MediaType.ociIndex);
  });

  it('getManifest of an index without list types in Accept: amd64 child, the index, or 404', { timeout: 15_000 }, async (t) => {
    // imgadm sends no list/index Accept types; imgadm.md §2.3 recommends serving linux/amd64.
    const amd64 = multi.images.find((img) => img.platform.architecture === 'amd64');
    assert.ok(amd64 !== undefined);
    try {
      const got = await client(ociRepo).getManifest('multi');
      if (got.digest === amd64.manifest.digest) {
        assert.equal(got.manifestStr, amd64.manifest.bytes.toString());
        t.diagnostic('registry resolved the index to its linux/amd64 manifest');
      } else {
        assert.equal(got.digest, multi.index.digest);
        assert.equal(got.manifestStr, multi.index.bytes.toString());
        t.diagnostic('registry served the index itself');
      }
    } catch (err) {
      assert.ok(err instanceof DrcError, String(err));
      assert.equal(err.statusCode, 404, err.message);
      t.diagnostic('registry answered 404 (as distribution 2.8 does)');
    }
  });

  it('getManifest of a Docker manifest list: imgadm (no list Accept) gets the linux/amd64 manifest', { timeout: 15_000 }, async () => {
    const amd64 = dockerList.images.find((img) => img.platform.architecture === 'amd64');
    assert.ok(amd64 !== undefined);
    const got = await client(listRepo).getManifest('list');
    assert.equal(got.digest, amd64.manifest.digest, 'Docker-Content-Digest is the amd64 child');
    assert.equal(got.manifestStr, amd64.manifest.bytes.toString());
    assert.equal(got.manifest.mediaType, MediaType.dockerManifest);

    const listed = await client(listRepo, true).getManifest('list');
    assert.equal(listed.digest, dockerList.index.digest);
    assert.equal(listed.manifestStr, dockerList.index.bytes.toString());
    assert.equal(headerOf(listed.res.headers, 'content-type'), MediaType.dockerList);
  });

  it('getManifest of an unknown tag fails with 404 (imgadm: "not in this source")', { timeout: 15_000 }, async () => {
    await assert.rejects(client(dockerRepo).getManifest('no-such-tag'), (err: unknown) => {
      assert.ok(err instanceof DrcError, String(err));
      assert.equal(err.statusCode, 404, err.message);
      return true;
    });
  });

  it('createBlobReadStream: bytes hash to the digest; Content-Length and Docker-Content-Digest set', { timeout: 20_000 }, async () => {
    const c = client(dockerRepo);
    for (const blob of [dockerImage.config, ...dockerImage.layers]) {
      const got = await c.readBlob(blob.digest);
      assert.equal(sha256Digest(got.bytes), blob.digest);
      assert.ok(got.bytes.equals(blob.bytes));
      assert.equal(headerOf(got.headers, 'content-length'), String(blob.size), 'Content-Length (imgadm requires it)');
      const first = got.ress[0];
      assert.ok(first !== undefined);
      assert.equal(headerOf(first.headers, 'docker-content-digest'), blob.digest);

      const heads = await c.headBlob(blob.digest);
      const last = heads.at(-1);
      assert.ok(last !== undefined);
      assert.equal(last.statusCode, 200);
      assert.equal(headerOf(last.headers, 'content-length'), String(blob.size));
    }
    // imgadm parses the config blob as JSON ("imgJson") and needs `created` and `config`.
    const config: unknown = JSON.parse((await c.readBlob(dockerImage.config.digest)).bytes.toString());
    assert.deepEqual(config, dockerImage.configJson);
  });

  it('createBlobReadStream of an unknown blob fails with 404', { timeout: 15_000 }, async () => {
    const missing = sha256Digest(randomBytes(32));
    await assert.rejects(client(dockerRepo).readBlob(missing), (err: unknown) => {
      assert.ok(err instanceof DrcError, String(err));
      assert.equal(err.statusCode, 404, err.message);
      return true;
    });
  });

  it('blobUpload + putManifest push a new schema 2 image that getManifest reads back', { timeout: 30_000 }, async () => {
    const c = client(pushRepo);
    const layer = randomLayer({ mediaType: MediaType.dockerLayerGzip });
    // Reuse the seeded config's shape but point it at the new layer.
    const configJson = { ...dockerImage.configJson, rootfs: { type: 'layers', diff_ids: [layer.diffId] } };
    const configBytes = Buffer.from(JSON.stringify(configJson));
    const configDigest = sha256Digest(configBytes);

    await c.blobUpload(layer.digest, layer.bytes);
    await c.blobUpload(configDigest, configBytes);
    const manifestStr = JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: { mediaType: MediaType.dockerConfig, size: configBytes.length, digest: configDigest },
        layers: [{ mediaType: MediaType.dockerLayerGzip, size: layer.size, digest: layer.digest }],
      },
      null,
      3,
    );
    const expectedDigest = sha256Digest(Buffer.from(manifestStr));
    const put = await c.putManifest('pushed', manifestStr);
    assert.equal(put.res?.statusCode, 201);
    assert.equal(put.digest, expectedDigest, 'Docker-Content-Digest of the PUT');
    assert.ok(put.location !== undefined, 'Location header on the PUT');

    const got = await c.getManifest('pushed');
    assert.equal(got.manifestStr, manifestStr, 'manifest stored byte for byte');
    assert.equal(got.digest, expectedDigest);
    const byDigest = await c.getManifest(expectedDigest);
    assert.equal(byDigest.manifestStr, manifestStr);

    const back = await c.readBlob(layer.digest);
    assert.ok(back.bytes.equals(layer.bytes), 'uploaded layer reads back identically');
    const cfg = await c.readBlob(configDigest);
    assert.ok(cfg.bytes.equals(configBytes), 'uploaded config reads back identically');
    assert.deepEqual((await c.listTags()).tags.filter((t) => t === 'pushed'), ['pushed']);
  });

  it('putManifest of an OCI manifest (the client labels it Docker schema2) is stored as OCI', { timeout: 30_000 }, async () => {
    // docker-registry-client sends every schemaVersion 2 manifest as
    // application/vnd.docker.distribution.manifest.v2+json; Berth lets the body's mediaType
    // decide for this client while any other mismatch is 400 MANIFEST_INVALID.
    const c = client(pushRepo);
    const layer = randomLayer({ mediaType: MediaType.ociLayerGzip });
    const configBytes = Buffer.from(JSON.stringify({ ...dockerImage.configJson, rootfs: { type: 'layers', diff_ids: [layer.diffId] } }));
    const configDigest = sha256Digest(configBytes);
    await c.blobUpload(layer.digest, layer.bytes);
    await c.blobUpload(configDigest, configBytes);
    const manifestStr = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, size: configBytes.length, digest: configDigest },
      layers: [{ mediaType: MediaType.ociLayerGzip, size: layer.size, digest: layer.digest }],
    });
    const put = await c.putManifest('oci-pushed', manifestStr);
    assert.equal(put.res?.statusCode, 201);
    const got = await c.getManifest('oci-pushed');
    assert.equal(got.manifestStr, manifestStr);
    assert.equal(got.manifest.mediaType, MediaType.ociManifest);
  });
});
