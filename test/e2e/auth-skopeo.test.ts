/**
 * End-to-end: skopeo (containers/image) against a real Berth process with authentication, in
 * Basic mode (htpasswd, `WWW-Authenticate: Basic`) and in token-server mode (Berth's own token
 * server, `WWW-Authenticate: Bearer`), with the access rules of test/helpers/auth-e2e.ts:
 * alice pushes with `--dest-creds` and pulls back with `--src-creds` byte for byte; bob (group
 * ci) pushes to ci/x but is refused on private/x; anonymous pulls of public/** work and of
 * private/** fail; a wrong password fails. skopeo runs with its own HOME and an empty auth file,
 * so no stored credentials are ever used.
 *
 * Skipped (with the reason) when skopeo is missing, except under CI=true where that is a failure.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { authConfig, basicHeader, commandWorks, fetchToken, makeUsers, runSkopeo, skipUnless, writeHtpasswd, type AuthTestMode, type RunResult, type User } from '../helpers/auth-e2e.js';
import { buildImage, readLayoutBlob, readLayoutRef, sha256Digest, writeOciLayout, type BuiltImage } from '../helpers/oci-image.js';

const hasSkopeo = await commandWorks('skopeo', ['--version']);
const skip = skipUnless(hasSkopeo, 'skopeo');
const users = makeUsers();
const { alice, bob } = users;
/** skopeo's words for a refusal; a refused HEAD (no body) shows only the status: "403 (Forbidden)". */
const REFUSED = /denied|unauthorized|forbidden/i;

for (const mode of ['basic', 'token'] as const satisfies readonly AuthTestMode[]) {
  describe(`skopeo with credentials, ${mode === 'basic' ? 'Basic mode' : 'token-server (Bearer) mode'}`, { skip, timeout: 150_000 }, () => {
    let berth: BerthProcess | undefined;
    let work = '';
    let layout = '';
    let image: BuiltImage;
    let env: NodeJS.ProcessEnv = {};
    const run = randomBytes(3).toString('hex');

    function ref(repo: string, tag = 'v1'): string {
      assert.ok(berth !== undefined);
      return `docker://${berth.host}/${repo}-${run}:${tag}`;
    }

    function creds(user: User, password = user.password): string {
      return `${user.name}:${password}`;
    }

    async function sk(args: readonly string[]): Promise<RunResult> {
      return runSkopeo(args, { env });
    }

    async function ok(args: readonly string[]): Promise<RunResult> {
      const result = await sk(args);
      assert.equal(result.code, 0, `skopeo ${args.join(' ')} exited ${String(result.code)}:\n${result.stderr}\n--- berth (tail)\n${berth?.output().slice(-3000) ?? ''}`);
      return result;
    }

    async function refused(args: readonly string[], pattern = REFUSED): Promise<RunResult> {
      const result = await sk(args);
      assert.notEqual(result.code, 0, `skopeo ${args.join(' ')} should have failed`);
      assert.match(result.stderr, pattern, result.stderr);
      return result;
    }

    async function push(user: User, repo: string): Promise<string> {
      const digestFile = join(work, `digest-${randomBytes(4).toString('hex')}`);
      await ok(['copy', '--dest-tls-verify=false', '--dest-creds', creds(user), '--digestfile', digestFile, `oci:${layout}:img`, ref(repo)]);
      return (await readFile(digestFile, 'utf8')).trim();
    }

    /** Pulls into a fresh OCI layout and checks every blob and the manifest byte for byte. */
    async function pullAndCompare(repo: string, extra: readonly string[]): Promise<void> {
      const out = join(work, `pulled-${randomBytes(4).toString('hex')}`);
      await ok(['copy', '--src-tls-verify=false', ...extra, ref(repo), `oci:${out}:back`]);
      const back = await readLayoutRef(out, 'back');
      assert.equal(back.digest, image.manifest.digest, 'same manifest digest');
      for (const blob of image.blobs) {
        const copy = await readLayoutBlob(out, blob.digest);
        assert.ok(copy.equals(blob.bytes), `blob ${blob.digest} identical after the round trip`);
      }
    }

    before(async () => {
      work = await mkdtemp(join(tmpdir(), `berth-e2e-auth-skopeo-${mode}-`));
      // An isolated HOME and an empty auth file: skopeo must use the --creds given, nothing stored.
      const authFile = join(work, 'auth.json');
      await writeFile(authFile, '{"auths":{}}\n');
      env = { ...process.env, HOME: work, REGISTRY_AUTH_FILE: authFile, XDG_RUNTIME_DIR: work };
      layout = join(work, 'layout');
      image = buildImage({ layerSizes: [512 * 1024 + 5, 7 * 1024] });
      await writeOciLayout(layout, image.blobs, [{ tag: 'img', target: image.manifest }]);
      const htpasswd = await writeHtpasswd(work, [alice, bob]);
      berth = await startBerth({ config: authConfig(mode, htpasswd) });
    });

    after(async () => {
      await berth?.stop();
      if (work !== '') await rm(work, { recursive: true, force: true });
    });

    it('the registry challenges with the scheme of its mode', async () => {
      assert.ok(berth !== undefined);
      const res = await fetch(`${berth.url}/v2/`);
      assert.equal(res.status, 401);
      const challenge = res.headers.get('www-authenticate') ?? '';
      if (mode === 'basic') assert.equal(challenge, 'Basic realm="berth"');
      else assert.match(challenge, new RegExp(`^Bearer realm="${berth.url}/token",service="berth"`));
    });

    it('alice pushes with --dest-creds and pulls back byte for byte with --src-creds and --creds', { timeout: 60_000 }, async () => {
      const digest = await push(alice, 'private/app');
      assert.equal(digest, image.manifest.digest);
      await pullAndCompare('private/app', ['--src-creds', creds(alice)]);
      const raw = await ok(['inspect', '--raw', '--tls-verify=false', '--creds', creds(alice), ref('private/app')]);
      assert.ok(raw.stdout.equals(image.manifest.bytes), 'inspect --raw gives the pushed manifest');
      assert.equal(sha256Digest(raw.stdout), image.manifest.digest);
    });

    it('bob (group ci) pushes to ci/x but is refused on private/x', { timeout: 60_000 }, async () => {
      await push(bob, 'ci/x');
      await pullAndCompare('ci/x', ['--src-creds', creds(bob)]);
      await refused(['copy', '--dest-tls-verify=false', '--dest-creds', creds(bob), `oci:${layout}:img`, ref('private/x')]);
      // Nothing reached private/x: alice (who may read everything) finds no such manifest.
      await refused(['inspect', '--raw', '--tls-verify=false', '--creds', creds(alice), ref('private/x')], /manifest unknown|not found/i);
      // bob cannot read alice's private repository either.
      await refused(['inspect', '--raw', '--tls-verify=false', '--creds', creds(bob), ref('private/app')]);
    });

    it('anonymous skopeo pulls public/** but not private/**', { timeout: 60_000 }, async () => {
      await push(alice, 'public/app');
      await pullAndCompare('public/app', []);
      const raw = await ok(['inspect', '--raw', '--tls-verify=false', ref('public/app')]);
      assert.ok(raw.stdout.equals(image.manifest.bytes));
      await push(alice, 'private/anon');
      await refused(['inspect', '--raw', '--tls-verify=false', ref('private/anon')]);
      await refused(['copy', '--src-tls-verify=false', ref('private/anon'), `oci:${join(work, 'anon-out')}:x`]);
      // An anonymous push is refused even where anonymous pull is allowed.
      await refused(['copy', '--dest-tls-verify=false', `oci:${layout}:img`, ref('public/anon-push')]);
    });

    it('a wrong password fails, on private and on public repositories, and for unknown users', { timeout: 60_000 }, async () => {
      await push(alice, 'public/wrong');
      for (const repo of ['private/app', 'public/wrong']) {
        await refused(['inspect', '--raw', '--tls-verify=false', '--creds', creds(alice, 'not-the-password'), ref(repo)]);
      }
      await refused(['inspect', '--raw', '--tls-verify=false', '--creds', 'mallory:whatever', ref('public/wrong')]);
      await refused(['copy', '--dest-tls-verify=false', '--dest-creds', creds(alice, `${alice.password}x`), `oci:${layout}:img`, ref('private/wrong')]);
    });

    it('a copy between repositories mounts blobs only where the user may pull the source', { timeout: 60_000 }, async () => {
      assert.ok(berth !== undefined);
      await push(alice, 'private/mount-src');
      // alice may pull the source: skopeo mounts (its token request carries both scopes in token mode).
      const copied = await ok(['--debug', 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', creds(alice), '--dest-creds', creds(alice), ref('private/mount-src'), ref('private/mount-dst')]);
      assert.match(copied.stderr, /mount OK/, 'alice mounted the layers');
      await pullAndCompare('private/mount-dst', ['--src-creds', creds(alice)]);
      // bob may not pull private/**: asking Berth to mount a private blob into ci/** must not work.
      const layer = image.layers[0];
      assert.ok(layer !== undefined);
      const authorization =
        mode === 'basic'
          ? basicHeader(bob)
          : `Bearer ${String((await fetchToken(berth.url, [`repository:ci/steal-${run}:pull,push`, `repository:private/mount-src-${run}:pull`], basicHeader(bob))).body['token'])}`;
      const res = await fetch(`${berth.url}/v2/ci/steal-${run}/blobs/uploads/?mount=${layer.digest}&from=private/mount-src-${run}`, { method: 'POST', headers: { authorization } });
      await res.arrayBuffer();
      assert.notEqual(res.status, 201, 'no cross-repository mount from a repository bob cannot pull');
      assert.ok([202, 401, 403].includes(res.status), `mount attempt: ${res.status}`);
      const head = await fetch(`${berth.url}/v2/ci/steal-${run}/blobs/${layer.digest}`, { method: 'HEAD', headers: { authorization: basicHeader(bob) } });
      assert.equal(head.status, 404, 'the blob did not appear in ci/steal');
    });

    it('list-tags and delete with credentials follow the rules too', { timeout: 60_000 }, async () => {
      await push(alice, 'ci/del');
      const tags = JSON.parse((await ok(['list-tags', '--tls-verify=false', '--creds', creds(bob), ref('ci/del').replace(/:v1$/, '')])).stdout.toString()) as { Tags: string[] };
      assert.deepEqual(tags.Tags, ['v1']);
      // bob has pull and push on ci/**, not delete.
      await refused(['delete', '--tls-verify=false', '--creds', creds(bob), ref('ci/del')]);
      await ok(['delete', '--tls-verify=false', '--creds', creds(alice), ref('ci/del')]);
      await refused(['inspect', '--raw', '--tls-verify=false', '--creds', creds(alice), ref('ci/del')], /manifest unknown|not found/i);
    });
  });
}

if (!hasSkopeo && skip === false) {
  it('skopeo is installed (CI=true)', () => {
    assert.fail('CI=true but skopeo is not installed: test/setup/10-skopeo.sh should have installed it');
  });
}
