/**
 * Golden-file tests of the Docker → SmartOS translation (src/smartos/translate.ts) and unit tests of
 * the UUID schemes (src/smartos/uuid.ts).
 *
 * Each `fixtures/*.json` holds an input (`TranslateInput`, the config blob as its exact text) and
 * the manifests imgadm creates for it, compared byte for byte (key order included). The expected
 * manifests come from imgadm.md's worked examples (§4.1, §4.2, §5.3) and were cross-checked by
 * running the imgmanifest modules imgadm vendors (3.x for the v2 scheme, 2.x for v1) inside an
 * emulation of imgadm's docker source; the v1 ids of `v1-from-schema2-app` are the ones
 * distribution 2.8's schema2→schema1 conversion gave for that very image.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { v1ChainFromImage } from '../../src/core/bridge/v1-chain.js';
import { tryParseDigest } from '../../src/core/digest.js';
import { imgapiImageSchema, smartOsManifestSchema, type LayerDescriptor, type TranslateInput } from '../../src/smartos/schema.js';
import { EMPTY_GZIP_TAR, MAX_DESCRIPTION_LENGTH, TranslationError, compressionOf, imgadmNameProblems, translate } from '../../src/smartos/translate.js';
import {
  DockerUuidError,
  imgUuidFromDockerDigests,
  imgUuidFromDockerV1Id,
  obsoleteImgUuidFromDockerId,
  uuidChain,
} from '../../src/smartos/uuid.js';

const FIXTURES = new URL('../../../test/smartos/fixtures/', import.meta.url);

interface Fixture {
  readonly title: string;
  readonly source: string;
  readonly input: TranslateInput;
  readonly expected: {
    readonly uuid: string;
    readonly ref: string;
    readonly warnings: readonly string[];
    readonly images: readonly unknown[];
    readonly blobs?: readonly string[];
    readonly v1Ids?: readonly string[];
  };
}

function loadFixtures(): { name: string; fixture: Fixture }[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, fixture: JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Fixture }));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const P = 'sha256:5ac32a0bed16ae74a155782de096f856ac1b8d016313d60d93af948a6b06f709';
const D = 'sha256:0e68275c469ee5a5040b8e01688fb8fac1f06138a8247265bff8ced103d01c4f';
const A = 'sha256:84ff92691f909a05b224e1c56abb4864f01b4f8e3c854e4bb4c7baf1d3f6d652';
const B = 'sha256:847f49d214bac745aad71de7e5c4ca2fa729c096ca749151bf9566b7e2e565d9';
const E = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
const C = 'sha256:cc8567d70002e957612902a8e985ea129d831ebe04057d88fb644857caa45d11';
const GZ = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

function layer(digest: string, mediaType = GZ): LayerDescriptor {
  return { mediaType, digest, size: 10 };
}

function schema2(config: unknown, layers: readonly LayerDescriptor[], extra: Partial<TranslateInput> = {}): TranslateInput {
  return {
    registry: 'reg.example.com:5000',
    repository: 'ns/app',
    tag: 'latest',
    image: {
      kind: 'schema2',
      manifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      configMediaType: 'application/vnd.docker.container.image.v1+json',
      config: typeof config === 'string' ? config : JSON.stringify(config),
      layers,
    },
    ...extra,
  };
}

const BASIC_CONFIG = { created: '2024-01-02T03:04:05Z', os: 'linux', architecture: 'amd64', config: { Cmd: ['/bin/sh'] } };

describe('SmartOS translation golden files', () => {
  const fixtures = loadFixtures();
  test('there are golden files', () => {
    assert.ok(fixtures.length >= 7, `found ${fixtures.length} fixtures`);
  });
  for (const { name, fixture } of fixtures) {
    test(`${name}: ${fixture.title}`, () => {
      const input = deepFreeze(structuredClone(fixture.input));
      const result = translate(input);
      const manifests = result.layers.map((l) => l.manifest);
      assert.equal(JSON.stringify(manifests, null, 2), JSON.stringify(fixture.expected.images, null, 2), 'manifests, byte for byte');
      assert.equal(result.uuid, fixture.expected.uuid);
      assert.equal(result.ref, fixture.expected.ref);
      assert.deepEqual(result.warnings, fixture.expected.warnings);
      assert.equal(result.scheme, input.scheme ?? 'v2');
      if (fixture.expected.blobs !== undefined) {
        assert.deepEqual(
          result.layers.map((l) => l.blob.digest),
          fixture.expected.blobs,
        );
      }
      if (fixture.expected.v1Ids !== undefined) {
        assert.deepEqual(
          manifests.map((m) => m.tags['docker:id']),
          fixture.expected.v1Ids,
        );
      }
      for (const m of manifests) smartOsManifestSchema.parse(m);
      // Origins chain the images, base first.
      manifests.forEach((m, i) => {
        if (i > 0) assert.equal(m.origin, manifests[i - 1]?.uuid, `origin of image ${i}`);
      });
      // Only the top image carries docker:tag:* keys.
      manifests.slice(0, -1).forEach((m) => assert.ok(!Object.keys(m.tags).some((k) => k.startsWith('docker:tag:'))));
    });
  }
});

describe('v1 view parity with the v1 API', () => {
  test('v1 ids from the v1 bridge (what Berth serves on /v1) equal translate.ts and distribution 2.8', () => {
    for (const { name, fixture } of loadFixtures()) {
      const { image } = fixture.input;
      if (image.kind !== 'schema2' || fixture.input.scheme !== 'v1') continue;
      const layers = image.layers.map((l) => {
        const digest = tryParseDigest(l.digest);
        assert.ok(digest !== undefined);
        return { mediaType: l.mediaType, digest, size: l.size };
      });
      const chain = v1ChainFromImage(layers, Buffer.from(image.config));
      assert.deepEqual(chain.map((c) => c.id), fixture.expected.v1Ids, name);
      const viaBridge = translate({
        ...fixture.input,
        v1Chain: chain.map((c) => ({ json: c.json, blob: { mediaType: c.mediaType ?? GZ, digest: c.blobSum.digest, size: c.size ?? 0 } })),
      });
      assert.equal(JSON.stringify(viaBridge.layers.map((l) => l.manifest)), JSON.stringify(fixture.expected.images), name);
    }
  });
});

describe('SmartOS image UUIDs', () => {
  test('v2 scheme: imgadm.md §4.1 worked examples', () => {
    assert.equal(imgUuidFromDockerDigests([P]), 'c9197344-ba93-628c-ad6e-f7a374fa074c');
    assert.equal(imgUuidFromDockerDigests([P, D]), '92d5c9c3-04ac-2fd1-4093-e22be14c1e7e');
    assert.deepEqual(uuidChain([A, B, A]), [
      'b265d8d3-a33c-f570-5fbf-d453e6c4391b',
      'f6f69a22-4b55-1c2d-4986-f7f6dbb0f39a',
      'ed2e27e7-4f1a-3d21-e11b-d34ce58579e2',
    ]);
    assert.deepEqual(uuidChain([E, C, E]), [
      '652858e0-b6d2-9a80-b9a4-de6b15b724dd',
      '0ce9a4cc-52ad-3e9a-16e5-7ecec17adc5e',
      '979d2a54-9f04-1e5d-ecef-c1d22fc03a48',
    ]);
    assert.equal(imgUuidFromDockerDigests([]), 'e3b0c442-98fc-1c14-9afb-f4c8996fb924');
  });

  test('v2 scheme refuses anything but sha256 digests, as imgmanifest does', () => {
    assert.throws(() => imgUuidFromDockerDigests([`sha512:${'a'.repeat(128)}`]), DockerUuidError);
    assert.throws(() => imgUuidFromDockerDigests(['sha256:abc']), DockerUuidError);
    assert.throws(() => imgUuidFromDockerDigests([P.slice(7)]), DockerUuidError);
  });

  test('v1 scheme and the obsolete scheme: imgadm.md §4.2 worked examples', () => {
    assert.equal(imgUuidFromDockerV1Id('docker.io', D.slice(7)), '577f8bdd-94d3-3e68-d4db-e2015fc8b163');
    assert.equal(imgUuidFromDockerV1Id('localhost:5000', D.slice(7)), '87c3ffce-4dac-a6c5-e9be-2ef94b9187bb');
    assert.equal(imgUuidFromDockerV1Id('localhost:5000', P.slice(7)), 'd1926209-3761-94fc-7983-189ade5a5178');
    assert.equal(obsoleteImgUuidFromDockerId(D.slice(7)), '0e68275c-469e-e5a5-040b-8e01688fb8fa');
    assert.throws(() => imgUuidFromDockerV1Id('localhost:5000', 'abc'), DockerUuidError);
  });
});

describe('SmartOS translation rules', () => {
  test('the input is not modified and the output does not depend on anything else', () => {
    const input = deepFreeze(schema2(BASIC_CONFIG, [layer(P), layer(D)]));
    const a = translate(input);
    const b = translate(input);
    assert.deepEqual(a, b);
    assert.equal(a.layers.length, 2);
  });

  test('configs imgadm would crash on are refused with a reason', () => {
    const cases: [string, unknown, RegExp][] = [
      ['no created', { config: {} }, /created is missing/],
      ['bad created', { created: 'yesterday', config: {} }, /created is not a date/],
      ['no config object', { created: '2024-01-01T00:00:00Z' }, /no "config" object/],
      ['null config', { created: '2024-01-01T00:00:00Z', config: null }, /no "config" object/],
      ['Cmd not an array', { created: '2024-01-01T00:00:00Z', config: {}, container_config: { Cmd: 'ls' } }, /not an array/],
      ['not an object', [1, 2], /not a JSON object/],
      ['not JSON', '{"created":', /not valid JSON/],
    ];
    for (const [what, config, message] of cases) {
      assert.throws(() => translate(schema2(config, [layer(P)])), (e: unknown) => e instanceof TranslationError && message.test(e.message), what);
    }
    assert.throws(() => translate(schema2(BASIC_CONFIG, [])), /no layers/);
    assert.throws(() => translate(schema2(BASIC_CONFIG, [layer(`sha512:${'a'.repeat(128)}`)])), /sha256/);
    const artifact = schema2(BASIC_CONFIG, [layer(P)]);
    assert.throws(
      () => translate({ ...artifact, image: { ...artifact.image, configMediaType: 'application/vnd.oci.empty.v1+json' } as TranslateInput['image'] }),
      /not a container image/,
    );
  });

  test('JavaScript quirks: null created is the epoch, description clipped to 10240, null Cmd entries join as empty', () => {
    const long = 'x'.repeat(MAX_DESCRIPTION_LENGTH + 50);
    const r = translate(schema2({ created: null, comment: long, config: { Env: [] } }, [layer(P)]));
    const m = r.layers[0]?.manifest;
    assert.equal(m?.published_at, '1970-01-01T00:00:00.000Z');
    assert.equal(m?.description.length, MAX_DESCRIPTION_LENGTH);
    const j = translate(schema2({ created: 0, container_config: { Cmd: ['a', null, ['b', 'c'], 3] }, config: {} }, [layer(P)]));
    assert.equal(j.layers[0]?.manifest.description, 'a  b,c 3');
    assert.deepEqual(j.layers[0]?.manifest.tags['docker:config'], {});
    const none = translate(schema2({ created: '2024-01-01T00:00:00Z', config: {} }, [layer(P)]));
    assert.equal(none.layers[0]?.manifest.description, '');
    assert.equal(none.layers[0]?.manifest.os, undefined);
    assert.ok(!('os' in (none.layers[0]?.manifest ?? {})), 'os is absent, not undefined-valued');
  });

  test('imgadm name rules: stricter than the distribution grammar', () => {
    assert.deepEqual(imgadmNameProblems('reg.example.com', 'ns/app'), []);
    assert.deepEqual(imgadmNameProblems('localhost', 'app'), []);
    assert.deepEqual(imgadmNameProblems('127.0.0.1:5000', 'team-a/sub/app.v2'), []);
    assert.match(imgadmNameProblems('reg.example.com', 'my.ns/app').join('\n'), /only \[a-z0-9_-\] in the namespace/);
    assert.match(imgadmNameProblems('reg.example.com', 'a/app').join('\n'), /2 to 255 characters/);
    assert.match(imgadmNameProblems('reg.example.com', 'a--b/app').join('\n'), /"--"/);
    assert.match(imgadmNameProblems('berth', 'ns/app').join('\n'), /Docker Hub namespace/);
    const r = translate(schema2(BASIC_CONFIG, [layer(P)], { repository: 'my.ns/app' }));
    assert.equal(r.warnings.length, 1);
  });

  test('warnings: digest references, zstd and foreign layers, unsigned schema 1', () => {
    const byDigest = translate(schema2(BASIC_CONFIG, [layer(P)], { tag: undefined, digest: D }));
    assert.equal(byDigest.ref, `reg.example.com:5000/ns/app@${D}`);
    assert.match(byDigest.warnings.join('\n'), /cannot import by digest/);
    assert.ok(!Object.keys(byDigest.layers[0]?.manifest.tags ?? {}).some((k) => k.startsWith('docker:tag:')));
    const zstd = translate(schema2(BASIC_CONFIG, [layer(P), layer(D, 'application/vnd.oci.image.layer.v1.tar+zstd')]));
    assert.match(zstd.warnings.join('\n'), /layer 1 .* can only extract gzip/);
    assert.equal(zstd.layers[1]?.compression, undefined);
    const foreign = translate(schema2(BASIC_CONFIG, [{ ...layer(P), urls: ['https://example.com/l'] }]));
    assert.match(foreign.warnings.join('\n'), /foreign layer/);
    const s1 = translate({
      registry: 'reg.example.com',
      repository: 'ns/app',
      tag: 'old',
      image: { kind: 'schema1', signed: false, fsLayers: [layer(P)], v1Compatibility: [JSON.stringify({ id: 'a'.repeat(64), ...BASIC_CONFIG })] },
    });
    assert.match(s1.warnings.join('\n'), /unsigned/);
  });

  test('compression from the layer media type', () => {
    assert.equal(compressionOf('application/vnd.docker.image.rootfs.diff.tar.gzip'), 'gzip');
    assert.equal(compressionOf('application/vnd.oci.image.layer.v1.tar+gzip'), 'gzip');
    assert.equal(compressionOf('application/vnd.oci.image.layer.v1.tar'), 'none');
    assert.equal(compressionOf('application/vnd.docker.image.rootfs.diff.tar'), 'none');
    assert.equal(compressionOf('application/vnd.oci.image.layer.v1.tar+zstd'), undefined);
    assert.equal(compressionOf('application/vnd.example.unknown'), undefined);
  });

  test('v1 scheme needs a history that matches the layers', () => {
    const v1 = (config: unknown, layers: LayerDescriptor[]) => translate({ ...schema2(config, layers), scheme: 'v1' });
    assert.throws(() => v1(BASIC_CONFIG, [layer(P)]), /no history/);
    assert.throws(
      () => v1({ ...BASIC_CONFIG, history: [{ created: '2024-01-01T00:00:00Z' }], rootfs: { type: 'layers', diff_ids: [] } }, [layer(P)]),
      /0 diff_ids for 1 layers/,
    );
    const ok = v1(
      {
        ...BASIC_CONFIG,
        history: [{ created: '2024-01-01T00:00:00Z', created_by: 'ADD' }, { created: '2024-01-01T00:00:01Z', empty_layer: true }],
        rootfs: { type: 'layers', diff_ids: ['sha256:' + '0'.repeat(64)] },
      },
      [layer(P)],
    );
    assert.equal(ok.layers.length, 2);
    assert.deepEqual(ok.layers[1]?.blob, EMPTY_GZIP_TAR);
    assert.equal(ok.layers[0]?.manifest.description, 'ADD');
    assert.equal(ok.layers[0]?.manifest.tags['docker:architecture'], undefined, 'v1 dependency images carry no architecture');
    assert.equal(ok.layers[1]?.manifest.tags['docker:architecture'], 'amd64');
  });

  test('the IMGAPI image schema accepts a manifest with state and files', () => {
    const m = translate(schema2(BASIC_CONFIG, [layer(P)])).layers[0]?.manifest;
    assert.ok(m !== undefined);
    imgapiImageSchema.parse({ ...m, state: 'active', files: [{ sha1: 'a'.repeat(40), size: 10, compression: 'gzip' }] });
    assert.throws(() => imgapiImageSchema.parse({ ...m, state: 'active', files: [] }));
  });
});
