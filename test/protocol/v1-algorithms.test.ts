/**
 * The bridge algorithms on their own: distribution's schema2→schema1 conversion checked against
 * the expected output distribution's own test published for it (TestConfigBuilder in
 * manifest/schema1/config_builder_test.go: same config, same layer digests, same v1 IDs and
 * v1Compatibility bytes), Go encoding/json compatibility, the v1→v2 synthesis, libtrust JWS
 * layout, and compression detection.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { compactRaw, goIndent, goString, goTime, marshalRawMap, rawMembers } from '../../src/core/bridge/go-json.js';
import { deriveSigningKey, signPretty, verifyPretty } from '../../src/core/bridge/jws.js';
import { schema1FromChain } from '../../src/core/bridge/schema1.js';
import { EMPTY_GZIP_TAR, EMPTY_GZIP_TAR_DIGEST, v1ChainFromImage, v1ChainFromSchema1 } from '../../src/core/bridge/v1-chain.js';
import { detectCompression, synthesizeV2 } from '../../src/core/bridge/v2-from-v1.js';
import { tryParseDigest } from '../../src/core/digest.js';
import type { Descriptor } from '../../src/core/manifests/parse.js';

/** The config of distribution's TestConfigBuilder (a docker 1.9 build with empty ENV/CMD steps). */
const DIST_CONFIG = `{
    "architecture": "amd64",
    "config": {
        "AttachStderr": false,
        "AttachStdin": false,
        "AttachStdout": false,
        "Cmd": [
            "/bin/sh",
            "-c",
            "echo hi"
        ],
        "Domainname": "",
        "Entrypoint": null,
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "derived=true",
            "asdf=true"
        ],
        "Hostname": "23304fc829f9",
        "Image": "sha256:4ab15c48b859c2920dd5224f92aabcd39a52794c5b3cf088fb3bbb438756c246",
        "Labels": {},
        "OnBuild": [],
        "OpenStdin": false,
        "StdinOnce": false,
        "Tty": false,
        "User": "",
        "Volumes": null,
        "WorkingDir": ""
    },
    "container": "e91032eb0403a61bfe085ff5a5a48e3659e5a6deae9f4d678daa2ae399d5a001",
    "container_config": {
        "AttachStderr": false,
        "AttachStdin": false,
        "AttachStdout": false,
        "Cmd": [
            "/bin/sh",
            "-c",
            "#(nop) CMD [\\"/bin/sh\\" \\"-c\\" \\"echo hi\\"]"
        ],
        "Domainname": "",
        "Entrypoint": null,
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "derived=true",
            "asdf=true"
        ],
        "Hostname": "23304fc829f9",
        "Image": "sha256:4ab15c48b859c2920dd5224f92aabcd39a52794c5b3cf088fb3bbb438756c246",
        "Labels": {},
        "OnBuild": [],
        "OpenStdin": false,
        "StdinOnce": false,
        "Tty": false,
        "User": "",
        "Volumes": null,
        "WorkingDir": ""
    },
    "created": "2015-11-04T23:06:32.365666163Z",
    "docker_version": "1.9.0-dev",
    "history": [
        {
            "created": "2015-10-31T22:22:54.690851953Z",
            "created_by": "/bin/sh -c #(nop) ADD file:a3bc1e842b69636f9df5256c49c5374fb4eef1e281fe3f282c65fb853ee171c5 in /"
        },
        {
            "created": "2015-10-31T22:22:55.613815829Z",
            "created_by": "/bin/sh -c #(nop) CMD [\\"sh\\"]"
        },
        {
            "created": "2015-11-04T23:06:30.934316144Z",
            "created_by": "/bin/sh -c #(nop) ENV derived=true",
            "empty_layer": true
        },
        {
            "created": "2015-11-04T23:06:31.192097572Z",
            "created_by": "/bin/sh -c #(nop) ENV asdf=true",
            "empty_layer": true
        },
        {
            "author": "Alyssa P. Hacker \\u003calyspdev@example.com\\u003e",
            "created": "2015-11-04T23:06:32.083868454Z",
            "created_by": "/bin/sh -c dd if=/dev/zero of=/file bs=1024 count=1024"
        },
        {
            "created": "2015-11-04T23:06:32.365666163Z",
            "created_by": "/bin/sh -c #(nop) CMD [\\"/bin/sh\\" \\"-c\\" \\"echo hi\\"]",
            "empty_layer": true
        }
    ],
    "os": "linux",
    "rootfs": {
        "diff_ids": [
            "sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1",
            "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
            "sha256:13f53e08df5a220ab6d13c58b2bf83a59cbdc2e04d0a3f041ddf4b0ba4112d49"
        ],
        "type": "layers"
    }
}`;

const DIST_LAYERS = [
  'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4',
  'sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa',
  'sha256:b4ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4',
];

/** distribution's expected fsLayers (top first) and v1Compatibility strings, top first. */
const DIST_FSLAYERS = [DIST_LAYERS[0], DIST_LAYERS[2], DIST_LAYERS[0], DIST_LAYERS[0], DIST_LAYERS[1], DIST_LAYERS[0]];
const DIST_V1COMPAT_TAIL = [
  '{"id":"74cf9c92699240efdba1903c2748ef57105d5bedc588084c4e88f3bb1c3ef0b0","parent":"178be37afc7c49e951abd75525dbe0871b62ad49402f037164ee6314f754599d","created":"2015-11-04T23:06:32.083868454Z","container_config":{"Cmd":["/bin/sh -c dd if=/dev/zero of=/file bs=1024 count=1024"]},"author":"Alyssa P. Hacker \\u003calyspdev@example.com\\u003e"}',
  '{"id":"178be37afc7c49e951abd75525dbe0871b62ad49402f037164ee6314f754599d","parent":"b449305a55a283538c4574856a8b701f2a3d5ec08ef8aec47f385f20339a4866","created":"2015-11-04T23:06:31.192097572Z","container_config":{"Cmd":["/bin/sh -c #(nop) ENV asdf=true"]},"throwaway":true}',
  '{"id":"b449305a55a283538c4574856a8b701f2a3d5ec08ef8aec47f385f20339a4866","parent":"9e3447ca24cb96d86ebd5960cb34d1299b07e0a0e03801d90b9969a2c187dd6e","created":"2015-11-04T23:06:30.934316144Z","container_config":{"Cmd":["/bin/sh -c #(nop) ENV derived=true"]},"throwaway":true}',
  '{"id":"9e3447ca24cb96d86ebd5960cb34d1299b07e0a0e03801d90b9969a2c187dd6e","parent":"3690474eb5b4b26fdfbd89c6e159e8cc376ca76ef48032a30fa6aafd56337880","created":"2015-10-31T22:22:55.613815829Z","container_config":{"Cmd":["/bin/sh -c #(nop) CMD [\\"sh\\"]"]}}',
  '{"id":"3690474eb5b4b26fdfbd89c6e159e8cc376ca76ef48032a30fa6aafd56337880","created":"2015-10-31T22:22:54.690851953Z","container_config":{"Cmd":["/bin/sh -c #(nop) ADD file:a3bc1e842b69636f9df5256c49c5374fb4eef1e281fe3f282c65fb853ee171c5 in /"]}}',
];
const DIST_TOP_ID = '69e5c1bfadad697fdb6db59f6326648fa119e0c031a0eda33b8cfadcab54ba7f';

function descriptor(digest: string, size = 1, mediaType = 'application/vnd.docker.image.rootfs.diff.tar.gzip'): Descriptor {
  const d = tryParseDigest(digest);
  assert.ok(d !== undefined);
  return { mediaType, digest: d, size };
}

describe("distribution's schema2 → schema1 conversion", () => {
  test('same v1 IDs, fsLayers and v1Compatibility bytes as distribution', () => {
    const chain = v1ChainFromImage(DIST_LAYERS.map((d) => descriptor(d)), Buffer.from(DIST_CONFIG));
    const topFirst = [...chain].reverse();
    assert.deepEqual(topFirst.map((c) => c.blobSum.digest), DIST_FSLAYERS);
    assert.deepEqual(topFirst.slice(1).map((c) => c.json.toString()), DIST_V1COMPAT_TAIL);
    const top = topFirst[0];
    assert.ok(top !== undefined);
    assert.equal(top.id, DIST_TOP_ID);
    const topJson = top.json.toString();
    assert.ok(topJson.startsWith('{"architecture":"amd64","config":{"AttachStderr":false,'), 'sorted keys, compacted raw values');
    assert.ok(topJson.endsWith(`"docker_version":"1.9.0-dev","id":"${DIST_TOP_ID}","os":"linux","parent":"74cf9c92699240efdba1903c2748ef57105d5bedc588084c4e88f3bb1c3ef0b0","throwaway":true}`));
    assert.ok(topJson.includes('"Cmd":["/bin/sh","-c","#(nop) CMD [\\"/bin/sh\\" \\"-c\\" \\"echo hi\\"]"]'));
    assert.ok(!topJson.includes('rootfs') && !topJson.includes('"history"'));
    assert.deepEqual(topFirst.map((c) => c.throwaway), [true, false, true, true, false, false]);
    // …and as a schema1 payload, the v1Compatibility strings survive the round trip.
    const payload = schema1FromChain('testrepo', 'testtag', 'amd64', chain);
    const parsed = JSON.parse(payload.toString()) as { history: { v1Compatibility: string }[]; fsLayers: { blobSum: string }[] };
    assert.deepEqual(parsed.history.slice(1).map((h) => h.v1Compatibility), DIST_V1COMPAT_TAIL);
    assert.ok(payload.toString().startsWith('{\n   "schemaVersion": 1,\n   "name": "testrepo",\n   "tag": "testtag",\n   "architecture": "amd64",\n   "fsLayers": [\n      {\n         "blobSum": "sha256:a3ed95'));
    assert.deepEqual(v1ChainFromSchema1(parsed).map((c) => c.id), chain.map((c) => c.id));
  });

  test('the gzipped empty tar is the 32 bytes whose digest distribution uses', () => {
    assert.equal(EMPTY_GZIP_TAR.length, 32);
    assert.equal(`sha256:${createHash('sha256').update(EMPTY_GZIP_TAR).digest('hex')}`, EMPTY_GZIP_TAR_DIGEST);
  });

  test('configs without (consistent) history: one step per layer; none: one empty step', () => {
    const layers = [descriptor(DIST_LAYERS[1] ?? ''), descriptor(DIST_LAYERS[2] ?? '')];
    const chain = v1ChainFromImage(layers, Buffer.from('{"architecture":"amd64","created":"2020-01-01T00:00:00.000Z"}'));
    assert.deepEqual(chain.map((c) => c.blobSum.digest), [DIST_LAYERS[1], DIST_LAYERS[2]]);
    assert.ok(chain[0]?.json.toString().includes('"created":"2020-01-01T00:00:00Z"'), 'created re-marshalled as Go does');
    const none = v1ChainFromImage([], Buffer.from('{}'));
    assert.equal(none.length, 1);
    assert.equal(none[0]?.throwaway, true);
    assert.equal(none[0]?.blobSum.digest, EMPTY_GZIP_TAR_DIGEST);
    assert.throws(() => v1ChainFromImage([], Buffer.from('[]')));
  });
});

describe('Go encoding/json compatibility', () => {
  test('strings, compaction, raw maps, MarshalIndent, times', () => {
    assert.equal(goString('a<b>&c\u2028'), '"a\\u003cb\\u003e\\u0026c\\u2028"');
    assert.equal(compactRaw('{ "a" : [ 1, 2 ],\n "b": "x y <" }'), '{"a":[1,2],"b":"x y \\u003c"}');
    const members = rawMembers('{"z": 1e3, "a": {"k": "v"}, "m": "\\u00e9", "a": [true]}');
    assert.deepEqual([...members.keys()], ['z', 'a', 'm']);
    assert.equal(members.get('z'), '1e3', 'numbers are not re-encoded');
    assert.equal(marshalRawMap(members), '{"a":[true],"m":"\\u00e9","z":1e3}');
    assert.equal(goIndent({ a: [1, { b: 'x' }], c: [], d: {} }, '', '   '), '{\n   "a": [\n      1,\n      {\n         "b": "x"\n      }\n   ],\n   "c": [],\n   "d": {}\n}');
    assert.equal(goTime('2015-11-04T23:06:32.365666163Z'), '2015-11-04T23:06:32.365666163Z');
    assert.equal(goTime('2024-05-01T12:00:00.000Z'), '2024-05-01T12:00:00Z');
    assert.equal(goTime('2024-05-01T12:00:00.120+00:00'), '2024-05-01T12:00:00.12Z');
    assert.equal(goTime('2024-05-01T12:00:00+02:00'), '2024-05-01T12:00:00+02:00');
    assert.equal(goTime('yesterday'), 'yesterday');
  });
});

describe('v1 → v2 synthesis', () => {
  test('config is MakeConfigFromV1Config; throwaway empty tars dropped; docker types', () => {
    const base = { json: Buffer.from('{"id":"b","created":"2015-01-01T00:00:00Z","container_config":{"Cmd":["/bin/sh","-c","ADD x"]}}'), layer: { digest: 'sha256:' + '1'.repeat(64), size: 10, diffId: 'sha256:' + '2'.repeat(64), mediaType: 'application/vnd.docker.image.rootfs.diff.tar' } };
    const empty = { json: Buffer.from('{"id":"e","parent":"b","throwaway":true,"created":"2015-01-02T00:00:00Z","container_config":{"Cmd":["CMD x"]}}'), layer: { digest: EMPTY_GZIP_TAR_DIGEST, size: 32, diffId: 'x', mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' } };
    const top = { json: Buffer.from('{"id":"t","parent":"e","Size":5,"config":{"Cmd":["sh"]},"architecture":"amd64","author":"me"}'), layer: { digest: 'sha256:' + '3'.repeat(64), size: 20, diffId: 'sha256:' + '4'.repeat(64), mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' } };
    const out = synthesizeV2([base, empty, top]);
    assert.equal(
      out.config.toString(),
      '{"architecture":"amd64","author":"me","config":{"Cmd":["sh"]},' +
        `"history":[{"created":"2015-01-01T00:00:00Z","created_by":"/bin/sh -c ADD x"},{"created":"2015-01-02T00:00:00Z","created_by":"CMD x","empty_layer":true},{"created":"0001-01-01T00:00:00Z","author":"me"}],` +
        `"rootfs":{"type":"layers","diff_ids":["sha256:${'2'.repeat(64)}","sha256:${'4'.repeat(64)}"]}}`,
    );
    const manifest = JSON.parse(out.manifest.toString()) as { mediaType: string; layers: { mediaType: string; digest: string }[]; config: { digest: string } };
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), ['application/vnd.docker.image.rootfs.diff.tar', 'application/vnd.docker.image.rootfs.diff.tar.gzip']);
    assert.equal(manifest.config.digest, out.configDigest);
    assert.deepEqual(synthesizeV2([base, empty, top]), out, 'deterministic');
  });

  test('compression detection', () => {
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 0x08, 0])), 'gzip');
    assert.equal(detectCompression(Buffer.from('BZh91AY')), 'bzip2');
    assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), 'xz');
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
    assert.equal(detectCompression(Buffer.alloc(1024)), 'none');
  });
});

describe('libtrust JWS', () => {
  test('PrettySignature layout, verification, tamper detection, stable derived key', () => {
    const key = deriveSigningKey('k');
    assert.deepEqual(deriveSigningKey('k').jwk, key.jwk);
    const payload = Buffer.from('{\n   "schemaVersion": 1,\n   "name": "a"\n}');
    const signed = signPretty(payload, key, new Date('2020-01-02T03:04:05.678Z'));
    const text = signed.toString();
    assert.ok(text.startsWith('{\n   "schemaVersion": 1,\n   "name": "a",\n   "signatures": [\n      {\n         "header": {\n            "jwk": {\n               "crv": "P-256",\n               "kid": "'));
    assert.ok(text.endsWith('"\n      }\n   ]\n}'));
    const prot = JSON.parse(Buffer.from(/"protected": "([^"]+)"/.exec(text)?.[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(prot, { formatLength: payload.length - 2, formatTail: Buffer.from('\n}').toString('base64url'), time: '2020-01-02T03:04:05Z' });
    assert.ok(verifyPretty(signed).payload.equals(payload));
    assert.throws(() => verifyPretty(Buffer.from(text.replace('"name": "a"', '"name": "b"'))), /does not verify/);
    assert.throws(() => verifyPretty(payload), /no signatures/);
    const compact = signPretty(Buffer.from('{"a":1}'), key);
    assert.ok(compact.toString().startsWith('{"a":1,"signatures":[{"header":{"jwk":'));
    assert.ok(verifyPretty(compact).payload.equals(Buffer.from('{"a":1}')));
  });
});
