import { CreateBucketCommand, DeleteBucketCommand, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from './dist/storage-drivers/s3/index.js';
const opts = { region: 'us-east-1', endpoint: process.env.BERTH_S3_ENDPOINT, forcePathStyle: true, credentials: { accessKeyId: process.env.BERTH_S3_ACCESS_KEY, secretAccessKey: process.env.BERTH_S3_SECRET_KEY } };
const bucket = 'bench3-' + Date.now();
const c = createS3Client({ ...opts, bucket });
await c.send(new CreateBucketCommand({ Bucket: bucket }));
const part = Buffer.alloc(10 << 20, 7);
for (const conc of [1, 2, 3]) {
  const t0 = performance.now();
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k' }));
  const etags = []; let next = 0;
  await Promise.all(Array.from({ length: conc }, async () => { while (next < 26) { const i = next++; const r = await c.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: i + 1, Body: part })); etags[i] = r.ETag; } }));
  const t1 = performance.now();
  await c.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
  const t2 = performance.now();
  console.log(`concurrency ${conc}: parts ${((t1 - t0) / 1000).toFixed(2)} s (${(260 / ((t1 - t0) / 1000)).toFixed(0)} MiB/s), complete ${((t2 - t1) / 1000).toFixed(2)} s`);
  await c.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
}
const big = Buffer.alloc(256 << 20, 3);
let t = performance.now(); await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'p', Body: big })); console.log('single PutObject 256 MiB', (256 / ((performance.now() - t) / 1000)).toFixed(0), 'MiB/s');
await c.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'p' }));
await c.send(new DeleteBucketCommand({ Bucket: bucket }));
