/**
 * The object stores the multi-node and failover e2e tests run Berth on: the s3 driver on Swift's
 * s3api and the swift driver on Swift itself, both from test/setup/30-swift.sh. Each backend says
 * why it cannot run (missing environment), builds the driver part of Berth's `storage` config for
 * a prefix (optionally through another origin, e.g. an outage proxy), reads how many bytes the
 * store itself holds for an unfinished upload, and creates/removes its bucket or container.
 */
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createS3Client } from '../../storage-drivers/s3/index.js';

const REQUEST_TIMEOUT_MS = 30_000;

export interface BackendOptions {
  /** Unique per test file and run: names the bucket/container (`berth-<tag>`). */
  readonly tag: string;
  /** Part size (s3) and segment size (swift) of the nodes, when the test needs a fixed one. */
  readonly chunkSize?: number;
}

export function envVar(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

export interface Backend {
  readonly name: 's3' | 'swift';
  readonly missing: string | undefined;
  /** Origin of the object store's API (what the outage proxy forwards to). */
  readonly upstream: string;
  /** The driver part of `storage` for a prefix; `origin` replaces the endpoint's origin. */
  storage(prefix: string, origin?: string): Record<string, unknown>;
  /** Bytes the backend itself holds for an unfinished upload (read from the store, not Berth). */
  heldBytes(prefix: string, repo: string, uploadId: string): Promise<number>;
  prepare(): Promise<void>;
  cleanup(): Promise<void>;
}

function withOrigin(url: string, origin: string | undefined): string {
  if (origin === undefined) return url;
  const parsed = new URL(url);
  return `${origin}${parsed.pathname}${parsed.search}`;
}

export function s3Backend(options: BackendOptions): Backend {
  const endpoint = envVar('BERTH_S3_ENDPOINT');
  const accessKey = envVar('BERTH_S3_ACCESS_KEY');
  const secretKey = envVar('BERTH_S3_SECRET_KEY');
  const region = envVar('BERTH_S3_REGION') ?? 'us-east-1';
  const bucket = `berth-${options.tag}`;
  let client: S3Client | undefined;
  const admin = (): S3Client => {
    client ??= createS3Client({
      bucket,
      region,
      endpoint: endpoint ?? '',
      forcePathStyle: true,
      credentials: { accessKeyId: accessKey ?? '', secretAccessKey: secretKey ?? '' },
    });
    return client;
  };
  return {
    name: 's3',
    missing:
      endpoint === undefined || accessKey === undefined || secretKey === undefined
        ? 'BERTH_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY are unset: no S3 endpoint (test/setup/30-swift.sh starts one; run through test/run.sh)'
        : undefined,
    upstream: endpoint === undefined ? '' : new URL(endpoint).origin,
    storage: (prefix, origin) => ({
      s3: {
        bucket,
        region,
        regionendpoint: withOrigin(endpoint ?? '', origin),
        accesskey: accessKey,
        secretkey: secretKey,
        forcepathstyle: true,
        rootdirectory: prefix,
        ...(options.chunkSize === undefined ? {} : { chunksize: options.chunkSize }),
      },
    }),
    heldBytes: async (prefix, repo, uploadId) => {
      // Berth's layout (src/core/paths.ts) under the driver's rootdirectory.
      const key = `${prefix}/docker/registry/v2/repositories/${repo}/_uploads/${uploadId}/data`;
      const uploads = await admin().send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
      let best = 0;
      for (const upload of uploads.Uploads ?? []) {
        if (upload.Key !== key || upload.UploadId === undefined) continue;
        const parts = await admin().send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId }));
        // Only the contiguous run from part 1 is data a writer can resume.
        const sizes = new Map((parts.Parts ?? []).map((p) => [p.PartNumber ?? 0, p.Size ?? 0]));
        let total = 0;
        for (let n = 1; sizes.has(n); n++) total += sizes.get(n) ?? 0;
        best = Math.max(best, total);
      }
      return best;
    },
    prepare: async () => {
      await admin().send(new CreateBucketCommand({ Bucket: bucket }));
    },
    cleanup: async () => {
      if (client === undefined) return;
      const deadline = Date.now() + 60_000;
      for (;;) {
        const uploads = await admin().send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        for (const u of uploads.Uploads ?? []) {
          if (u.Key !== undefined && u.UploadId !== undefined) {
            await admin().send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
          }
        }
        const page = await admin().send(new ListObjectsV2Command({ Bucket: bucket }));
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
        if (keys.length === 0) break;
        await inBatches(keys, 8, (Key) => admin().send(new DeleteObjectCommand({ Bucket: bucket, Key })));
        if (Date.now() > deadline) throw new Error(`bucket ${bucket} still not empty after 60 s`);
      }
      await admin().send(new DeleteBucketCommand({ Bucket: bucket }));
      admin().destroy();
    },
  };
}

interface SwiftLogin {
  readonly storageUrl: string;
  readonly token: string;
}

export function swiftBackend(options: BackendOptions): Backend {
  const authurl = envVar('BERTH_SWIFT_AUTH_URL');
  const username = envVar('BERTH_SWIFT_USER');
  const password = envVar('BERTH_SWIFT_KEY');
  const container = `berth-${options.tag}`;
  let session: SwiftLogin | undefined;
  const login = async (): Promise<SwiftLogin> => {
    if (session !== undefined) return session;
    const res = await fetch(authurl ?? '', {
      headers: { 'X-Auth-User': username ?? '', 'X-Auth-Key': password ?? '' },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await res.arrayBuffer();
    const token = res.headers.get('x-auth-token');
    const storageUrl = res.headers.get('x-storage-url');
    if (res.status >= 300 || token === null || storageUrl === null) throw new Error(`swift login at ${authurl ?? ''}: ${res.status}`);
    session = { storageUrl, token };
    return session;
  };
  /** Names and sizes of the objects under a prefix (all pages, bounded). */
  const list = async (prefix: string): Promise<Array<{ name: string; bytes: number }>> => {
    const { storageUrl, token } = await login();
    const out: Array<{ name: string; bytes: number }> = [];
    let marker = '';
    for (let page = 0; page < 100; page++) {
      const query = new URLSearchParams({ format: 'json', limit: '1000', prefix, marker });
      const res = await fetch(`${storageUrl}/${container}?${query.toString()}`, {
        headers: { 'X-Auth-Token': token },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      if (res.status === 404 || res.status === 204) {
        await res.arrayBuffer();
        return out;
      }
      const entries: unknown = await res.json();
      if (!Array.isArray(entries) || entries.length === 0) return out;
      for (const entry of entries) {
        const record = entry as Record<string, unknown>;
        if (typeof record.name === 'string') out.push({ name: record.name, bytes: Number(record.bytes ?? 0) });
      }
      marker = out[out.length - 1]?.name ?? '';
    }
    return out;
  };
  return {
    name: 'swift',
    missing:
      authurl === undefined || username === undefined || password === undefined
        ? 'BERTH_SWIFT_AUTH_URL/USER/KEY are unset: no Swift (test/setup/30-swift.sh starts one; run through test/run.sh)'
        : undefined,
    upstream: authurl === undefined ? '' : new URL(authurl).origin,
    storage: (prefix, origin) => ({
      swift: {
        authurl: withOrigin(authurl ?? '', origin),
        username,
        password,
        container,
        prefix,
        ...(options.chunkSize === undefined ? {} : { chunksize: options.chunkSize }),
      },
    }),
    // The driver's layout (storage-drivers/swift/layout.ts): the data of writer sessions is in
    // `<prefix>/segments/<session>/<n>`; each failover case has a prefix of its own, so every
    // segment there belongs to the one upload.
    heldBytes: async (prefix) => (await list(`${prefix}/segments/`)).reduce((sum, o) => sum + o.bytes, 0),
    prepare: async () => undefined,
    cleanup: async () => {
      const { storageUrl, token } = await login();
      const deadline = Date.now() + 60_000;
      for (;;) {
        const names = (await list('')).map((o) => o.name);
        if (names.length === 0) break;
        await inBatches(names, 8, async (name) => {
          const res = await fetch(`${storageUrl}/${container}/${name.split('/').map(encodeURIComponent).join('/')}`, {
            method: 'DELETE',
            headers: { 'X-Auth-Token': token },
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          await res.arrayBuffer();
        });
        if (Date.now() > deadline) throw new Error(`container ${container} still not empty after 60 s`);
      }
      const res = await fetch(`${storageUrl}/${container}`, {
        method: 'DELETE',
        headers: { 'X-Auth-Token': token },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await res.arrayBuffer();
    },
  };
}

export async function inBatches<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

