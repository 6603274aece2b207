/**
 * The old Python registry's SoftLayer recipe against Berth: a Berth process started with only
 * SETTINGS_FLAVOR=swift and the OS_* variables (auth v1 against the tempauth of the one-node
 * Swift from test/setup/30-swift.sh) and GUNICORN_WORKERS (two workers), over a config file that names the
 * filesystem driver (as the Docker image's default file does). skopeo pushes an image and pulls
 * it back byte for byte; the objects are in the Swift container under STORAGE_PATH's default
 * prefix; the start-up log names the modern keys and never the password.
 *
 * Without Swift (BERTH_SWIFT_*) or skopeo the test is skipped with the reason, except under
 * CI=true, where that is a failure.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';
import { envVar, swiftBackend } from '../helpers/object-backends.js';
import { buildImage, readLayoutBlob, readLayoutRef, writeOciLayout } from '../helpers/oci-image.js';

const exec = promisify(execFile);
const inCi = process.env.CI === 'true';
const run = randomBytes(4).toString('hex');
const backend = swiftBackend({ tag: `legacy-${run}` });

async function hasSkopeo(): Promise<boolean> {
  try {
    await exec('skopeo', ['--version']);
    return true;
  } catch {
    return false;
  }
}

async function skopeo(args: readonly string[]): Promise<void> {
  await exec('skopeo', ['--insecure-policy', ...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
}

describe('old registry environment (SETTINGS_FLAVOR=swift) on a real Swift', async () => {
  const skopeoAvailable = await hasSkopeo();
  const missing = backend.missing ?? (skopeoAvailable ? undefined : 'skopeo is not installed (test/setup/10-skopeo.sh installs it)');
  let berth: BerthProcess | undefined;
  let work: string | undefined;
  after(async () => {
    await berth?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
    if (missing === undefined) await backend.cleanup();
  });

  test('SoftLayer recipe: push and pull with skopeo', { skip: inCi ? false : missing, timeout: 120_000 }, async () => {
    assert.equal(missing, undefined, `CI=true but ${missing ?? ''}`);
    const password = envVar('BERTH_SWIFT_KEY') ?? '';
    const container = `berth-legacy-${run}`;
    berth = await startBerth({
      // The image's default file names the filesystem driver; the flavor replaces it.
      config: { log: { level: 'info', accesslog: { disabled: true } } },
      env: {
        SETTINGS_FLAVOR: 'swift',
        OS_AUTH_URL: envVar('BERTH_SWIFT_AUTH_URL') ?? '',
        OS_AUTH_VERSION: '1',
        OS_USERNAME: envVar('BERTH_SWIFT_USER') ?? '',
        OS_PASSWORD: password,
        OS_CONTAINER: container,
        GUNICORN_WORKERS: '2',
      },
    });
    work = await mkdtemp(join(tmpdir(), 'berth-legacy-e2e-'));
    const image = buildImage({ layers: 2 });
    const source = join(work, 'src');
    await writeOciLayout(source, [image.config, ...image.layers, image.manifest], [{ tag: 'v1', target: image.manifest }]);
    const ref = `docker://${berth.host}/legacy/app:v1`;
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${source}:v1`, ref]);
    const back = join(work, 'back');
    await skopeo(['copy', '--src-tls-verify=false', ref, `oci:${back}:v1`]);
    const pulled = await readLayoutRef(back, 'v1');
    assert.equal(pulled.digest, image.manifest.digest);
    for (const blob of [image.config, ...image.layers]) {
      assert.ok((await readLayoutBlob(back, blob.digest)).equals(blob.bytes), `blob ${blob.digest}`);
    }
    // The data is in Swift, under the old registry's default prefix (STORAGE_PATH=/registry).
    const login = await fetch(envVar('BERTH_SWIFT_AUTH_URL') ?? '', {
      headers: { 'X-Auth-User': envVar('BERTH_SWIFT_USER') ?? '', 'X-Auth-Key': password },
    });
    await login.arrayBuffer();
    const listing = await fetch(`${login.headers.get('x-storage-url') ?? ''}/${container}?prefix=registry/`, {
      headers: { 'X-Auth-Token': login.headers.get('x-auth-token') ?? '' },
    });
    assert.equal(listing.status, 200);
    const names = await listing.text();
    assert.match(names, /^registry\/.*repositories\/legacy\/app\/_manifests\/tags\/v1\/current\/link$/m, names.slice(0, 2000));
    const logs = berth.output();
    assert.match(logs, /old docker-registry environment mapped/);
    assert.match(logs, /"OS_PASSWORD":"storage\.swift\.password"/);
    // GUNICORN_WORKERS is berth.workers: a primary with two workers sharing the socket.
    assert.match(logs, /"GUNICORN_WORKERS":"berth\.workers"/);
    assert.match(logs, /"primary":true,"worker":2,[^\n]*"msg":"worker started"/);
    assert.ok(!logs.includes(password), 'the Swift password is never logged');
  });
});
