/**
 * End-to-end: Joyent's `docker-registry-client` (the library SmartOS imgadm vendors) pulling
 * anonymously through the token dance against a real Berth process in token-server mode —
 * imgadm's path (`imgadm.md` §2.2): `GET /v2/` answers 401 with a Bearer challenge (imgadm's ping
 * accepts 401), the client fetches an anonymous token for `repository:<name>:pull` from the realm
 * (it reads only `token`, never refreshes), then reads the manifest and blobs with it. Images
 * are pushed by alice over plain HTTP with a Bearer token from the same token server.
 * public/** is anonymous-pullable: getManifest and blob downloads succeed byte for byte;
 * private/** is not: the library fails (it turns the manifest's 401 into a 404 carrying the
 * registry's message; blob reads keep the 401). The token endpoint's reply has `token`,
 * `access_token`, `expires_in` ≥ 3600 and `issued_at`.
 *
 * The library is a dependency (no external client), so this suite never skips.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { authConfig, basicHeader, fetchToken, jwtClaims, makeUsers, parseBearerChallenge, pushImageWithAuth, writeHtpasswd } from '../helpers/auth-e2e.js';
import { createMemoryLogger, Drc, DrcError, pingV2, type LogRecord } from '../helpers/drc.js';
import { buildImage, MediaType, sha256Digest, type BuiltImage } from '../helpers/oci-image.js';

const { alice, bob } = makeUsers();
const run = randomBytes(3).toString('hex');
/** Namespaces of two or more [a-z0-9_-] characters, as imgadm's vendored parseRepo requires. */
const publicRepo = `public/app-${run}`;
const privateRepo = `private/app-${run}`;

function headerOf(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

describe('docker-registry-client (imgadm) anonymous pull through the token dance', { timeout: 90_000 }, () => {
  let berth: BerthProcess | undefined;
  let work = '';
  let image: BuiltImage;
  const records: LogRecord[] = [];
  const clients: Drc[] = [];

  function client(repo: string): Drc {
    assert.ok(berth !== undefined);
    const c = new Drc({ host: berth.host, repo, log: createMemoryLogger(records) });
    clients.push(c);
    return c;
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-auth-drc-'));
    berth = await startBerth({ config: authConfig('token', await writeHtpasswd(work, [alice, bob])) });
    image = buildImage({ format: 'docker', layers: 2 });
    for (const repo of [publicRepo, privateRepo]) {
      const reply = await fetchToken(berth.url, [`repository:${repo}:pull,push`], basicHeader(alice));
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const digest = await pushImageWithAuth(berth.url, repo, 'v1', image, `Bearer ${String(reply.body['token'])}`);
      assert.equal(digest, image.manifest.digest);
    }
  });

  after(async () => {
    for (const c of clients) c.close();
    await berth?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it('the token endpoint replies token, access_token, expires_in ≥ 3600 and issued_at', async () => {
    assert.ok(berth !== undefined);
    for (const authorization of [undefined, basicHeader(alice)]) {
      const before = Date.now();
      const reply = await fetchToken(berth.url, [`repository:${publicRepo}:pull`], authorization);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const { token, access_token: accessToken, expires_in: expiresIn, issued_at: issuedAt } = reply.body;
      assert.equal(typeof token, 'string');
      assert.match(String(token), /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'a JWT');
      assert.equal(accessToken, token, 'access_token is the same token');
      assert.equal(typeof expiresIn, 'number');
      assert.ok(Number(expiresIn) >= 3600, `expires_in ${String(expiresIn)} ≥ 3600 (imgadm never refreshes)`);
      assert.equal(typeof issuedAt, 'string');
      assert.match(String(issuedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'RFC 3339 UTC');
      const issued = Date.parse(String(issuedAt));
      assert.ok(issued >= before - 2000 && issued <= Date.now() + 2000, `issued_at ${String(issuedAt)} is now`);
      assert.equal(reply.headers.get('cache-control'), 'no-store');
      const claims = jwtClaims(String(token));
      assert.equal(claims['sub'], authorization === undefined ? '' : 'alice');
      assert.equal(claims['aud'], 'berth');
      assert.deepEqual(claims['access'], [{ type: 'repository', name: publicRepo, actions: ['pull'] }]);
    }
    // Anonymous on private/**: a token all the same, granting nothing (not an error, auth.md §4.1).
    const denied = await fetchToken(berth.url, [`repository:${privateRepo}:pull`]);
    assert.equal(denied.status, 200);
    assert.deepEqual(jwtClaims(String(denied.body['token']))['access'], []);
    // Wrong credentials: 401 with a Basic challenge and a JSON body docker can show.
    const bad = await fetchToken(berth.url, [`repository:${publicRepo}:pull`], basicHeader(alice, 'wrong'));
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    assert.equal(typeof bad.body['details'], 'string');
  });

  it('imgadm ping: GET /v2/ answers 401 with the Bearer challenge and registry/2.0 (imgadm accepts 401)', async () => {
    assert.ok(berth !== undefined);
    await assert.rejects(pingV2(berth.url), (err: unknown) => {
      assert.ok(err instanceof DrcError, String(err));
      assert.equal(err.statusCode, 401);
      return true;
    });
    const res = await fetch(`${berth.url}/v2/`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    const challenge = parseBearerChallenge(res.headers.get('www-authenticate'));
    assert.equal(challenge['realm'], `${berth.url}/token`);
    assert.equal(challenge['service'], 'berth');
    assert.equal(await client(publicRepo).supportsV2(), true);
  });

  it('public/**: getManifest, listTags and blob downloads succeed anonymously', { timeout: 30_000 }, async () => {
    const c = client(publicRepo);
    const got = await c.getManifest('v1');
    assert.equal(got.manifestStr, image.manifest.bytes.toString(), 'manifest byte for byte');
    assert.equal(got.digest, image.manifest.digest);
    assert.equal(got.manifest.mediaType, MediaType.dockerManifest);
    const byDigest = await c.getManifest(image.manifest.digest);
    assert.equal(byDigest.manifestStr, image.manifest.bytes.toString());
    assert.deepEqual((await c.listTags()).tags, ['v1']);
    for (const blob of [image.config, ...image.layers]) {
      const read = await c.readBlob(blob.digest);
      assert.equal(sha256Digest(read.bytes), blob.digest);
      assert.ok(read.bytes.equals(blob.bytes), `blob ${blob.digest} byte for byte`);
      assert.equal(headerOf(read.headers, 'content-length'), String(blob.size));
    }
  });

  it('private/**: the anonymous client is refused (manifest and blobs)', { timeout: 30_000 }, async () => {
    const c = client(privateRepo);
    await assert.rejects(c.getManifest('v1'), (err: unknown) => {
      assert.ok(err instanceof DrcError, String(err));
      // The library turns a 401 on the manifest (after its login) into a 404 with the registry's message.
      assert.ok(err.statusCode === 401 || err.statusCode === 404, err.message);
      assert.match(err.message, /authentication required|unauthorized|insufficient|denied/i);
      return true;
    });
    const blob = image.layers[0];
    assert.ok(blob !== undefined);
    await assert.rejects(c.readBlob(blob.digest), (err: unknown) => {
      assert.ok(err instanceof DrcError, String(err));
      assert.equal(err.statusCode, 401, err.message);
      return true;
    });
    await assert.rejects(c.listTags(), (err: unknown) => {
      assert.ok(err instanceof DrcError, String(err));
      assert.ok(err.statusCode === 401 || err.statusCode === 404, err.message);
      return true;
    });
  });
});
