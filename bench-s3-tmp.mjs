import { createHash } from 'node:crypto';
import { S3Client, DeleteBucketCommand, DeleteObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { createS3Driver, createS3Client } from './dist/storage-drivers/s3/index.js';
import { stream, digestAt } from './dist/test/driver-suite/data.js';
const opts = { bucket: 'probe-md5', region: 'us-east-1', endpoint: process.env.BERTH_S3_ENDPOINT, forcePathStyle: true, credentials: { accessKeyId: process.env.BERTH_S3_ACCESS_KEY, secretAccessKey: process.env.BERTH_S3_SECRET_KEY } };
const c = createS3Client(opts);

const bucket = 'bench-' + Date.now();
await c.send(new CreateBucketCommand({ Bucket: bucket }));

const size = 256 * 1024 * 1024;
const chunk = Number(process.env.CHUNK ?? 10 * 1024 * 1024);
const d = createS3Driver({ ...opts, bucket, chunkSize: chunk });
// pre-generate source data to avoid measuring the generator
const parts = []; for await (const b of stream(5, size, { chunkSizes: 1024 * 1024 })) parts.push(b);
const expected = createHash('sha256'); for (const p of parts) expected.update(p);
const exp = expected.digest('hex');
async function* src() { for (const p of parts) yield p; }
for (let round = 0; round < 2; round++) {
  let t = performance.now();
  const w = await d.writer('/bench/blob');
  await w.write(src());
  await w.commit();
  const wt = (performance.now() - t) / 1000;
  t = performance.now();
  const r = await d.reader('/bench/blob');
  const h = createHash('sha256'); let n = 0;
  for await (const b of r) { h.update(b); n += b.length; }
  const rt = (performance.now() - t) / 1000;
  t = performance.now();
  await d.move('/bench/blob', '/bench/moved');
  const mt = (performance.now() - t) / 1000;
  console.log(`chunk ${chunk>>20} MiB: write+commit ${wt.toFixed(2)} s = ${(256 / wt).toFixed(0)} MiB/s; read ${rt.toFixed(2)} s = ${(256 / rt).toFixed(0)} MiB/s; move ${mt.toFixed(2)} s; ok=${h.digest('hex') === exp && n === size}`);
  await d.delete('/bench');
}
await c.send(new DeleteBucketCommand({ Bucket: bucket }));
