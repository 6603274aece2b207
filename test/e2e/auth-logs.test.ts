/**
 * End-to-end: Berth's logs never carry secrets, and every change leaves one audit line. A real
 * Berth process per mode (Basic, token server) runs with `log.level: debug`; the test drives
 * logins with good and bad passwords (`GET /v2/`, `GET /v1/users/`, the token endpoint by GET and
 * by POST password grant), token fetches (anonymous, credentialed, refresh-token grant, a bad
 * refresh token), pushes authenticated with Basic and with Bearer, a tampered Bearer token, a v1
 * push with the session `Token`, skopeo with `--creds` when installed, tag moves and deletes.
 * Then the captured process output (stdout + stderr) must contain none of: the passwords (good
 * and wrong ones), the base64 Basic values, any issued access or refresh token (nor its
 * signature part), the v1 session token's signature. And the JSON lines with `"audit":true` hold
 * exactly one line per push, tag and delete, naming the principal and the repository.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import {
  authConfig,
  basicHeader,
  basicValue,
  commandWorks,
  fetchToken,
  jsonLines,
  makeUsers,
  pushImageWithAuth,
  runSkopeo,
  skipUnless,
  writeHtpasswd,
  type AuthTestMode,
} from '../helpers/auth-e2e.js';
import { buildImage, writeOciLayout, type BuiltImage } from '../helpers/oci-image.js';
import { createTar } from '../helpers/tar.js';

const hasSkopeo = await commandWorks('skopeo', ['--version']);
const skopeoSkip = skipUnless(hasSkopeo, 'skopeo');
const { alice, bob } = makeUsers();
const WRONG = `wrong-${randomBytes(10).toString('hex')}`;
const DOCKER_UA = 'docker/1.9.1 go/go1.4.3 git-commit/a34a1d5 kernel/4.2.0 os/linux arch/amd64';

interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

function http(berth: BerthProcess, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: berth.port, method, path, timeout: 15_000, headers: { 'User-Agent': DOCKER_UA, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.end(body);
  });
}

/** POST <base>/token with an OAuth2 form; the parsed JSON reply. */
async function postToken(berth: BerthProcess, form: Record<string, string | readonly string[]>): Promise<{ status: number; body: Record<string, unknown> }> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const value of typeof v === 'string' ? [v] : v) params.append(k, value);
  const res = await fetch(`${berth.url}/token`, { method: 'POST', body: params, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface Expected {
  readonly action: string;
  readonly repository: string;
  readonly reference: string;
  readonly principal: string;
}

for (const mode of ['basic', 'token'] as const satisfies readonly AuthTestMode[]) {
  describe(`logs carry no secrets and audit every change, ${mode === 'basic' ? 'Basic mode' : 'token-server mode'}`, { timeout: 120_000 }, () => {
    let berth: BerthProcess | undefined;
    let work = '';
    let image: BuiltImage;
    let other: BuiltImage;
    const run = randomBytes(3).toString('hex');
    /** Every secret the test saw or sent; none may appear in the output. */
    const secrets = new Map<string, string>();
    const expected: Expected[] = [];

    function b(): BerthProcess {
      assert.ok(berth !== undefined, 'berth did not start');
      return berth;
    }

    function secret(label: string, value: unknown): void {
      assert.equal(typeof value, 'string', `${label} is a string`);
      const text = String(value);
      assert.ok(text.length >= 8, `${label} is long enough to search for`);
      secrets.set(label, text);
      // A JWT's signature alone is secret material too.
      const parts = text.split('.');
      if (parts.length === 3 && (parts[2] ?? '').length >= 16) secrets.set(`${label} (signature)`, parts[2] ?? '');
    }

    function repo(suffix: string): string {
      return `${suffix}-${run}`;
    }

    before(async () => {
      work = await mkdtemp(join(tmpdir(), `berth-e2e-auth-logs-${mode}-`));
      const htpasswd = await writeHtpasswd(work, [alice, bob]);
      const config = authConfig(mode, htpasswd);
      berth = await startBerth({ config: { ...config, log: { level: 'debug' } } });
      image = buildImage({ format: 'docker', layers: 1 });
      other = buildImage({ format: 'docker', layers: 1 });
      for (const user of [alice, bob]) {
        secret(`${user.name}'s password`, user.password);
        secret(`${user.name}'s Basic value`, basicValue(user));
        secret(`${user.name}'s wrong Basic value`, basicValue(user, WRONG));
      }
      secret('the wrong password', WRONG);
    });

    after(async () => {
      await berth?.stop();
      if (work !== '') await rm(work, { recursive: true, force: true });
    });

    it('logins with good and bad passwords', async () => {
      for (const user of [alice, bob]) {
        // GET /v2/ is docker login's check in Basic mode; a Bearer-mode registry takes Basic too.
        assert.equal((await fetch(`${b().url}/v2/`, { headers: { authorization: basicHeader(user) } })).status, 200);
        assert.equal((await fetch(`${b().url}/v2/`, { headers: { authorization: basicHeader(user, WRONG) } })).status, 401);
        assert.equal((await http(b(), 'GET', '/v1/users/', { Authorization: basicHeader(user) })).status, 200);
        assert.equal((await http(b(), 'GET', '/v1/users/', { Authorization: basicHeader(user, WRONG) })).status, 401);
        const signup = await http(b(), 'POST', '/v1/users/', { 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify({ username: user.name, password: user.password, email: 'x@berth.test' })));
        assert.notEqual(signup.status, 201);
      }
    });

    it('token fetches (token-server mode): GET and POST, good and bad credentials, refresh tokens', { skip: mode === 'basic' ? 'no token server in Basic mode' : false }, async () => {
      const scope = `repository:${repo('private/bearer')}:pull,push`;
      const login = await fetchToken(b().url, [], basicHeader(alice));
      assert.equal(login.status, 200);
      secret('login token', login.body['token']);
      const offline = await fetch(`${b().url}/token?service=berth&client_id=docker&offline_token=true&account=alice`, { headers: { authorization: basicHeader(alice) } });
      const offlineBody = (await offline.json()) as Record<string, unknown>;
      secret('GET refresh token', offlineBody['refresh_token']);
      secret('GET offline token', offlineBody['token']);
      assert.equal((await fetchToken(b().url, [scope], basicHeader(alice, WRONG))).status, 401);
      assert.equal((await fetchToken(b().url, [scope], basicHeader(bob, WRONG))).status, 401);
      const anonymous = await fetchToken(b().url, [`repository:${repo('public/x')}:pull`]);
      secret('anonymous token', anonymous.body['token']);

      const password = await postToken(b(), { grant_type: 'password', client_id: 'berth-e2e', service: 'berth', username: 'alice', password: alice.password, access_type: 'offline', scope });
      assert.equal(password.status, 200, JSON.stringify(password.body));
      secret('POST password-grant token', password.body['access_token']);
      secret('POST refresh token', password.body['refresh_token']);
      const refreshed = await postToken(b(), { grant_type: 'refresh_token', client_id: 'berth-e2e', service: 'berth', refresh_token: String(password.body['refresh_token']), scope });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      secret('refresh-grant token', refreshed.body['access_token']);
      const badPost = await postToken(b(), { grant_type: 'password', client_id: 'berth-e2e', service: 'berth', username: 'alice', password: WRONG, scope });
      assert.equal(badPost.status, 401);
      const forged = `${String(password.body['refresh_token']).slice(0, -6)}AAAAAA`;
      secret('forged refresh token', forged);
      assert.equal((await postToken(b(), { grant_type: 'refresh_token', client_id: 'berth-e2e', service: 'berth', refresh_token: forged })).status, 401);
    });

    it('pushes with Basic and with Bearer, a tampered Bearer token, tag moves and deletes', { timeout: 40_000 }, async () => {
      const basicRepo = repo('private/basic');
      await pushImageWithAuth(b().url, basicRepo, 'v1', image, basicHeader(alice));
      expected.push({ action: 'push', repository: basicRepo, reference: 'v1', principal: 'alice' }, { action: 'tag', repository: basicRepo, reference: 'v1', principal: 'alice' });
      const ciRepo = repo('ci/basic');
      await pushImageWithAuth(b().url, ciRepo, 'v1', image, basicHeader(bob));
      expected.push({ action: 'push', repository: ciRepo, reference: 'v1', principal: 'bob' }, { action: 'tag', repository: ciRepo, reference: 'v1', principal: 'bob' });
      // Moving the tag: another manifest under v1.
      await pushImageWithAuth(b().url, ciRepo, 'v1', other, basicHeader(bob));
      expected.push({ action: 'push', repository: ciRepo, reference: 'v1', principal: 'bob' }, { action: 'tag', repository: ciRepo, reference: 'v1', principal: 'bob' });
      // A refused push leaves no audit line.
      await assert.rejects(pushImageWithAuth(b().url, repo('private/bob'), 'v1', image, basicHeader(bob)));

      if (mode === 'token') {
        const bearerRepo = repo('private/bearer');
        const reply = await fetchToken(b().url, [`repository:${bearerRepo}:pull,push,delete`], basicHeader(alice));
        const token = String(reply.body['token']);
        secret('push token', token);
        await pushImageWithAuth(b().url, bearerRepo, 'v1', image, `Bearer ${token}`);
        expected.push({ action: 'push', repository: bearerRepo, reference: 'v1', principal: 'alice' }, { action: 'tag', repository: bearerRepo, reference: 'v1', principal: 'alice' });
        const del = await fetch(`${b().url}/v2/${bearerRepo}/manifests/${image.manifest.digest}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
        assert.equal(del.status, 202, await del.text());
        expected.push({ action: 'delete', repository: bearerRepo, reference: image.manifest.digest, principal: 'alice' });
        const tampered = `${token.slice(0, -8)}${token.endsWith('AAAAAAAA') ? 'BBBBBBBB' : 'AAAAAAAA'}`;
        secret('tampered token', tampered);
        assert.equal((await fetch(`${b().url}/v2/${bearerRepo}/tags/list`, { headers: { authorization: `Bearer ${tampered}` } })).status, 401);
      }
      const del = await fetch(`${b().url}/v2/${basicRepo}/manifests/${image.manifest.digest}`, { method: 'DELETE', headers: { authorization: basicHeader(alice) } });
      assert.equal(del.status, 202, await del.text());
      expected.push({ action: 'delete', repository: basicRepo, reference: image.manifest.digest, principal: 'alice' });
    });

    it('a v1 push with the session Token', { timeout: 30_000 }, async () => {
      const name = repo('private/v1');
      const id = randomBytes(32).toString('hex');
      const tar = createTar([{ name: 'v1/', mtime: 1_400_000_000 }, { name: 'v1/f', data: randomBytes(5000), mtime: 1_400_000_000 }]);
      const layer = gzipSync(tar);
      const json = Buffer.from(JSON.stringify({ id, created: '2015-06-01T10:00:00Z', config: { Cmd: ['/bin/sh'] }, architecture: 'amd64', os: 'linux', Size: tar.length }));
      const index = await http(b(), 'PUT', `/v1/repositories/${name}/`, { Authorization: basicHeader(alice), 'X-Docker-Token': 'true', 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify([{ id, Tag: 'latest' }])));
      assert.equal(index.status, 200, index.body.toString());
      const sessionToken = String(index.headers['x-docker-token']);
      const signature = /signature=([^,]+)/.exec(sessionToken)?.[1];
      secret('v1 session token', sessionToken);
      secret('v1 session token signature', signature);
      secret('v1 session token MAC', signature?.split('.')[1]);
      const auth = { Authorization: `Token ${sessionToken}` };
      assert.equal((await http(b(), 'PUT', `/v1/images/${id}/json`, { ...auth, 'Content-Type': 'application/json' }, json)).status, 200);
      assert.equal((await http(b(), 'PUT', `/v1/images/${id}/layer`, { ...auth, 'Content-Type': 'application/octet-stream' }, layer)).status, 200);
      const payload = `sha256:${createHash('sha256').update(json).update('\n').update(layer).digest('hex')}`;
      assert.equal((await http(b(), 'PUT', `/v1/images/${id}/checksum`, { ...auth, 'X-Docker-Checksum-Payload': payload })).status, 200);
      assert.equal((await http(b(), 'PUT', `/v1/repositories/${name}/tags/latest`, { ...auth, 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(id)))).status, 200);
      expected.push({ action: 'tag', repository: name, reference: 'latest', principal: 'alice' });
      assert.equal((await http(b(), 'PUT', `/v1/repositories/${name}/images`, { ...auth, 'X-Docker-Token': 'true', 'Content-Type': 'application/json' }, Buffer.from('[]'))).status, 204);
      // A forged session token: 401, and not logged either.
      const forged = sessionToken.replace(/signature=[^.]+\.[^,]+/, `signature=${signature?.split('.')[0] ?? ''}.${randomBytes(32).toString('base64url')}`);
      secret('forged v1 session token MAC', /signature=[^.]+\.([^,]+)/.exec(forged)?.[1]);
      assert.equal((await http(b(), 'PUT', `/v1/repositories/${name}/tags/other`, { Authorization: `Token ${forged}`, 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(id)))).status, 401);
      assert.equal((await http(b(), 'DELETE', `/v1/repositories/${name}/tags/latest`, { Authorization: basicHeader(alice) })).status, 200);
      expected.push({ action: 'untag', repository: name, reference: 'latest', principal: 'alice' });
    });

    it('skopeo with --creds (good and wrong password)', { skip: skopeoSkip, timeout: 60_000 }, async () => {
      const authFile = join(work, 'auth.json');
      await writeFile(authFile, '{"auths":{}}\n');
      const env = { ...process.env, HOME: work, REGISTRY_AUTH_FILE: authFile, XDG_RUNTIME_DIR: work };
      const built = buildImage({ layers: 1 });
      const skLayout = join(work, 'sk-layout');
      await writeOciLayout(skLayout, built.blobs, [{ tag: 'img', target: built.manifest }]);
      const target = repo('private/skopeo');
      const pushed = await runSkopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `alice:${alice.password}`, `oci:${skLayout}:img`, `docker://${b().host}/${target}:v1`], { env });
      assert.equal(pushed.code, 0, pushed.stderr);
      expected.push({ action: 'push', repository: target, reference: 'v1', principal: 'alice' }, { action: 'tag', repository: target, reference: 'v1', principal: 'alice' });
      const wrong = await runSkopeo(['inspect', '--raw', '--tls-verify=false', '--creds', `alice:${WRONG}`, `docker://${b().host}/${target}:v1`], { env });
      assert.notEqual(wrong.code, 0);
    });

    it('the process output holds none of the secrets, and one audit line per change', async () => {
      // Let the last lines reach the pipe.
      await new Promise((r) => setTimeout(r, 300));
      const output = b().output();
      const lines = jsonLines(output);
      assert.ok(lines.some((l) => l['level'] === 20), 'debug lines are being written (log.level: debug)');
      assert.ok(secrets.size >= 9, `secrets collected: ${[...secrets.keys()].join(', ')}`);
      const leaked = [...secrets].filter(([, value]) => output.includes(value)).map(([label]) => label);
      assert.deepEqual(leaked, [], `secrets found in Berth's output: ${leaked.join(', ')}`);
      // Redaction markers are fine; the raw header values are not.
      assert.equal(/Basic [A-Za-z0-9+/]{8,}={0,2}/.test(output), false, 'a Basic credential appears in the output');
      assert.equal(/Bearer [A-Za-z0-9_-]{10,}\./.test(output), false, 'a Bearer token appears in the output');

      const audit = lines.filter((l) => l['audit'] === true);
      for (const line of audit) {
        assert.equal(typeof line['principal'], 'string', JSON.stringify(line));
        assert.equal(typeof line['repository'], 'string', JSON.stringify(line));
        assert.equal(typeof line['action'], 'string', JSON.stringify(line));
      }
      for (const e of expected) {
        const matching = audit.filter((l) => l['action'] === e.action && l['repository'] === e.repository && l['reference'] === e.reference);
        const shown = (l: Record<string, unknown>): string => `${String(l['action'])} ${String(l['repository'])} ${String(l['reference'])} by ${String(l['principal'])}`;
        // A tag moved twice in one repository counts twice.
        const times = expected.filter((x) => x.action === e.action && x.repository === e.repository && x.reference === e.reference).length;
        assert.equal(matching.length, times, `audit lines for ${e.action} ${e.repository} ${e.reference}:\n${audit.map(shown).join('\n')}`);
        for (const line of matching) assert.equal(line['principal'], e.principal, shown(line));
      }
      const changes = audit.filter((l) => ['push', 'tag', 'delete', 'untag'].includes(String(l['action'])));
      assert.equal(changes.length, expected.length, `no audit line beyond the expected ones:\n${changes.map((l) => JSON.stringify(l)).join('\n')}`);
      assert.equal(audit.some((l) => String(l['repository']).startsWith(repo('private/bob'))), false, 'refused pushes leave no audit line');
    });
  });
}
