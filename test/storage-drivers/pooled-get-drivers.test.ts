/**
 * The s3 and swift drivers' pooled GETs against the real one-node Swift of test/setup/30-swift.sh
 * (its s3api for the s3 driver): large reads come back as streams offering pooled chunks (also
 * through the `checked` wrapper the registry uses), whole and ranged, byte-identical in pooled and
 * plain mode, with every lent buffer returned; small reads keep the regular client; a missing
 * object, an offset past the end and an empty object behave as before (the fallback); a token
 * Swift rejects is renewed by the fallback; the caller's signal aborts a read in the middle.
 *
 * Skipped without the environment, except under CI=true, where that is a failure.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { checked } from '../../storage-drivers/checked.js';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { PathNotFoundError } from '../../storage-drivers/errors.js';
import { parseDriverParams } from '../../storage-drivers/index.js';
import { POOLED_CHUNKS, type PooledChunks } from '../../storage-drivers/pooled-chunks.js';
import { createS3Client, createS3Driver } from '../../storage-drivers/s3/index.js';
import type { SwiftSession } from '../../storage-drivers/swift/auth.js';
import { createSwiftDriver, swiftParamsSchema } from '../../storage-drivers/swift/index.js';
import { bytesAt, digestAt, KiB, MiB, readAll, sha256, stream } from '../driver-suite/data.js';
import { writeSession } from '../driver-suite/context.js';

const env = (name: string): string | undefined => {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
};
const s3 = { endpoint: env('BERTH_S3_ENDPOINT'), accessKey: env('BERTH_S3_ACCESS_KEY'), secretKey: env('BERTH_S3_SECRET_KEY'), region: env('BERTH_S3_REGION') ?? 'us-east-1' };
const swift = { authurl: env('BERTH_SWIFT_AUTH_URL'), username: env('BERTH_SWIFT_USER'), password: env('BERTH_SWIFT_KEY') };
const missing = s3.endpoint === undefined || s3.accessKey === undefined || s3.secretKey === undefined || swift.authurl === undefined || swift.username === undefined || swift.password === undefined;
const reason = 'no Swift: BERTH_SWIFT_* / BERTH_S3_* are unset (test/setup/30-swift.sh starts one; run through test/run.sh)';

if (missing && process.env['CI'] === 'true') {
  test('pooled GETs on Swift (CI must not skip them)', () => assert.fail(reason));
}

const tag = `berth-pooled-${randomBytes(4).toString('hex')}`;
const SIZE = 5 * MiB + 4321;

function pooledOf(stream: Readable): PooledChunks | undefined {
  const open = (stream as unknown as Record<symbol, (() => PooledChunks) | undefined>)[POOLED_CHUNKS];
  return typeof open === 'function' ? open.call(stream) : undefined;
}

async function readPooled(stream: Readable): Promise<Buffer> {
  const chunks = pooledOf(stream);
  assert.ok(chunks !== undefined, 'a large read offers pooled chunks');
  const parts: Buffer[] = [];
  try {
    for (let chunk = await chunks.next(); chunk !== null; chunk = await chunks.next()) {
      parts.push(Buffer.from(chunk));
      chunks.release(chunk);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts);
}

const tokens = new Map<string, SwiftSession>();
const drivers: Array<[string, () => Promise<StorageDriver>]> = [
  [
    's3',
    async () => {
      const options = {
        bucket: `${tag}-s3`,
        region: s3.region,
        endpoint: s3.endpoint ?? '',
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKey ?? '', secretAccessKey: s3.secretKey ?? '' },
        rootDirectory: 'root',
      };
      await createS3Client(options).send(new CreateBucketCommand({ Bucket: `${tag}-s3` })).catch(() => undefined);
      return createS3Driver(options);
    },
  ],
  [
    'swift',
    async () => createSwiftDriver({ params: parseDriverParams('swift', swiftParamsSchema, { ...swift, container: `${tag}-swift` }), tokenCache: tokens }),
  ],
];

describe('pooled GETs on the real Swift', { skip: missing ? reason : false, timeout: 180_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    const s3Admin = createS3Client({ bucket: `${tag}-s3`, region: s3.region, endpoint: s3.endpoint ?? '', forcePathStyle: true, credentials: { accessKeyId: s3.accessKey ?? '', secretAccessKey: s3.secretKey ?? '' } });
    await s3Admin.send(new DeleteBucketCommand({ Bucket: `${tag}-s3` })).catch(() => undefined);
    const swiftAdmin = createSwiftDriver({ params: parseDriverParams('swift', swiftParamsSchema, { ...swift, container: `${tag}-swift` }), tokenCache: tokens });
    const names: string[] = [];
    for await (const entry of swiftAdmin.client.list({ prefix: '' })) if (entry.kind === 'object') names.push(entry.name);
    for (const object of names) await swiftAdmin.client.delete(object);
    const session = await swiftAdmin.auth.session();
    await fetch(`${session.storageUrl}/${tag}-swift`, { method: 'DELETE', headers: { 'X-Auth-Token': session.token } });
  });

  for (const [name, make] of drivers) {
    test(`${name}: large reads are pooled, byte-identical whole and ranged; small ones are not`, async () => {
      const driver = checked(await make());
      cleanups.push(() => driver.delete('/'));
      await writeSession(driver, '/pooled/blob', [stream(31, SIZE)]);
      const whole = bytesAt(31, 0, SIZE);
      assert.equal(sha256(await readPooled(await driver.reader('/pooled/blob'))), sha256(whole));
      assert.equal(sha256(await readAll(await driver.reader('/pooled/blob'))), sha256(whole));
      for (const [offset, length] of [[0, SIZE], [1, 256 * KiB], [MiB + 3, 3 * MiB], [SIZE - 300 * KiB, undefined]] as const) {
        const options = { offset, ...(length === undefined ? {} : { length }) };
        const expected = digestAt(31, offset, length ?? SIZE - offset);
        assert.equal(sha256(await readPooled(await driver.reader('/pooled/blob', options))), expected, `pooled ${offset}+${length}`);
        assert.equal(sha256(await readAll(await driver.reader('/pooled/blob', options))), expected, `plain ${offset}+${length}`);
      }
      // Past the end of the object: read to its end.
      assert.equal(sha256(await readAll(await driver.reader('/pooled/blob', { offset: SIZE - MiB, length: 2 * MiB }))), digestAt(31, SIZE - MiB, MiB));
      const small = await driver.reader('/pooled/blob', { offset: 5, length: 1000 });
      assert.equal(pooledOf(small), undefined, 'a small read keeps the regular client');
      assert.ok((await readAll(small)).equals(whole.subarray(5, 1005)));
    });

    test(`${name}: missing objects, offsets past the end and empty objects behave as before`, async () => {
      const driver = checked(await make());
      await assert.rejects(driver.reader('/pooled/missing'), PathNotFoundError);
      await assert.rejects(driver.reader('/pooled/missing', { offset: 10 }), PathNotFoundError);
      await driver.putContent('/pooled/empty', new Uint8Array(0));
      assert.equal((await readAll(await driver.reader('/pooled/empty'))).length, 0);
      assert.equal((await readAll(await driver.reader('/pooled/empty', { offset: 0, length: MiB }))).length, 0);
      await writeSession(driver, '/pooled/past', [stream(32, MiB)]);
      assert.equal((await readAll(await driver.reader('/pooled/past', { offset: MiB + 1 }))).length, 0);
      assert.equal((await readAll(await driver.reader('/pooled/past', { offset: MiB }))).length, 0);
    });

    test(`${name}: the caller's signal aborts a read in the middle`, async () => {
      const driver = checked(await make());
      await writeSession(driver, '/pooled/abort', [stream(33, 4 * MiB)]);
      const controller = new AbortController();
      const reader = await driver.reader('/pooled/abort', { signal: controller.signal });
      const chunks = pooledOf(reader);
      assert.ok(chunks !== undefined);
      const first = await chunks.next();
      assert.ok(first !== null);
      chunks.release(first);
      controller.abort();
      await assert.rejects(
        (async () => {
          for (let chunk = await chunks.next(); chunk !== null; chunk = await chunks.next()) chunks.release(chunk);
        })(),
        { name: 'AbortError' },
      );
      reader.destroy();
    });
  }

  test('swift: a token Swift rejects on a pooled read is renewed by the regular client', async () => {
    const cache = new Map<string, SwiftSession>();
    const driver = createSwiftDriver({ params: parseDriverParams('swift', swiftParamsSchema, { ...swift, container: `${tag}-swift` }), tokenCache: cache });
    await writeSession(driver, '/pooled/token', [stream(34, MiB)]);
    const [key, session] = [...cache.entries()][0] ?? assert.fail('no cached session');
    cache.set(key, { ...session, token: 'AUTH_tk00000000000000000000000000000000' });
    const logins = driver.auth.logins;
    assert.equal(sha256(await readAll(await driver.reader('/pooled/token'))), digestAt(34, 0, MiB));
    assert.equal(driver.auth.logins, logins + 1, 'one new login');
    const again = await driver.reader('/pooled/token');
    assert.ok(pooledOf(again) !== undefined, 'the next read is pooled again');
    again.destroy();
  });
});
