/**
 * End-to-end: the v1 API with credentials against a real Berth process, in Basic mode and in
 * token-server mode (v1 always takes Basic at the index and the v1 session `Token` after it):
 *
 * - a push scripted exactly as docker 1.x sends it: `PUT /v1/repositories/<name>/` with
 *   `Authorization: Basic` and `X-Docker-Token: true`, then every registry call (image json,
 *   chunked layer, checksum, tag, final `PUT …/images`) with `Authorization: Token <X-Docker-Token>`;
 *   the pushed image is then readable over v2 by alice; bob is refused (403) on private/**, and
 *   a tampered or missing session token gets 401;
 * - login: `GET /v1/users/` 200 with good credentials, 401 with bad ones or none;
 *   `POST /v1/users/` never 201; Joyent's `loginV1` (docker 1.x's sequence) succeeds with alice's
 *   password and fails with a wrong one;
 * - pulls with Joyent's v1 client (`createClientV1`, imgadm 3.0–3.7): anonymous of public/** works
 *   (layers byte for byte), of private/** gets 401; alice's credentialed pull of private/** works.
 *
 * Only node and the library are needed, so this suite never skips.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import drc, { type MaybeError, type RegistryClientV1, type RegistryResponse } from 'docker-registry-client';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { authConfig, basicHeader, makeUsers, writeHtpasswd, type AuthTestMode, type User } from '../helpers/auth-e2e.js';
import { createMemoryLogger } from '../helpers/drc.js';
import { createTar } from '../helpers/tar.js';
import { gzipSync } from 'node:zlib';

const DOCKER_UA = 'docker/1.9.1 go/go1.4.3 git-commit/a34a1d5 kernel/4.2.0 os/linux arch/amd64';
const { alice, bob } = makeUsers();

interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

function http(berth: BerthProcess, method: string, path: string, headers: Record<string, string>, body?: Buffer, chunked = false): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: berth.port, method, path, timeout: 15_000, headers: { 'User-Agent': DOCKER_UA, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    if (body === undefined) req.end();
    else if (chunked) {
      // docker 1.x streams layers with Transfer-Encoding: chunked.
      for (let i = 0; i < body.length; i += 16 * 1024) req.write(body.subarray(i, i + 16 * 1024));
      req.end();
    } else req.end(body);
  });
}

interface V1Image {
  readonly id: string;
  readonly json: Buffer;
  readonly layer: Buffer;
}

function chain(count: number): V1Image[] {
  const out: V1Image[] = [];
  for (let i = 0; i < count; i++) {
    const id = randomBytes(32).toString('hex');
    const tar = createTar([
      { name: `l${i}/`, mtime: 1_400_000_000 },
      { name: `l${i}/data.bin`, data: randomBytes(40_000 + i * 333), mtime: 1_400_000_000 },
    ]);
    const parent = out[i - 1]?.id;
    const json = Buffer.from(
      JSON.stringify({
        id,
        ...(parent !== undefined ? { parent } : {}),
        created: `2015-06-0${i + 1}T10:00:00Z`,
        container_config: { Cmd: ['/bin/sh', '-c', `step ${i}`] },
        config: { Cmd: ['/bin/sh'] },
        docker_version: '1.9.1',
        architecture: 'amd64',
        os: 'linux',
        Size: tar.length,
      }),
    );
    out.push({ id, json, layer: gzipSync(tar) });
  }
  return out;
}

/** The session token as docker 1.x sends it back: `Token <X-Docker-Token value>`. */
function tokenAuth(index: HttpResult): string {
  const value = index.headers['x-docker-token'];
  assert.equal(typeof value, 'string', 'X-Docker-Token in the index answer');
  return `Token ${String(value)}`;
}

/** docker 1.x's push of name:tag: index PUT with Basic, registry calls with the session token. */
async function pushV1(berth: BerthProcess, user: User, name: string, tag: string, images: readonly V1Image[]): Promise<string> {
  const top = images[images.length - 1] as V1Image;
  const list = [...images.slice(0, -1).map((c) => ({ id: c.id })), { id: top.id, Tag: tag }];
  const index = await http(berth, 'PUT', `/v1/repositories/${name}/`, { Authorization: basicHeader(user), 'X-Docker-Token': 'true', 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(list)));
  assert.equal(index.status, 200, `index PUT: ${index.status} ${index.body.toString()}`);
  assert.equal(index.headers['x-docker-endpoints'], berth.host);
  const token = tokenAuth(index);
  assert.match(token, /^Token signature=[^,]+,repository="[^"]+",access=write$/);
  const auth = { Authorization: token };
  for (const image of images) {
    const exists = await http(berth, 'GET', `/v1/images/${image.id}/json`, auth);
    assert.equal(exists.status, 404, `GET json before the push: ${exists.status} ${exists.body.toString()}`);
    const json = await http(berth, 'PUT', `/v1/images/${image.id}/json`, { ...auth, 'Content-Type': 'application/json' }, image.json);
    assert.equal(json.status, 200, json.body.toString());
    const layer = await http(berth, 'PUT', `/v1/images/${image.id}/layer`, { ...auth, 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' }, image.layer, true);
    assert.equal(layer.status, 200, layer.body.toString());
    const payload = `sha256:${createHash('sha256').update(image.json).update('\n').update(image.layer).digest('hex')}`;
    const sum = await http(berth, 'PUT', `/v1/images/${image.id}/checksum`, { ...auth, 'X-Docker-Checksum': 'tarsum+sha256:unused', 'X-Docker-Checksum-Payload': payload });
    assert.equal(sum.status, 200, sum.body.toString());
  }
  const tagged = await http(berth, 'PUT', `/v1/repositories/${name}/tags/${tag}`, { ...auth, 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(top.id)));
  assert.equal(tagged.status, 200, tagged.body.toString());
  const done = await http(berth, 'PUT', `/v1/repositories/${name}/images`, { ...auth, 'X-Docker-Token': 'true', 'X-Docker-Endpoints': berth.host, 'Content-Type': 'application/json' }, Buffer.from('[]'));
  assert.equal(done.status, 204, done.body.toString());
  return token;
}

// ---- Joyent's v1 client

function call<T>(fn: (cb: (err: MaybeError, value: T, res?: RegistryResponse) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

function readLayer(client: RegistryClientV1, imgId: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.getImgLayerStream({ imgId }, (err, stream) => {
      if (err || stream === undefined) {
        reject(err ?? new Error('no stream'));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('end', () => resolve(Buffer.concat(chunks)));
      stream.resume();
    });
  });
}

/** imgadm 3.x's v1 pull (session via …/images, tags, ancestry, json + layer base first). */
async function pullV1(berth: BerthProcess, repo: string, tag: string, user?: User): Promise<Buffer[]> {
  const client = drc.createClientV1({
    name: `${berth.host}/${repo}`,
    scheme: 'http',
    insecure: true,
    log: createMemoryLogger(),
    ...(user !== undefined ? { username: user.name, password: user.password } : {}),
  });
  try {
    const tags = await call<unknown>((cb) => client.listRepoTags(cb));
    assert.ok(client.token?.startsWith('signature='), `session token from X-Docker-Token: ${String(client.token)}`);
    const id = String((tags as Record<string, string>)[tag]);
    const ancestry = await call<unknown>((cb) => client.getImgAncestry({ imgId: id }, cb));
    const layers: Buffer[] = [];
    for (const imgId of [...(ancestry as string[])].reverse()) {
      await call<unknown>((cb) => client.getImgJson({ imgId }, cb));
      layers.push(await readLayer(client, imgId));
    }
    return layers;
  } finally {
    client.close();
  }
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function loginV1(berth: BerthProcess, user: User, password: string): Promise<string> {
  return new Promise((resolve, reject) =>
    drc.loginV1({ indexName: `http://${berth.host}`, username: user.name, email: `${user.name}@berth.test`, password, log: createMemoryLogger() }, (err, result) =>
      err ? reject(err) : resolve(result?.status ?? ''),
    ),
  );
}

for (const mode of ['basic', 'token'] as const satisfies readonly AuthTestMode[]) {
  describe(`v1 with credentials, ${mode === 'basic' ? 'Basic mode' : 'token-server mode'}`, { timeout: 90_000 }, () => {
    let berth: BerthProcess | undefined;
    let work = '';
    const run = randomBytes(3).toString('hex');
    const privateRepo = `private/v1-${run}`;
    const publicRepo = `public/v1-${run}`;
    const privateImages = chain(2);
    const publicImages = chain(2);

    function b(): BerthProcess {
      assert.ok(berth !== undefined, 'berth did not start');
      return berth;
    }

    before(async () => {
      work = await mkdtemp(join(tmpdir(), `berth-e2e-auth-v1-${mode}-`));
      berth = await startBerth({ config: authConfig(mode, await writeHtpasswd(work, [alice, bob])) });
    });

    after(async () => {
      await berth?.stop();
      if (work !== '') await rm(work, { recursive: true, force: true });
    });

    it('GET /v1/users/: 200 with good credentials, 401 with bad ones or none; POST /v1/users/ never 201', async () => {
      const ok = await http(b(), 'GET', '/v1/users/', { Authorization: basicHeader(alice) });
      assert.equal(ok.status, 200, ok.body.toString());
      const variants: Record<string, string>[] = [{ Authorization: basicHeader(alice, 'wrong') }, { Authorization: basicHeader({ name: 'mallory', password: 'x' }) }, {}];
      for (const headers of variants) {
        const res = await http(b(), 'GET', '/v1/users/', headers);
        assert.equal(res.status, 401, `GET /v1/users/ ${JSON.stringify(Object.keys(headers))}: ${res.status}`);
      }
      for (const password of [alice.password, 'wrong']) {
        const body = Buffer.from(JSON.stringify({ username: alice.name, password, email: 'alice@berth.test' }));
        const created = await http(b(), 'POST', '/v1/users/', { 'Content-Type': 'application/json' }, body);
        assert.notEqual(created.status, 201, 'accounts are never created over v1');
        assert.ok(created.status === 401 || created.status === 400, `POST /v1/users/: ${created.status}`);
      }
    });

    it("Joyent's loginV1 (docker 1.x's sequence) succeeds with the password and fails without it", async () => {
      assert.equal(await loginV1(b(), alice, alice.password), 'Login Succeeded');
      await assert.rejects(loginV1(b(), alice, 'wrong'), /Wrong login\/password/);
    });

    it('docker 1.x push: Basic at the index, then Token on every registry call; readable over v2', { timeout: 40_000 }, async () => {
      await pushV1(b(), alice, privateRepo, 'latest', privateImages);
      const v2 = await fetch(`${b().url}/v2/${privateRepo}/manifests/latest`, {
        headers: { authorization: basicHeader(alice), accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      });
      const text = await v2.text();
      assert.equal(v2.status, 200, text);
      const manifest = JSON.parse(text) as { layers: { digest: string }[] };
      assert.deepEqual(
        manifest.layers.map((l) => l.digest),
        privateImages.map((i) => `sha256:${createHash('sha256').update(i.layer).digest('hex')}`),
      );
    });

    it('bob is refused on private/** (403), and a bad or missing session token gets 401', { timeout: 30_000 }, async () => {
      const images = chain(1);
      const list = Buffer.from(JSON.stringify([{ id: images[0]?.id, Tag: 'x' }]));
      const refused = await http(b(), 'PUT', `/v1/repositories/private/bob-${run}/`, { Authorization: basicHeader(bob), 'X-Docker-Token': 'true', 'Content-Type': 'application/json' }, list);
      assert.equal(refused.status, 403, refused.body.toString());
      const wrong = await http(b(), 'PUT', `/v1/repositories/private/bob-${run}/`, { Authorization: basicHeader(bob, 'wrong'), 'X-Docker-Token': 'true', 'Content-Type': 'application/json' }, list);
      assert.equal(wrong.status, 401);
      // bob's session token for ci/** does not open private/**.
      const ci = await http(b(), 'PUT', `/v1/repositories/ci/bob-${run}/`, { Authorization: basicHeader(bob), 'X-Docker-Token': 'true', 'Content-Type': 'application/json' }, list);
      assert.equal(ci.status, 200, ci.body.toString());
      const bobToken = tokenAuth(ci);
      const tagPrivate = await http(b(), 'PUT', `/v1/repositories/${privateRepo}/tags/bob`, { Authorization: bobToken, 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(privateImages[0]?.id)));
      assert.equal(tagPrivate.status, 403, tagPrivate.body.toString());
      // A tampered signature, a made-up token, no credentials at all: 401.
      const tampered = bobToken.replace(/signature=([^.]+)\.([^,]+)/, (_m, p: string, mac: string) => `signature=${p}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`);
      assert.notEqual(tampered, bobToken);
      for (const authorization of [tampered, 'Token signature=abc.def,repository="ci/x",access=write']) {
        const res = await http(b(), 'PUT', `/v1/images/${images[0]?.id ?? ''}/json`, { Authorization: authorization, 'Content-Type': 'application/json' }, images[0]?.json);
        assert.equal(res.status, 401, `${res.status} ${res.body.toString()}`);
      }
      const anonymous = await http(b(), 'PUT', `/v1/images/${images[0]?.id ?? ''}/json`, { 'Content-Type': 'application/json' }, images[0]?.json);
      assert.equal(anonymous.status, 401);
    });

    it('anonymous v1 pull (imgadm 3.x client) of public/** works; of private/** gets 401', { timeout: 40_000 }, async () => {
      await pushV1(b(), alice, publicRepo, 'latest', publicImages);
      const layers = await pullV1(b(), publicRepo, 'latest');
      assert.equal(layers.length, publicImages.length);
      layers.forEach((bytes, i) => assert.ok(bytes.equals(publicImages[i]?.layer ?? Buffer.alloc(0)), `layer ${i} byte for byte`));

      await assert.rejects(pullV1(b(), privateRepo, 'latest'), (err: unknown) => {
        assert.equal(statusOf(err), 401, String(err));
        return true;
      });
      for (const path of [`/v1/repositories/${privateRepo}/images`, `/v1/repositories/${privateRepo}/tags`, `/v1/images/${privateImages[1]?.id ?? ''}/json`, `/v1/images/${privateImages[1]?.id ?? ''}/layer`]) {
        const res = await http(b(), 'GET', path, { 'X-Docker-Token': 'true' });
        assert.equal(res.status, 401, `anonymous GET ${path}: ${res.status}`);
      }
    });

    it("alice's credentialed v1 pull of private/** works", { timeout: 30_000 }, async () => {
      const layers = await pullV1(b(), privateRepo, 'latest', alice);
      layers.forEach((bytes, i) => assert.ok(bytes.equals(privateImages[i]?.layer ?? Buffer.alloc(0)), `layer ${i} byte for byte`));
      await assert.rejects(pullV1(b(), privateRepo, 'latest', bob), (err: unknown) => {
        assert.ok(statusOf(err) === 403 || statusOf(err) === 401, String(err));
        return true;
      });
    });
  });
}
