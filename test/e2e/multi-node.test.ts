/**
 * Two real Berth processes on one object store: for each backend (the s3 driver on Swift's s3api,
 * the swift driver on Swift itself, both from test/setup/30-swift.sh) two instances share one
 * bucket/container and prefix and one `http.secret`. Checked across the nodes, with no waiting
 * in between:
 *   - an image pushed through A with skopeo, and a two-platform index pushed through A over plain
 *     HTTP, are pulled through B byte-identical (manifests by tag and digest, every blob; skopeo
 *     copies B back into an OCI layout);
 *   - a tag moved through one node is seen by the writing node at once and by the other node
 *     within `berth.cache.linkttl` (default 1 s: every request that starts after the bound gets
 *     the new target, GET and HEAD), several times in both directions, after the other node has
 *     served (and so cached) the old target; tags/list is never cached;
 *   - a third node with `berth.cache.linkttl: 0` sees a tag moved on A at once;
 *   - deletes through one node (manifest by digest, tag, blob, upload cancel) are seen by the
 *     writing node at once and by the other within the bound (an upload cancel at once).
 * Redirects are disabled so B streams every byte itself. Each backend gets a bucket/container of
 * its own for this run, removed at the end.
 *
 * Without the environment a backend is skipped with the reason, except under CI=true, where that
 * is a failure. skopeo missing: its part is skipped the same way (fails under CI=true).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestOptions } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { s3Backend, swiftBackend, type Backend } from '../helpers/object-backends.js';
import {
  buildImage,
  buildMultiPlatform,
  MediaType,
  parseObject,
  pushImageOverHttp,
  pushIndexOverHttp,
  readLayoutBlob,
  readLayoutRef,
  sha256Digest,
  writeOciLayout,
  type Blob,
  type BuiltImage,
} from '../helpers/oci-image.js';

const inCi = process.env.CI === 'true';
const run = randomBytes(4).toString('hex');
const SECRET = `multi-node-${randomBytes(12).toString('hex')}`;
const ACCEPT = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList, MediaType.dockerManifest].join(', ');
const REQUEST_TIMEOUT_MS = 30_000;
/** `berth.cache.linkttl`'s default: how stale another node's tag and link answers may be. */
const LINK_TTL_MS = 1000;

/** Waits until the staleness bound has passed since `since` (a moment after the write finished). */
async function pastTheBound(since: number): Promise<void> {
  const left = since + LINK_TTL_MS + 25 - Date.now();
  if (left > 0) await delay(left);
}

// ------------------------------------------------------------------------------------------------
// HTTP against the nodes.

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...init });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** The first error code of a registry error body, or the body itself when it is not one. */
function errorCode(reply: Reply): string {
  try {
    const errors = parseObject(reply.body).errors;
    if (Array.isArray(errors)) {
      const first: unknown = errors[0];
      if (typeof first === 'object' && first !== null && 'code' in first && typeof first.code === 'string') return first.code;
    }
  } catch {
    // not JSON
  }
  return `(no error code) ${reply.body.toString().slice(0, 200)}`;
}

function describeReply(what: string, reply: Reply): string {
  return `${what} → ${reply.status} ${reply.body.toString().slice(0, 300)}`;
}

async function getManifest(node: BerthProcess, repo: string, ref: string, method = 'GET'): Promise<Reply> {
  return call(`${node.url}/v2/${repo}/manifests/${ref}`, { method, headers: { accept: ACCEPT } });
}

async function assertManifest(node: BerthProcess, label: string, repo: string, ref: string, expected: Blob): Promise<void> {
  const got = await getManifest(node, repo, ref);
  assert.equal(got.status, 200, describeReply(`${label} GET ${repo}:${ref}`, got));
  assert.ok(got.body.equals(expected.bytes), `${label}: ${repo}:${ref} bytes differ (got ${sha256Digest(got.body)}, want ${expected.digest})`);
  assert.equal(got.headers.get('docker-content-digest'), expected.digest, `${label}: ${repo}:${ref} digest header`);
  assert.equal(got.headers.get('content-type'), expected.mediaType, `${label}: ${repo}:${ref} content type`);
  const head = await getManifest(node, repo, ref, 'HEAD');
  assert.equal(head.status, 200, `${label} HEAD ${repo}:${ref}`);
  assert.equal(head.headers.get('docker-content-digest'), expected.digest, `${label}: HEAD ${repo}:${ref} digest header`);
}

async function assertBlob(node: BerthProcess, label: string, repo: string, blob: Blob): Promise<void> {
  const head = await call(`${node.url}/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200, `${label} HEAD blob ${blob.digest}: ${head.status}`);
  assert.equal(head.headers.get('content-length'), String(blob.size), `${label}: HEAD blob ${blob.digest} length`);
  const got = await call(`${node.url}/v2/${repo}/blobs/${blob.digest}`);
  assert.equal(got.status, 200, describeReply(`${label} GET blob ${blob.digest}`, got));
  assert.equal(got.body.length, blob.size, `${label}: blob ${blob.digest} length`);
  assert.equal(sha256Digest(got.body), blob.digest, `${label}: blob ${blob.digest} bytes differ`);
}

async function tagsOf(node: BerthProcess, repo: string): Promise<string[]> {
  const got = await call(`${node.url}/v2/${repo}/tags/list`);
  assert.equal(got.status, 200, describeReply(`tags/list ${repo}`, got));
  const tags = parseObject(got.body).tags;
  assert.ok(Array.isArray(tags), `tags/list ${repo}: ${got.body.toString()}`);
  return tags.map(String).sort();
}

async function putManifest(node: BerthProcess, repo: string, ref: string, manifest: Blob): Promise<void> {
  const got = await call(`${node.url}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: { 'content-type': manifest.mediaType },
    body: new Uint8Array(manifest.bytes),
  });
  assert.equal(got.status, 201, describeReply(`PUT ${repo}:${ref}`, got));
  assert.equal(got.headers.get('docker-content-digest'), manifest.digest);
}

// ------------------------------------------------------------------------------------------------
// skopeo

interface SkopeoResult {
  readonly code: number | null;
  readonly stderr: string;
}

function skopeo(args: readonly string[], timeout = 60_000): Promise<SkopeoResult> {
  return new Promise((resolveRun, reject) => {
    execFile('skopeo', ['--insecure-policy', ...args], { timeout, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number' && error.killed !== true) {
        reject(error);
        return;
      }
      resolveRun({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stderr: String(stderr) });
    });
  });
}

async function haveSkopeo(): Promise<boolean> {
  try {
    return (await skopeo(['--version'], 10_000)).code === 0;
  } catch {
    return false;
  }
}

async function mustSkopeo(args: readonly string[]): Promise<void> {
  const result = await skopeo(args);
  assert.equal(result.code, 0, `skopeo ${args.join(' ')} exited ${String(result.code)}:\n${result.stderr}`);
}

// ------------------------------------------------------------------------------------------------
// The suite, once per backend.

const skopeoAvailable = await haveSkopeo();

for (const backend of [s3Backend({ tag: `mn-${run}` }), swiftBackend({ tag: `mn-${run}` })]) {
  if (backend.missing !== undefined) {
    if (inCi) {
      test(`multi-node on ${backend.name}: the backend is available in CI`, () => {
        assert.fail(`CI=true but ${backend.missing ?? ''}`);
      });
    } else {
      test(`multi-node on ${backend.name}`, { skip: backend.missing }, () => undefined);
    }
    continue;
  }
  defineSuite(backend);
}

function defineSuite(backend: Backend): void {
  describe(`two Berth nodes on one ${backend.name} store`, { timeout: 150_000 }, () => {
    let a: BerthProcess | undefined;
    let b: BerthProcess | undefined;
    /** A node with the link cache off (`berth.cache.linkttl: 0`). */
    let c: BerthProcess | undefined;
    let work = '';
    const nodes = (): [BerthProcess, BerthProcess] => {
      if (a === undefined || b === undefined) assert.fail('the nodes did not start');
      return [a, b];
    };
    /** A test whose failure message ends with the tail of both nodes' logs. */
    const nodeTest = (name: string, options: TestOptions, fn: () => Promise<void>): void => {
      test(name, options, async () => {
        try {
          await fn();
        } catch (error) {
          if (error instanceof Error) {
            error.message += `\n--- node A log:\n${a?.output().slice(-3000) ?? ''}\n--- node B log:\n${b?.output().slice(-3000) ?? ''}\n--- node C log:\n${c?.output().slice(-2000) ?? ''}`;
          }
          throw error;
        }
      });
    };

    before(async () => {
      work = await mkdtemp(join(tmpdir(), `berth-mn-${backend.name}-`));
      await backend.prepare();
      const config = {
        storage: {
          ...backend.storage(`mn-${run}`),
          delete: { enabled: true },
          redirect: { disable: true },
          maintenance: { uploadpurging: { enabled: false } },
        },
        http: { secret: SECRET },
      };
      // One after the other: startBerth's free-port probe could hand two parallel starts one port.
      a = await startBerth({ config });
      b = await startBerth({ config });
      c = await startBerth({ config: { ...config, berth: { cache: { linkttl: 0 } } } });
      assert.notEqual(a.port, b.port);
    });

    after(async () => {
      await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
      await backend.cleanup();
      if (work !== '') await rm(work, { recursive: true, force: true });
    });

    nodeTest(
      'an image pushed through A with skopeo is pulled through B byte-identical',
      { skip: skopeoAvailable || inCi ? false : 'skopeo is not installed (test/setup/10-skopeo.sh installs it)', timeout: 90_000 },
      async () => {
        assert.ok(skopeoAvailable, 'CI=true but skopeo is not installed');
        const [nodeA, nodeB] = nodes();
        const image = buildImage({ layerSizes: [3 * 1024 * 1024 + 17, 40 * 1024] });
        const layout = join(work, 'layout');
        await writeOciLayout(layout, image.blobs, [{ tag: 'v1', target: image.manifest }]);
        const repo = `mn/skopeo-${backend.name}`;
        await mustSkopeo(['copy', '--dest-tls-verify=false', '--format', 'oci', `oci:${layout}:v1`, `docker://${nodeA.host}/${repo}:v1`]);

        await assertManifest(nodeB, 'B', repo, 'v1', image.manifest);
        await assertManifest(nodeB, 'B', repo, image.manifest.digest, image.manifest);
        for (const blob of [...image.layers, image.config]) await assertBlob(nodeB, 'B', repo, blob);

        const pulled = join(work, 'pulled');
        await mustSkopeo(['copy', '--src-tls-verify=false', `docker://${nodeB.host}/${repo}:v1`, `oci:${pulled}:back`]);
        assert.equal((await readLayoutRef(pulled, 'back')).digest, image.manifest.digest, 'skopeo from B: manifest digest');
        for (const blob of image.blobs) {
          assert.ok((await readLayoutBlob(pulled, blob.digest)).equals(blob.bytes), `skopeo from B: blob ${blob.digest} differs`);
        }
      },
    );

    nodeTest('a two-platform index pushed through A over HTTP is served by B byte-identical', {}, async () => {
      const [nodeA, nodeB] = nodes();
      const built = buildMultiPlatform(undefined, { layerSizes: [1024 * 1024 + 5, 20 * 1024] });
      const repo = `mn/index-${backend.name}`;
      await pushIndexOverHttp(nodeA.url, repo, 'multi', built);
      await assertManifest(nodeB, 'B', repo, 'multi', built.index);
      for (const image of built.images) {
        await assertManifest(nodeB, 'B', repo, image.manifest.digest, image.manifest);
        for (const blob of [...image.layers, image.config]) await assertBlob(nodeB, 'B', repo, blob);
      }
      assert.deepEqual(await tagsOf(nodeB, repo), ['multi']);
    });

    nodeTest('a tag moved through one node is seen by it at once and by the other within berth.cache.linkttl', {}, async () => {
      const [nodeA, nodeB] = nodes();
      const repo = `mn/tags-${backend.name}`;
      const images: BuiltImage[] = [buildImage({ layers: 1 }), buildImage({ layers: 1 })];
      const [first, second] = images as [BuiltImage, BuiltImage];
      await pushImageOverHttp(nodeA.url, repo, 'latest', first);
      await pushImageOverHttp(nodeA.url, repo, second.manifest.digest, second);
      const moves: Array<[BerthProcess, BerthProcess, BuiltImage, string]> = [
        [nodeA, nodeB, second, 'moved on A, read on B'],
        [nodeB, nodeA, first, 'moved on B, read on A'],
        [nodeA, nodeB, first, 'rewritten unchanged on A, read on B'],
        [nodeB, nodeA, second, 'moved on B, read on A'],
        [nodeA, nodeB, first, 'moved on A, read on B'],
        [nodeB, nodeA, second, 'moved on B, read on A'],
      ];
      let current = first;
      let staleSeen = 0;
      await pastTheBound(Date.now());
      for (const [writer, reader, image, label] of moves) {
        // The reader serves the current target (so its cache holds it), then the tag moves.
        await assertManifest(reader, `${label} (before)`, repo, 'latest', current.manifest);
        await putManifest(writer, repo, 'latest', image.manifest);
        const written = Date.now();
        await assertManifest(writer, `${label}: the writing node, right after its PUT`, repo, 'latest', image.manifest);
        // Within the bound the other node may still answer the old target, never anything else.
        const early = await getManifest(reader, repo, 'latest');
        assert.equal(early.status, 200, describeReply(`${label}: right after the PUT`, early));
        const earlyDigest = early.headers.get('docker-content-digest');
        assert.ok(earlyDigest === image.manifest.digest || earlyDigest === current.manifest.digest, `${label}: right after the PUT: ${String(earlyDigest)}`);
        if (earlyDigest !== image.manifest.digest) staleSeen += 1;
        await pastTheBound(written);
        await assertManifest(reader, `${label} (after the bound)`, repo, 'latest', image.manifest);
        current = image;
      }
      process.stdout.write(`# ${backend.name}: the other node answered the previous target right after ${staleSeen} of ${moves.length} moves (allowed within the bound)\n`);
      await putManifest(nodeB, repo, 'v2', second.manifest);
      assert.deepEqual(await tagsOf(nodeA, repo), ['latest', 'v2'], 'A lists the tag B just created');
      assert.deepEqual(await tagsOf(nodeB, repo), ['latest', 'v2']);
    });

    nodeTest('with berth.cache.linkttl: 0 a tag moved through another node is seen at once', {}, async () => {
      const [nodeA] = nodes();
      const nodeC = c ?? assert.fail('node C did not start');
      const repo = `mn/tags-nocache-${backend.name}`;
      const [first, second] = [buildImage({ layers: 1 }), buildImage({ layers: 1 })];
      await pushImageOverHttp(nodeA.url, repo, 'latest', first);
      await pushImageOverHttp(nodeA.url, repo, second.manifest.digest, second);
      let current = first;
      for (const image of [second, first, second]) {
        await assertManifest(nodeC, 'C (before)', repo, 'latest', current.manifest);
        await putManifest(nodeA, repo, 'latest', image.manifest);
        await assertManifest(nodeC, 'C right after the PUT on A', repo, 'latest', image.manifest);
        current = image;
      }
    });

    nodeTest('deletes through one node are seen by it at once and by the other within the bound', {}, async () => {
      const [nodeA, nodeB] = nodes();
      const repo = `mn/delete-${backend.name}`;
      const doomed = buildImage({ layers: 1 });
      const kept = buildImage({ layers: 1 });
      await pushImageOverHttp(nodeA.url, repo, 'gone', doomed);
      await putManifest(nodeA, repo, 'also-gone', doomed.manifest);
      await pushImageOverHttp(nodeA.url, repo, 'kept', kept);
      await pushImageOverHttp(nodeA.url, repo, 'untag-me', kept);

      // Both nodes have served everything once.
      for (const node of [nodeA, nodeB]) {
        await assertManifest(node, 'primed', repo, doomed.manifest.digest, doomed.manifest);
        await assertManifest(node, 'primed', repo, 'gone', doomed.manifest);
        await assertBlob(node, 'primed', repo, doomed.layers[0] ?? assert.fail('no layer'));
      }

      // Manifest by digest, through A: A at once, and B after the bound, lose the manifest and both tags on it.
      const del = await call(`${nodeA.url}/v2/${repo}/manifests/${doomed.manifest.digest}`, { method: 'DELETE' });
      assert.equal(del.status, 202, describeReply('DELETE manifest on A', del));
      const deleted = Date.now();
      for (const ref of [doomed.manifest.digest, 'gone', 'also-gone']) {
        const got = await getManifest(nodeA, repo, ref);
        assert.equal(got.status, 404, describeReply(`A GET ${ref} right after its own delete`, got));
      }
      await pastTheBound(deleted);
      for (const ref of [doomed.manifest.digest, 'gone', 'also-gone']) {
        const got = await getManifest(nodeB, repo, ref);
        assert.equal(got.status, 404, describeReply(`B GET ${ref} after the delete on A`, got));
        assert.equal(errorCode(got), 'MANIFEST_UNKNOWN');
        assert.equal((await getManifest(nodeB, repo, ref, 'HEAD')).status, 404, `B HEAD ${ref} after the delete on A`);
      }
      assert.deepEqual(await tagsOf(nodeB, repo), ['kept', 'untag-me']);

      // A tag only, through B: A loses the tag, the manifest stays.
      await assertManifest(nodeA, 'A before the untag', repo, 'untag-me', kept.manifest);
      const untag = await call(`${nodeB.url}/v2/${repo}/manifests/untag-me`, { method: 'DELETE' });
      assert.equal(untag.status, 202, describeReply('DELETE tag on B', untag));
      const untaggedAt = Date.now();
      const onWriter = await getManifest(nodeB, repo, 'untag-me');
      assert.equal(onWriter.status, 404, describeReply('B GET the tag it just deleted', onWriter));
      await pastTheBound(untaggedAt);
      const untagged = await getManifest(nodeA, repo, 'untag-me');
      assert.equal(untagged.status, 404, describeReply('A GET the tag B deleted', untagged));
      assert.deepEqual(await tagsOf(nodeA, repo), ['kept']);
      await assertManifest(nodeA, 'A after the untag', repo, kept.manifest.digest, kept.manifest);

      // A blob, through B: A no longer serves it.
      const layer = doomed.layers[0] ?? assert.fail('no layer');
      const blobDel = await call(`${nodeB.url}/v2/${repo}/blobs/${layer.digest}`, { method: 'DELETE' });
      assert.equal(blobDel.status, 202, describeReply('DELETE blob on B', blobDel));
      const blobDeleted = Date.now();
      const own = await call(`${nodeB.url}/v2/${repo}/blobs/${layer.digest}`, { method: 'HEAD' });
      assert.equal(own.status, 404, `B HEAD the blob it just deleted: ${own.status}`);
      await pastTheBound(blobDeleted);
      const head = await call(`${nodeA.url}/v2/${repo}/blobs/${layer.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 404, `A HEAD the blob B deleted: ${head.status}`);
      const get = await call(`${nodeA.url}/v2/${repo}/blobs/${layer.digest}`);
      assert.equal(get.status, 404, describeReply('A GET the blob B deleted', get));
      assert.equal(errorCode(get), 'BLOB_UNKNOWN');

      // An upload started on A and cancelled on B is gone for A.
      const start = await call(`${nodeA.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202, describeReply('POST upload on A', start));
      const location = new URL(start.headers.get('location') ?? assert.fail('no Location'), nodeA.url);
      const onB = `${nodeB.url}${location.pathname}${location.search}`;
      const onA = `${nodeA.url}${location.pathname}${location.search}`;
      assert.equal((await call(onB)).status, 204, 'B knows the upload A started');
      const cancel = await call(onB, { method: 'DELETE' });
      assert.equal(cancel.status, 204, describeReply('DELETE upload on B', cancel));
      const status = await call(onA);
      assert.equal(status.status, 404, describeReply('A GET the upload B cancelled', status));
      assert.equal(errorCode(status), 'BLOB_UPLOAD_UNKNOWN');
    });

  });
}
