/**
 * Repository delete: the core function removes tags, manifests and links (a nested repository
 * stays; the blobs go at the next GC, only those unique to the repository); the express router
 * answers 202, 404 NAME_UNKNOWN, 405 UNSUPPORTED when deletes are disabled, 400 NAME_INVALID, and
 * asks the access controller for `repository:<name>:delete`; the CLI refuses when deletes are off.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import { pino } from 'pino';
import { stringify } from 'yaml';
import type { Access, AccessController } from '../../src/auth/access.js';
import { createOpsRouter } from '../../src/ops/api.js';
import { deleteRepository } from '../../src/ops/delete-repository.js';
import { garbageCollect } from '../../src/ops/gc/run.js';
import { RegistryError } from '../../src/errors/registry-error.js';
import { sendError } from '../../src/http/error-response.js';
import { createDriver } from '../../storage-drivers/index.js';
import { buildTestApp, pushImage, type TestApp } from '../helpers/build-app.js';
import { BERTH_CLI } from '../helpers/berth-process.js';
import { storedBlobs, SEES_OUT_OF_BAND } from './fixtures.js';

function opsApp(t: TestApp, access: AccessController): express.Express {
  const app = express();
  app.use(createOpsRouter({ driver: t.driver, config: t.config, access }));
  app.use((error: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    sendError(req, res, error, pino({ level: 'silent' }), 'plain');
  });
  return app;
}

describe('repository delete', () => {
  it('removes the repository, not its nested ones; GC then frees its unique blobs', async () => {
    const t = buildTestApp({ config: SEES_OUT_OF_BAND });
    const a = await pushImage(t, 'team/app', '1', { layers: 2 });
    const nested = await pushImage(t, 'team/app/sub', '1');
    await deleteRepository(t.driver, 'team/app', { deleteEnabled: true });
    await t.http.get('/v2/team/app/manifests/1').expect(404);
    await t.http.get(`/v2/team/app/blobs/${a.layerDigests[0] ?? ''}`).expect(404);
    await t.http.get('/v2/team/app/sub/manifests/1').expect(200);
    const catalog = await t.http.get('/v2/_catalog').expect(200);
    assert.deepEqual((catalog.body as { repositories: string[] }).repositories, ['team/app/sub']);
    await assert.rejects(deleteRepository(t.driver, 'team/app', { deleteEnabled: true }), /repository name not known|NAME_UNKNOWN|unknown/i);
    await assert.rejects(deleteRepository(t.driver, 'team/app/sub', { deleteEnabled: false }), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED');
    const report = await garbageCollect(t.driver, { gracePeriodMs: 0, leaseOptions: { settleMs: 10 } });
    assert.equal(report.blobsDeleted, 4, 'two layers, config, manifest');
    const stored = await storedBlobs(t.driver);
    for (const d of [a.digest, a.configDigest, ...a.layerDigests]) assert.ok(!stored.has(d));
    for (const d of [nested.digest, nested.configDigest, ...nested.layerDigests]) assert.ok(stored.has(d));
  });

  it('DELETE /berth/api/v1/repositories/<name>: statuses and the access check', async () => {
    const t = buildTestApp({ config: SEES_OUT_OF_BAND });
    await pushImage(t, 'team/app', '1');
    const asked: Access[][] = [];
    const access: AccessController = {
      authorize: (_req, required) => {
        asked.push([...required]);
        return Promise.resolve({ subject: 'alice' });
      },
      identify: () => Promise.resolve({ subject: 'alice' }),
      canPull: () => Promise.resolve(true),
    };
    const http = request(opsApp(t, access));
    await http.delete('/berth/api/v1/repositories/team/app').expect(202);
    assert.deepEqual(asked, [[{ type: 'repository', name: 'team/app', actions: ['delete'] }]]);
    const missing = await http.delete('/berth/api/v1/repositories/team/app').expect(404);
    assert.match(missing.text, /NAME_UNKNOWN/);
    const invalid = await http.delete('/berth/api/v1/repositories/Bad..Name').expect(400);
    assert.match(invalid.text, /NAME_INVALID/);
    const off = buildTestApp({ config: { ...SEES_OUT_OF_BAND, storage: { inmemory: {}, delete: { enabled: false } } } });
    await pushImage(off, 'x', '1');
    const refused = await request(opsApp(off, access)).delete('/berth/api/v1/repositories/x').expect(405);
    assert.match(refused.text, /UNSUPPORTED/);
    await pushImage(t, 'team/app', '2');
    const denying: AccessController = { ...access, authorize: () => Promise.reject(new RegistryError('DENIED')) };
    await request(opsApp(t, denying)).delete('/berth/api/v1/repositories/team/app').expect(403);
    await t.http.get('/v2/team/app/manifests/2').expect(200);
  });

  it('berth delete-repository (CLI)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-delrepo-'));
    try {
      const t = buildTestApp({ driver: createDriver('filesystem', { rootdirectory: dir }), config: SEES_OUT_OF_BAND });
      await pushImage(t, 'cli/app', '1');
      const cli = (args: string[]): Promise<{ code: number; out: string; err: string }> =>
        new Promise((resolve) =>
          execFile(process.execPath, [BERTH_CLI, ...args], (error, out, err) => resolve({ code: error === null ? 0 : Number(error.code), out, err })),
        );
      const off = join(dir, 'off.yml');
      const on = join(dir, 'on.yml');
      await writeFile(off, stringify({ version: 0.1, storage: { filesystem: { rootdirectory: dir } } }));
      await writeFile(on, stringify({ version: 0.1, storage: { filesystem: { rootdirectory: dir }, delete: { enabled: true } } }));
      const refused = await cli(['delete-repository', 'cli/app', off]);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /UNSUPPORTED/);
      const done = await cli(['delete-repository', 'cli/app', on]);
      assert.equal(done.code, 0, done.err);
      await t.http.get('/v2/cli/app/manifests/1').expect(404);
      assert.equal((await cli(['delete-repository', 'cli/app', on])).code, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
