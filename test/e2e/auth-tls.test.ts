/**
 * End-to-end: skopeo over TLS against a real Berth process in token-server mode, trusting the
 * test's own CA through `--cert-dir` (`--src-cert-dir` / `--dest-cert-dir`), and with mutual TLS
 * (`http.tls.clientcas`): the cert dir holds `ca.crt` + `client.cert` + `client.key`, as
 * containers/image expects, and the copy and inspect work (the token request to Berth's own
 * `/token` goes over the same client-certificate connection); without the client pair, or with a
 * pair from another CA, skopeo fails at the handshake. Without `--cert-dir` the server
 * certificate is not trusted. The Bearer realm Berth announces is the https URL.
 *
 * The CA, server and client certificates are made here with the openssl CLI (as
 * test/server/mtls.test.ts). Skipped (with the reason) when skopeo or openssl is missing, except
 * under CI=true where that is a failure.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { authConfig, commandWorks, makeUsers, runSkopeo, skipUnless, writeHtpasswd, type RunResult } from '../helpers/auth-e2e.js';
import { buildImage, readLayoutBlob, readLayoutRef, writeOciLayout, type BuiltImage } from '../helpers/oci-image.js';

const exec = promisify(execFile);
const hasSkopeo = await commandWorks('skopeo', ['--version']);
const hasOpenssl = await commandWorks('openssl', ['version']);
const skip = skipUnless(hasSkopeo && hasOpenssl, hasSkopeo ? 'openssl' : 'skopeo');
const { alice, bob } = makeUsers();
/** Go (skopeo) reports the server's refusal as "remote error: tls: certificate required" (no usable pair). */
const HANDSHAKE_FAILURE = /remote error: tls|handshake failure|bad certificate|certificate required|unknown certificate authority/i;

interface Pair {
  readonly certPath: string;
  readonly keyPath: string;
}

async function makeCa(dir: string, name: string): Promise<Pair> {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.pem`);
  await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', `/CN=${name}`]);
  return { certPath, keyPath };
}

async function makeLeaf(dir: string, name: string, ca: Pair, usage: 'serverAuth' | 'clientAuth'): Promise<Pair> {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, `extendedKeyUsage=${usage}\n${usage === 'serverAuth' ? 'subjectAltName=IP:127.0.0.1\n' : ''}`);
  await exec('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', csr, '-subj', `/CN=${name}`]);
  await exec('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', String(Date.now()), '-days', '1', '-extfile', ext, '-out', certPath]);
  return { certPath, keyPath };
}

/** A containers/image cert dir: `ca.crt`, and optionally `client.cert` + `client.key`. */
async function certDir(path: string, ca: Pair, client?: Pair): Promise<string> {
  await mkdir(path, { recursive: true });
  await copyFile(ca.certPath, join(path, 'ca.crt'));
  if (client !== undefined) {
    await copyFile(client.certPath, join(path, 'client.cert'));
    await copyFile(client.keyPath, join(path, 'client.key'));
  }
  return path;
}

/** GET /v2/ over HTTPS trusting `ca`, with an optional client pair; resolves with status and challenge. */
function ping(port: number, ca: Buffer, client?: { cert: Buffer; key: Buffer }): Promise<{ status: number; challenge: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/', ca, timeout: 5000, ...client }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, challenge: String(res.headers['www-authenticate'] ?? '') }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('skopeo over TLS and mutual TLS with credentials (token-server mode)', { skip, timeout: 150_000 }, () => {
  let work = '';
  let layout = '';
  let image: BuiltImage;
  let env: NodeJS.ProcessEnv = {};
  let ca: Pair;
  let client: Pair;
  let rogue: Pair;
  let htpasswd = '';
  let tlsBerth: BerthProcess | undefined;
  let mtlsBerth: BerthProcess | undefined;
  const run = randomBytes(3).toString('hex');

  function ref(berth: BerthProcess | undefined, repo: string): string {
    assert.ok(berth !== undefined, 'berth did not start (see the before hook)');
    return `docker://${berth.host}/${repo}-${run}:v1`;
  }

  async function sk(args: readonly string[]): Promise<RunResult> {
    return runSkopeo(args, { env });
  }

  async function ok(berth: BerthProcess | undefined, args: readonly string[]): Promise<RunResult> {
    const result = await sk(args);
    assert.equal(result.code, 0, `skopeo ${args.join(' ')} exited ${String(result.code)}:\n${result.stderr}\n--- berth (tail)\n${berth?.output().slice(-3000) ?? ''}`);
    return result;
  }

  async function fails(args: readonly string[], pattern: RegExp): Promise<void> {
    const result = await sk(args);
    assert.notEqual(result.code, 0, `skopeo ${args.join(' ')} should have failed`);
    assert.match(result.stderr, pattern, result.stderr);
  }

  async function assertPulled(berth: BerthProcess | undefined, repo: string, args: readonly string[]): Promise<void> {
    const out = join(work, `pulled-${randomBytes(4).toString('hex')}`);
    await ok(berth, ['copy', ...args, ref(berth, repo), `oci:${out}:back`]);
    assert.equal((await readLayoutRef(out, 'back')).digest, image.manifest.digest);
    for (const blob of image.blobs) assert.ok((await readLayoutBlob(out, blob.digest)).equals(blob.bytes), `blob ${blob.digest} identical`);
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-auth-tls-'));
    const authFile = join(work, 'auth.json');
    await writeFile(authFile, '{"auths":{}}\n');
    env = { ...process.env, HOME: work, REGISTRY_AUTH_FILE: authFile, XDG_RUNTIME_DIR: work };
    const certs = join(work, 'pki');
    await mkdir(certs);
    ca = await makeCa(certs, 'ca');
    const otherCa = await makeCa(certs, 'other-ca');
    const server = await makeLeaf(certs, 'server', ca, 'serverAuth');
    client = await makeLeaf(certs, 'client', ca, 'clientAuth');
    rogue = await makeLeaf(certs, 'rogue', otherCa, 'clientAuth');
    layout = join(work, 'layout');
    image = buildImage({ layerSizes: [300 * 1024 + 1, 2048] });
    await writeOciLayout(layout, image.blobs, [{ tag: 'img', target: image.manifest }]);
    htpasswd = await writeHtpasswd(work, [alice, bob]);
    const tls = { certificate: server.certPath, key: server.keyPath };
    tlsBerth = await startBerth({ config: { ...authConfig('token', htpasswd), http: { tls } }, tls: true });
    mtlsBerth = await startBerth({
      config: { ...authConfig('token', htpasswd), http: { tls: { ...tls, clientcas: [ca.certPath] } } },
      tls: true,
      tlsClient: { cert: await readFile(client.certPath), key: await readFile(client.keyPath) },
    });
  });

  after(async () => {
    await tlsBerth?.stop();
    await mtlsBerth?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it('TLS: the Bearer realm is the https token URL', async () => {
    assert.ok(tlsBerth !== undefined);
    const { status, challenge } = await ping(tlsBerth.port, await readFile(ca.certPath));
    assert.equal(status, 401);
    assert.match(challenge, new RegExp(`^Bearer realm="https://${tlsBerth.host}/token",service="berth"`));
  });

  it('TLS: --dest-cert-dir / --src-cert-dir / --cert-dir with ca.crt: push, pull and inspect with credentials', { timeout: 60_000 }, async () => {
    const dir = await certDir(join(work, 'certs-ca-only'), ca);
    await ok(tlsBerth, ['copy', '--dest-cert-dir', dir, '--dest-creds', `${alice.name}:${alice.password}`, `oci:${layout}:img`, ref(tlsBerth, 'private/tls')]);
    await assertPulled(tlsBerth, 'private/tls', ['--src-cert-dir', dir, '--src-creds', `${alice.name}:${alice.password}`]);
    const raw = await ok(tlsBerth, ['inspect', '--raw', '--cert-dir', dir, '--creds', `${alice.name}:${alice.password}`, ref(tlsBerth, 'private/tls')]);
    assert.ok(raw.stdout.equals(image.manifest.bytes));
    // The rules still apply over TLS: bob may not read private/**, nobody anonymous either.
    await fails(['inspect', '--raw', '--cert-dir', dir, '--creds', `${bob.name}:${bob.password}`, ref(tlsBerth, 'private/tls')], /denied|unauthorized|forbidden/i);
    await fails(['inspect', '--raw', '--cert-dir', dir, ref(tlsBerth, 'private/tls')], /denied|unauthorized|forbidden/i);
    await fails(['inspect', '--raw', '--cert-dir', dir, '--creds', `${alice.name}:wrong`, ref(tlsBerth, 'private/tls')], /denied|unauthorized|forbidden/i);
  });

  it('TLS: without --cert-dir the certificate is not trusted', { timeout: 30_000 }, async () => {
    await fails(['inspect', '--raw', '--creds', `${alice.name}:${alice.password}`, ref(tlsBerth, 'private/tls')], /x509|certificate/i);
  });

  it('mutual TLS: works with ca.crt + client.cert + client.key in the cert dir', { timeout: 60_000 }, async () => {
    const dir = await certDir(join(work, 'certs-client'), ca, client);
    await ok(mtlsBerth, ['copy', '--dest-cert-dir', dir, '--dest-creds', `${alice.name}:${alice.password}`, `oci:${layout}:img`, ref(mtlsBerth, 'private/mtls')]);
    await assertPulled(mtlsBerth, 'private/mtls', ['--src-cert-dir', dir, '--src-creds', `${alice.name}:${alice.password}`]);
    const raw = await ok(mtlsBerth, ['inspect', '--raw', '--cert-dir', dir, '--creds', `${alice.name}:${alice.password}`, ref(mtlsBerth, 'private/mtls')]);
    assert.ok(raw.stdout.equals(image.manifest.bytes));
    // The client certificate maps to no user: authentication still applies.
    await fails(['inspect', '--raw', '--cert-dir', dir, ref(mtlsBerth, 'private/mtls')], /denied|unauthorized|forbidden/i);
  });

  it('mutual TLS: fails without a client certificate, and with one from another CA', { timeout: 60_000 }, async () => {
    const caOnly = await certDir(join(work, 'certs-ca-only-m'), ca);
    await fails(['inspect', '--raw', '--cert-dir', caOnly, '--creds', `${alice.name}:${alice.password}`, ref(mtlsBerth, 'private/mtls')], HANDSHAKE_FAILURE);
    await fails(['copy', '--dest-cert-dir', caOnly, '--dest-creds', `${alice.name}:${alice.password}`, `oci:${layout}:img`, ref(mtlsBerth, 'private/mtls-no-cert')], HANDSHAKE_FAILURE);
    const wrong = await certDir(join(work, 'certs-rogue'), ca, rogue);
    await fails(['inspect', '--raw', '--cert-dir', wrong, '--creds', `${alice.name}:${alice.password}`, ref(mtlsBerth, 'private/mtls')], HANDSHAKE_FAILURE);
  });
});

if (skip === false && !(hasSkopeo && hasOpenssl)) {
  it('skopeo and openssl are installed (CI=true)', () => {
    assert.fail(`CI=true but ${hasSkopeo ? 'openssl' : 'skopeo'} is not installed`);
  });
}
