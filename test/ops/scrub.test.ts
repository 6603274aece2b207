/**
 * Scrub: a byte flipped in a stored layer (filesystem driver, by editing the file; in-memory
 * driver, by rewriting the object) is reported with the repositories that use it; links to a
 * missing blob, an unparsable manifest, a tag pointing at a missing manifest and a stale upload
 * session are found; --repair removes only the corrupt data (the next push re-uploads it and the
 * image pulls again), the unparsable revision and the stale session; a clean store reports
 * nothing. Also the CLI's exit codes.
 */
import { SEES_OUT_OF_BAND } from './fixtures.js';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { createDriver } from '../../storage-drivers/index.js';
import { tryParseDigest } from '../../src/core/digest.js';
import { paths } from '../../src/core/paths.js';
import { scrub } from '../../src/ops/scrub.js';
import { buildTestApp, pushBlob, pushImage, type TestApp } from '../helpers/build-app.js';
import { BERTH_CLI } from '../helpers/berth-process.js';

function parsed(d: string): NonNullable<ReturnType<typeof tryParseDigest>> {
  const p = tryParseDigest(d);
  assert.ok(p !== undefined);
  return p;
}

async function flipByte(driver: StorageDriver, digest: string, root: string | undefined): Promise<void> {
  const path = paths.blobData(parsed(digest));
  if (root !== undefined) {
    const file = join(root, path);
    const bytes = await readFile(file);
    bytes[0] = (bytes[0] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    return;
  }
  const bytes = await driver.getContent(path);
  bytes[0] = (bytes[0] ?? 0) ^ 0xff;
  await driver.putContent(path, bytes);
}

async function scenario(t: TestApp, root: string | undefined): Promise<void> {
  const clean = await scrub(t.driver);
  assert.equal(clean.issues.length, 0);
  const a = await pushImage(t, 'team/a', '1', { layers: 2 });
  await t.http.post(`/v2/team/b/blobs/uploads/?mount=${a.layerDigests[0] ?? ''}&from=team/a`).expect(201);
  const ok = await scrub(t.driver);
  assert.deepEqual(ok.issues, []);
  assert.ok(ok.blobs >= 4);
  const bad = a.layerDigests[0] ?? '';
  await flipByte(t.driver, bad, root);
  const report = await scrub(t.driver);
  assert.equal(report.issues.length, 1, JSON.stringify(report.issues));
  const issue = report.issues[0];
  assert.equal(issue?.kind, 'corrupt-blob');
  assert.equal(issue?.digest, bad);
  assert.deepEqual(issue?.repositories.sort(), ['team/a', 'team/b']);
  // Other breakage: a link to a missing blob, an unparsable manifest, a dangling tag, a stale upload.
  const gone = await pushBlob(t, 'team/c', Buffer.from('soon gone'));
  await t.driver.delete(paths.blobDir(parsed(gone)));
  const junk = Buffer.from('not a manifest');
  const junkDigest = await pushBlob(t, 'team/c', junk);
  await t.driver.putContent(paths.revisionLink('team/c', parsed(junkDigest)), Buffer.from(junkDigest));
  await t.driver.putContent(paths.tagCurrentLink('team/c', 'dangling'), Buffer.from(`sha256:${'0'.repeat(64)}`));
  await t.driver.putContent(paths.uploadStartedAt('team/c', '11111111-2222-3333-4444-555555555555'), Buffer.from('2001-01-01T00:00:00Z'));
  const all = await scrub(t.driver);
  const kinds = all.issues.map((i) => i.kind).sort();
  assert.deepEqual(kinds, ['corrupt-blob', 'dangling-tag', 'missing-blob', 'stale-upload', 'unparsable-manifest']);
  const repaired = await scrub(t.driver, { repair: true });
  assert.deepEqual(repaired.issues.filter((i) => i.repaired).map((i) => i.kind).sort(), ['corrupt-blob', 'stale-upload', 'unparsable-manifest']);
  // The corrupt layer is now unknown: a client re-pushes it and the image pulls again.
  await t.http.head(`/v2/team/a/blobs/${bad}`).expect(404);
  const after = await scrub(t.driver);
  assert.deepEqual(after.issues.map((i) => i.kind).sort(), ['dangling-tag', 'missing-blob', 'missing-blob']);
}

describe('scrub', () => {
  it('in-memory driver', async () => {
    await scenario(buildTestApp({ config: SEES_OUT_OF_BAND }), undefined);
  });

  it('filesystem driver, and the CLI exit codes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-scrub-'));
    try {
      const configPath = join(dir, 'config.yml');
      await writeFile(configPath, stringify({ version: 0.1, storage: { filesystem: { rootdirectory: join(dir, 'store') } } }));
      const cli = (args: string[]): Promise<{ code: number; out: string }> =>
        new Promise((resolve) =>
          execFile(process.execPath, [BERTH_CLI, ...args], (error, stdout) => resolve({ code: error === null ? 0 : Number(error.code), out: stdout })),
        );
      const cleanStore = join(dir, 'store');
      const storeDriver = createDriver('filesystem', { rootdirectory: cleanStore });
      const s = buildTestApp({ driver: storeDriver, config: SEES_OUT_OF_BAND });
      const img = await pushImage(s, 'cli/y', '1');
      assert.equal((await cli(['scrub', configPath])).code, 0);
      await flipByte(storeDriver, img.layerDigests[0] ?? '', cleanStore);
      const broken = await cli(['scrub', configPath]);
      assert.equal(broken.code, 1);
      assert.match(broken.out, /corrupt blob: sha256:[0-9a-f]{64} hashes to sha256:[0-9a-f]{64} \(repositories: cli\/y\)/);
      const repair = await cli(['scrub', '--repair', configPath]);
      assert.equal(repair.code, 1);
      assert.match(repair.out, /\[removed\]/);
      assert.equal((await cli(['scrub', configPath])).code, 1, 'the layer is now missing until re-pushed');
      await scenario(buildTestApp({ driver: createDriver('filesystem', { rootdirectory: join(dir, 'other') }), config: SEES_OUT_OF_BAND }), join(dir, 'other'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
