/**
 * The `s3` driver: driver paths are object keys in one bucket (`@aws-sdk/client-s3`).
 *
 * A path `/a/b` is the key `<rootdirectory>/a/b`; directories are key prefixes (`a/`), so they
 * exist exactly while some object lies below them. `putContent`/`getContent` are PutObject and
 * GetObject (atomic by S3 semantics); `reader` is a ranged GetObject streaming the body (large
 * reads from a plain-http endpoint: a pooled GET of a presigned URL, `../pooled-get/`); `writer`
 * is a resumable multipart upload (`multipart-writer.ts`, which also describes the hidden
 * `~berth-tail` side objects); `move` is CopyObject, or UploadPartCopy above
 * `multipartcopythresholdsize`, then DeleteObject; `delete` lists and deletes in batches of 1000
 * (DeleteObjects, with the Content-MD5 header older S3 implementations insist on) and aborts the
 * multipart uploads below the path; `redirectUrl` presigns a GET/HEAD.
 *
 * Parameters are distribution's (`s3ParamsSchema`, validated by the factory in
 * `storage-drivers/index.ts`). The client is built for S3-compatible servers too: checksums only
 * when an operation requires them (no aws-chunked uploads), retries within one time budget, a
 * short connect timeout, a response timeout for small requests and an idle timeout between bytes
 * (`timed-handler.ts`), so a dead or hung backend fails in seconds with a BackendUnavailableError
 * instead of hanging, while a slow but moving transfer is never cut. Errors never carry the secret key.
 */
import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { addAbortSignal, Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ListObjectsV2CommandOutput,
  type S3ClientConfig,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { TimedHttpHandler } from './timed-handler.js';
import type {
  FileInfo,
  FileWriter,
  GetContentOptions,
  ReadOptions,
  RedirectOptions,
  StorageDriver,
  WriterOptions,
} from '../driver.js';
import {
  BackendUnavailableError,
  ContentTooLargeError,
  DriverError,
  InvalidPathError,
  PathNotFoundError,
} from '../errors.js';
import { isAbortError } from '../source.js';
import { ConnectionLimit, createReadPool, pooledGet, wantsPooledGet, type PooledGetOptions } from '../pooled-get/reader.js';
import { openMultipartWriter, PARTS_IN_FLIGHT } from './multipart-writer.js';
import { BufferPool } from '../pooled-chunks.js';
import {
  abortUpload,
  copyParts,
  copySource,
  createUpload,
  errorName,
  isNotFound,
  listUploads,
  MAX_PARTS,
  MIN_PART_BYTES,
  statusOf,
  TAIL_SUFFIX,
  WriterMemory,
  type ObjectOptions,
  type WriterContext,
} from './upload-state.js';

import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_SOCKETS,
  DEFAULT_MULTIPART_COPY_CHUNK_SIZE,
  DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY,
  DEFAULT_MULTIPART_COPY_THRESHOLD,
  MAX_CHUNK_SIZE,
  type S3DriverOptions,
} from './params.js';

export * from './params.js';

const NAME = 's3';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Largest object CopyObject can copy in one request. */
const MAX_SINGLE_COPY = 5 * GiB;
/** Keys per DeleteObjects request (S3's limit). */
const DELETE_BATCH = 1000;
/** Longest lifetime of a SigV4 presigned URL. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/** Lifetime of the URL a pooled read signs for itself (checked when the request arrives). */
const POOLED_GET_PRESIGN_SECONDS = 300;

/** One segment of a driver path; keys with other names (our tails) are invisible. */
const SEGMENT = /^[A-Za-z0-9._:+-]+$/;

/** An S3 client configured as the driver uses it (also handy for tests and tools). */
export function createS3Client(options: S3DriverOptions): S3Client {
  const maxSockets = options.maxSockets ?? DEFAULT_MAX_SOCKETS;
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle ?? false,
    // An explicit endpoint's scheme decides; `secure` picks it for AWS's own endpoints.
    tls: options.endpoint === undefined ? (options.secure ?? true) : options.endpoint.toLowerCase().startsWith('https:'),
    maxAttempts: options.maxAttempts ?? 3,
    // Only where an operation demands it: S3-compatible servers reject aws-chunked uploads.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A fresh connection per 100-continue request costs more than it saves for our part sizes.
    expectContinueHeader: false,
    requestHandler: new TimedHttpHandler({
      slots: maxSockets,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets, ...(options.skipVerify === true ? { rejectUnauthorized: false } : {}) }),
      connectionTimeout: options.connectTimeoutMs ?? 3000,
      // The idle limit between bytes (node's socket timeout: every chunk resets it).
      socketTimeout: options.socketTimeoutMs ?? 30_000,
      responseTimeoutMs: options.responseTimeoutMs ?? 5000,
      budgetMs: options.budgetMs ?? 8000,
    }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
  };
  return new S3Client(config);
}

// ---------------------------------------------------------------------------------------------
// Errors

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const UNAVAILABLE_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
]);

function isUnavailable(error: unknown): boolean {
  const status = statusOf(error);
  if (status !== undefined && status >= 500) return true;
  const name = errorName(error);
  if (name !== undefined && UNAVAILABLE_NAMES.has(name)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || (status === undefined && /^E[A-Z]+$/.test(code)))) {
    return true;
  }
  return error instanceof AggregateError && error.errors.some(isUnavailable);
}

/** Builds the translator for one driver instance (it knows the secret to keep out of messages). */
function makeTranslator(bucket: string, secret: string | undefined) {
  const redact = (message: string): string =>
    secret === undefined || secret === '' ? message : message.split(secret).join('[redacted]');
  const describe = (error: unknown): string => {
    if (!(error instanceof Error)) return redact(String(error));
    const name = errorName(error) ?? error.name;
    const status = statusOf(error);
    const message = error.message === '' || error.message === name ? '' : `: ${error.message}`;
    return redact(`${name}${status === undefined ? '' : ` (HTTP ${status})`}${message}`);
  };
  return (op: string, path: string, error: unknown): Error => {
    if (error instanceof DriverError) return error;
    if (isAbortError(error)) return error as Error;
    if (errorName(error) === 'NoSuchBucket') {
      return new DriverError(NAME, `${op}: the bucket ${JSON.stringify(bucket)} does not exist`, path, { cause: error });
    }
    if (isNotFound(error)) return new PathNotFoundError(NAME, path);
    if (isUnavailable(error)) {
      return new BackendUnavailableError(NAME, `${op}: the S3 backend is unavailable: ${describe(error)}`, path, {
        cause: error,
      });
    }
    return new DriverError(NAME, `${op} failed: ${describe(error)}`, path, { cause: error });
  };
}

// ---------------------------------------------------------------------------------------------
// The driver

/** Adds the Content-MD5 header to a DeleteObjects request (S3-compatible servers require it). */
function withContentMd5(command: DeleteObjectsCommand): DeleteObjectsCommand {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request;
      if (isRequestWithBody(request)) {
        const body = request.body;
        if (typeof body === 'string' || body instanceof Uint8Array) {
          request.headers['content-md5'] = createHash('md5').update(body).digest('base64');
        }
      }
      return next(args);
    },
    { step: 'build', name: 'berthDeleteObjectsContentMd5', override: true },
  );
  return command;
}

function isRequestWithBody(value: unknown): value is { headers: Record<string, string>; body: unknown } {
  if (typeof value !== 'object' || value === null) return false;
  const headers = (value as { headers?: unknown }).headers;
  return typeof headers === 'object' && headers !== null && 'body' in value;
}

/**
 * A GetObject body handed on chunk by chunk: the socket's chunks are pushed as they arrive and the
 * response is paused while the consumer is full (no pipe into a PassThrough: one stream layer and
 * its per-chunk bookkeeping less). Errors — also a connection closed before the end — surface as
 * driver errors; destroying it releases the connection.
 */
class BodyStream extends Readable {
  #ended = false;

  constructor(
    private readonly source: Readable,
    mapError: (error: unknown) => Error,
  ) {
    super({ highWaterMark: MiB });
    source.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) source.pause();
    });
    source.once('end', () => {
      this.#ended = true;
      this.push(null);
    });
    const broken = (error?: unknown): void => {
      if (this.#ended || this.destroyed) return;
      this.destroy(mapError(error ?? Object.assign(new Error('the connection closed before the body was complete'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })));
    };
    source.once('error', broken);
    source.once('close', () => broken());
    source.pause();
  }

  override _read(): void {
    this.source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#ended && !this.source.destroyed) this.source.destroy();
    callback(error);
  }
}

/** An empty byte stream (aborted with the signal like any reader). */
function emptyStream(signal: AbortSignal | undefined): Readable {
  const stream = Readable.from([], { objectMode: false });
  return signal === undefined ? stream : addAbortSignal(signal, stream);
}

export function createS3Driver(options: S3DriverOptions): StorageDriver {
  const bucket = options.bucket;
  const rootDirectory = (options.rootDirectory ?? '').replace(/^\/+|\/+$/g, '');
  /** Key prefix of the driver root: '' or 'dir/'. */
  const root = rootDirectory === '' ? '' : `${rootDirectory}/`;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_PART_BYTES || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(`chunkSize must be between ${MIN_PART_BYTES} and ${MAX_CHUNK_SIZE} bytes`);
  }
  const copyThreshold = options.multipartCopyThreshold ?? DEFAULT_MULTIPART_COPY_THRESHOLD;
  const copyChunkSize = Math.max(MIN_PART_BYTES, options.multipartCopyChunkSize ?? DEFAULT_MULTIPART_COPY_CHUNK_SIZE);
  const copyConcurrency = Math.max(1, options.multipartCopyMaxConcurrency ?? DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY);
  const storageClass = (options.storageClass ?? 'STANDARD').toUpperCase();
  const objectOptions: ObjectOptions = {
    ...(options.encrypt === true
      ? options.kmsKeyId === undefined
        ? { ServerSideEncryption: 'AES256' as const }
        : { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: options.kmsKeyId }
      : {}),
    ...(storageClass === 'STANDARD' || storageClass === 'NONE' ? {} : { StorageClass: storageClass as StorageClass }),
  };
  const client = createS3Client(options);
  /**
   * Large reads from a plain-http endpoint are pooled GETs (`../pooled-get/`): a presigned URL
   * on a connection of their own, read into this driver's buffer pool; anything unexpected falls
   * back to GetObject below. https endpoints (AWS) keep the SDK's client.
   */
  const pooledReads: PooledGetOptions | undefined =
    options.endpoint?.toLowerCase().startsWith('http://') === true
      ? {
          driverName: NAME,
          backend: 'the S3 backend',
          pool: createReadPool(),
          connections: new ConnectionLimit(),
          connectTimeoutMs: options.connectTimeoutMs ?? 3000,
          responseTimeoutMs: options.responseTimeoutMs ?? 5000,
          idleTimeoutMs: options.socketTimeoutMs ?? 30_000,
        }
      : undefined;
  const translate = makeTranslator(bucket, options.credentials?.secretAccessKey);
  const writerContext: WriterContext = {
    client,
    bucket,
    driverName: NAME,
    partSize: chunkSize,
    copyPartSize: copyChunkSize,
    copyConcurrency,
    objectOptions,
    translate,
    memory: new WriterMemory(),
    partBuffers: new BufferPool(chunkSize, PARTS_IN_FLIGHT),
    ...(options.onResume === undefined ? {} : { onResume: options.onResume }),
  };

  /** Key of a path that must name a file. */
  const fileKey = (path: string): string => {
    if (typeof path !== 'string' || !path.startsWith('/') || path === '/') {
      throw new InvalidPathError(NAME, String(path));
    }
    return root + path.slice(1);
  };
  /** Prefix of the keys below a directory path. */
  const dirPrefix = (path: string): string => (path === '/' ? root : `${root}${path.slice(1)}/`);
  const childPath = (parent: string, name: string): string => (parent === '/' ? `/${name}` : `${parent}/${name}`);
  /** True when every segment of a key below some prefix is addressable (not a tail). */
  const visible = (relative: string): boolean => relative.split('/').every((segment) => SEGMENT.test(segment));

  const call = async <T>(op: string, path: string, action: () => Promise<T>): Promise<T> => {
    try {
      return await action();
    } catch (error) {
      throw translate(op, path, error);
    }
  };

  /** Pages of ListObjectsV2 below `prefix`. */
  async function* listPages(prefix: string, delimiter?: string, maxKeys?: number): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    for (;;) {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(delimiter === undefined ? {} : { Delimiter: delimiter }),
          ...(maxKeys === undefined ? {} : { MaxKeys: maxKeys }),
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      yield page;
      if (page.IsTruncated !== true || page.NextContinuationToken === undefined) return;
      token = page.NextContinuationToken;
    }
  }

  /** The first addressable key below `prefix` (a directory exists), if any. */
  const firstVisibleBelow = async (prefix: string): Promise<{ key: string; modTime: Date } | undefined> => {
    for await (const page of listPages(prefix, undefined, 100)) {
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined && visible(object.Key.slice(prefix.length))) {
          return { key: object.Key, modTime: object.LastModified ?? new Date(0) };
        }
      }
    }
    return undefined;
  };

  /** DeleteObjects in batches; a key that is already gone is fine. */
  const deleteKeys = async (keys: readonly string[]): Promise<void> => {
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH);
      const response = await client.send(
        withContentMd5(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        ),
      );
      const failed = (response.Errors ?? []).filter((error) => error.Code !== 'NoSuchKey');
      const first = failed[0];
      if (first !== undefined) {
        throw new DriverError(
          NAME,
          `delete: ${failed.length} object(s) could not be deleted (first: ${first.Key ?? '?'}: ${first.Code ?? '?'} ${first.Message ?? ''})`,
        );
      }
    }
  };

  /** Deletes every key below `prefix`; returns how many there were. */
  const deleteBelow = async (prefix: string): Promise<number> => {
    let count = 0;
    for await (const page of listPages(prefix)) {
      const keys = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key]));
      await deleteKeys(keys);
      count += keys.length;
    }
    return count;
  };

  /** Server-side copy of `fromKey` (of `size` bytes) to `toKey`. */
  const copyObject = async (fromKey: string, toKey: string, size: number): Promise<void> => {
    if (size <= copyThreshold && size <= MAX_SINGLE_COPY) {
      await client.send(
        new CopyObjectCommand({ Bucket: bucket, Key: toKey, CopySource: copySource(bucket, fromKey), ...objectOptions }),
      );
      return;
    }
    const partSize = Math.max(copyChunkSize, Math.ceil(size / MAX_PARTS));
    const ranges = Array.from({ length: Math.ceil(size / partSize) }, (_, index): [number, number] => [
      index * partSize,
      Math.min(size, (index + 1) * partSize) - 1,
    ]);
    const uploadId = await createUpload(writerContext, toKey);
    try {
      const parts = await copyParts(writerContext, { key: toKey, uploadId }, fromKey, ranges, 1);
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: toKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) },
        }),
      );
    } catch (error) {
      await abortUpload(writerContext, toKey, uploadId).catch(() => undefined);
      throw error;
    }
  };

  const driver: StorageDriver = {
    name: NAME,

    async stat(path: string): Promise<FileInfo> {
      return call('stat', path, async () => {
        if (path !== '/') {
          try {
            const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: fileKey(path) }));
            return { path, size: head.ContentLength ?? 0, modTime: head.LastModified ?? new Date(0), isDir: false };
          } catch (error) {
            if (!isNotFound(error)) throw error;
          }
        }
        const below = await firstVisibleBelow(dirPrefix(path));
        if (below === undefined && path !== '/') throw new PathNotFoundError(NAME, path);
        return { path, size: 0, modTime: below?.modTime ?? new Date(0), isDir: true };
      });
    },

    async getContent(path: string, getOptions: GetContentOptions = {}): Promise<Buffer> {
      const key = fileKey(path);
      return call('getContent', path, async () => {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const body = response.Body;
        const length = response.ContentLength;
        const limit = getOptions.maxBytes;
        if (limit !== undefined && length !== undefined && length > limit) {
          if (body instanceof Readable) body.destroy();
          throw new ContentTooLargeError(NAME, `getContent: ${length} bytes exceed the ${limit}-byte limit`, path);
        }
        if (body === undefined) return Buffer.alloc(0);
        const bytes = await body.transformToByteArray();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      });
    },

    async putContent(path: string, content: Uint8Array): Promise<void> {
      const key = fileKey(path);
      await call('putContent', path, () =>
        client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: content,
            ContentLength: content.byteLength,
            ContentType: 'application/octet-stream',
            ...objectOptions,
          }),
        ),
      );
    },

    async reader(path: string, readOptions: ReadOptions = {}): Promise<Readable> {
      const key = fileKey(path);
      const offset = readOptions.offset ?? 0;
      const length = readOptions.length;
      const signal = readOptions.signal;
      return call('reader', path, async () => {
        if (length === 0) {
          await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), signal === undefined ? {} : { abortSignal: signal });
          return emptyStream(signal);
        }
        if (pooledReads !== undefined && wantsPooledGet(length)) {
          const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
            expiresIn: POOLED_GET_PRESIGN_SECONDS,
          });
          const pooled = await pooledGet(pooledReads, {
            url: new URL(url),
            offset,
            ...(length === undefined ? {} : { length }),
            ...(signal === undefined ? {} : { signal }),
            what: 'reader',
            path,
          });
          if (pooled !== undefined) return pooled;
        }
        const range =
          offset === 0 && length === undefined
            ? undefined
            : `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`;
        let response;
        try {
          response = await client.send(
            new GetObjectCommand({ Bucket: bucket, Key: key, ...(range === undefined ? {} : { Range: range }) }),
            signal === undefined ? {} : { abortSignal: signal },
          );
        } catch (error) {
          // Offset at or past the end (also of an empty object): nothing to read.
          if (errorName(error) === 'InvalidRange' || statusOf(error) === 416) return emptyStream(signal);
          throw error;
        }
        const body = response.Body;
        if (body === undefined) return emptyStream(signal);
        if (!(body instanceof Readable)) throw new DriverError(NAME, 'reader: the response body is not a Node stream', path);
        const out = new BodyStream(body, (error) => translate('reader', path, error));
        return signal === undefined ? out : addAbortSignal(signal, out);
      });
    },

    async writer(path: string, writerOptions: WriterOptions = {}): Promise<FileWriter> {
      const key = fileKey(path);
      return openMultipartWriter(writerContext, path, key, writerOptions.append === true);
    },

    async list(path: string): Promise<string[]> {
      const prefix = dirPrefix(path);
      return call('list', path, async () => {
        const children = new Set<string>();
        for await (const page of listPages(prefix, '/')) {
          for (const object of page.Contents ?? []) {
            const name = object.Key?.slice(prefix.length);
            if (name !== undefined && SEGMENT.test(name)) children.add(childPath(path, name));
          }
          for (const common of page.CommonPrefixes ?? []) {
            const name = common.Prefix?.slice(prefix.length, -1);
            if (name !== undefined && SEGMENT.test(name)) children.add(childPath(path, name));
          }
        }
        if (children.size === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
        return [...children];
      });
    },

    async move(from: string, to: string): Promise<void> {
      const fromKey = fileKey(from);
      const toKey = fileKey(to);
      await call('move', from, async () => {
        let size: number;
        try {
          const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: fromKey }));
          size = head.ContentLength ?? 0;
        } catch (error) {
          if (!isNotFound(error)) throw error;
          if ((await firstVisibleBelow(`${fromKey}/`)) !== undefined) {
            throw new DriverError(NAME, 'move: the source is a directory', from);
          }
          throw new PathNotFoundError(NAME, from);
        }
        if (fromKey === toKey) return;
        await copyObject(fromKey, toKey, size).catch((error: unknown) => {
          throw translate('move', to, error);
        });
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: fromKey }));
      });
    },

    async delete(path: string): Promise<void> {
      await call('delete', path, async () => {
        if (path === '/') {
          writerContext.memory?.deleteBelow(root, root);
          await deleteBelow(root);
          const uploads = await listUploads(writerContext, root, () => true);
          for (const upload of uploads) await abortUpload(writerContext, upload.key, upload.uploadId);
          return;
        }
        const key = fileKey(path);
        const prefix = `${key}/`;
        writerContext.memory?.deleteBelow(key, prefix);
        // Objects named exactly `key` (and its hidden side objects), and whether `key/` has any:
        // listed with a delimiter, so sibling subtrees (`key-x/…`) collapse to one entry each.
        const own: string[] = [];
        let subtree = false;
        for await (const page of listPages(key, '/')) {
          for (const object of page.Contents ?? []) {
            const name = object.Key;
            if (name !== undefined && (name === key || name.startsWith(`${key}~`))) own.push(name);
          }
          if ((page.CommonPrefixes ?? []).some((common) => common.Prefix === prefix)) subtree = true;
        }
        await deleteKeys(own);
        const below = subtree ? await deleteBelow(prefix) : 0;
        const uploads = await listUploads(writerContext, key, (candidate) => candidate === key || candidate.startsWith(prefix));
        for (const upload of uploads) await abortUpload(writerContext, upload.key, upload.uploadId);
        if (own.length === 0 && below === 0 && uploads.length === 0) throw new PathNotFoundError(NAME, path);
      });
    },

    async redirectUrl(path: string, redirect: RedirectOptions): Promise<string | undefined> {
      const key = fileKey(path);
      const expiresIn = Math.max(1, Math.min(MAX_PRESIGN_SECONDS, Math.floor(redirect.expiresIn)));
      return call('redirectUrl', path, () =>
        redirect.method === 'HEAD'
          ? getSignedUrl(client, new HeadObjectCommand({ Bucket: bucket, Key: key }), { expiresIn })
          : getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn }),
      );
    },
  };
  return driver;
}

/** Re-exported for tests and tools: the side-object suffix and part limits. */
export { MAX_PARTS, MIN_PART_BYTES, TAIL_SUFFIX };
