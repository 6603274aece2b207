/**
 * The deployment examples in docker/ stay valid:
 * - every docker/*.yml passes `berth verify-config` (the built CLI) with exit 0, names the storage
 *   driver its file name says, and uses no key Berth would report as unknown;
 * - the SmartOS vmadm payload (docker/smartos/*.json) is a docker LX zone whose docker:* metadata
 *   are JSON-encoded arrays matching the Dockerfile's ENTRYPOINT, CMD, WORKDIR and USER, and whose
 *   data filesystem is mounted on the image's VOLUME.
 * The environment is cleared of REGISTRY_* variables so that only the files are checked.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { BERTH_CLI } from './helpers/berth-process.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const DOCKER_DIR = join(ROOT, 'docker');

function verify(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_') && k !== 'BERTH_CONFIG') env[k] = v;
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [BERTH_CLI, 'verify-config', file], { env, timeout: 30_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** The argument of the last `name` instruction of the Dockerfile (the runtime stage's). */
function instruction(dockerfile: string, name: string): string | undefined {
  const all = [...dockerfile.matchAll(new RegExp(`^${name} (.+)$`, 'gm'))];
  return all.at(-1)?.[1]?.trim();
}

describe('docker/ examples', () => {
  const configs = readdirSync(DOCKER_DIR)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort();

  test('there are filesystem, s3 and swift examples', () => {
    for (const driver of ['filesystem', 's3', 'swift']) assert.ok(configs.includes(`config.${driver}.yml`), `config.${driver}.yml`);
  });

  for (const file of configs) {
    test(`berth verify-config docker/${file} exits 0`, async () => {
      const result = await verify(join(DOCKER_DIR, file));
      assert.equal(result.code, 0, `exit ${result.code}\n${result.stdout}${result.stderr}`);
      const driver = /^config\.([a-z0-9]+)\.ya?ml$/.exec(file)?.[1];
      if (driver !== undefined) assert.match(result.stdout, new RegExp(`storage: ${driver}\\b`));
      const output = `${result.stdout}${result.stderr}`;
      assert.doesNotMatch(output, /unknown configuration key|not implemented by Berth/, 'examples use only keys Berth implements');
      assert.match(readFileSync(join(DOCKER_DIR, file), 'utf8'), /^version: 0\.1$/m);
    });
  }

  test('the SmartOS payload runs the image as the Dockerfile says', () => {
    const dockerfile = readFileSync(join(DOCKER_DIR, 'Dockerfile'), 'utf8');
    const payloads = readdirSync(join(DOCKER_DIR, 'smartos')).filter((f) => f.endsWith('.json'));
    assert.ok(payloads.length > 0);
    for (const file of payloads) {
      const p = JSON.parse(readFileSync(join(DOCKER_DIR, 'smartos', file), 'utf8')) as Record<string, unknown>;
      assert.equal(p['brand'], 'lx');
      assert.equal(p['docker'], true);
      assert.equal(typeof p['image_uuid'], 'string');
      assert.ok(Array.isArray(p['nics']) && p['nics'].length > 0);
      const md = p['internal_metadata'] as Record<string, unknown>;
      const array = (key: string): unknown => {
        const v = md[key];
        assert.equal(typeof v, 'string', `${key} is a JSON string`);
        const parsed: unknown = JSON.parse(String(v));
        assert.ok(Array.isArray(parsed) && parsed.every((x) => typeof x === 'string'), `${key} encodes an array of strings`);
        return parsed;
      };
      assert.deepEqual(array('docker:entrypoint'), JSON.parse(instruction(dockerfile, 'ENTRYPOINT') ?? 'null'));
      assert.deepEqual(array('docker:cmd'), JSON.parse(instruction(dockerfile, 'CMD') ?? 'null'));
      const env = array('docker:env') as string[];
      assert.ok(env.some((e) => e.startsWith('PATH=')), 'docker:env carries PATH (dockerinit does not read the image ENV)');
      assert.equal(md['docker:workdir'], instruction(dockerfile, 'WORKDIR'));
      assert.equal(md['docker:user'], (instruction(dockerfile, 'USER') ?? '').split(':')[0]);
      const volume = instruction(dockerfile, 'VOLUME');
      const fss = p['filesystems'] as { target?: unknown; type?: unknown }[];
      assert.ok(fss.some((f) => f.target === volume && f.type === 'lofs'), `a lofs filesystem on ${String(volume)}`);
    }
  });
});
