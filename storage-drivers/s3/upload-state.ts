/**
 * The state of an s3 writer session as it lives in the bucket, and the S3 calls that read and
 * change it (the writer itself, which buffers and uploads parts, is `multipart-writer.ts`):
 * multipart uploads on a key (list, create, abort, the parts uploaded so far), the "tail" side
 * object `K~berth-tail` holding a closed session's last bytes with metadata naming its upload and
 * part count, server-side part copies of a committed object, and the SDK error helpers the driver
 * shares. S3's size rules (5 MiB minimum part, 5 GiB largest copy part, 10,000 parts) live here.
 */
import type { BufferPool } from '../pooled-chunks.js';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCopyCommand,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { DriverError, PathNotFoundError } from '../errors.js';

/** S3's minimum size of every part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's largest part (also of UploadPartCopy). */
export const MAX_COPY_PART_BYTES = 5 * 1024 * 1024 * 1024;
/** S3's largest part number. */
export const MAX_PARTS = 10_000;
/** Suffix of the side object holding a closed writer's last, small bytes. */
export const TAIL_SUFFIX = '~berth-tail';

export const META_UPLOAD_ID = 'berth-upload-id';
export const META_PARTS = 'berth-parts';
/** Random per close(): names the writer state this process remembers (see {@link WriterMemory}). */
export const META_STAMP = 'berth-stamp';

/** What a process remembers of a writer session it closed: enough to resume it without listing. */
export interface RememberedSession {
  readonly stamp: string;
  readonly uploadId: string;
  readonly parts: readonly Part[];
}

/** Sessions remembered when no capacity is given. */
const DEFAULT_REMEMBERED = 1024;

/**
 * The writer sessions this process closed, by key. The tail object in the bucket stays the
 * authority: an entry is used only while the tail still carries the entry's stamp, i.e. no other
 * process (node) wrote to the session since; otherwise the writer lists the upload and its parts
 * as before. Bounded (oldest out first).
 */
export class WriterMemory {
  readonly #entries = new Map<string, RememberedSession>();

  constructor(private readonly capacity = DEFAULT_REMEMBERED) {}

  get(key: string): RememberedSession | undefined {
    return this.#entries.get(key);
  }

  set(key: string, session: RememberedSession): void {
    this.#entries.delete(key);
    this.#entries.set(key, session);
    while (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets every session whose key is `key` or lies below `prefix`. */
  deleteBelow(key: string, prefix: string): void {
    for (const candidate of [...this.#entries.keys()]) {
      if (candidate === key || candidate.startsWith(prefix)) this.#entries.delete(candidate);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** Server-side options every object the driver creates is written with. */
export interface ObjectOptions {
  readonly ServerSideEncryption?: ServerSideEncryption;
  readonly SSEKMSKeyId?: string;
  readonly StorageClass?: StorageClass;
}

/** What a writer needs from its driver. */
export interface WriterContext {
  readonly client: S3Client;
  readonly bucket: string;
  readonly driverName: string;
  /** Bytes per part (the `chunksize` parameter). */
  readonly partSize: number;
  /** UploadPartCopy part size and parallelism (`multipartcopychunksize`, `…maxconcurrency`). */
  readonly copyPartSize: number;
  readonly copyConcurrency: number;
  readonly objectOptions: ObjectOptions;
  /** Turns an SDK error into a driver error for `op` at `path` (see index.ts). */
  readonly translate: (op: string, path: string, error: unknown) => Error;
  /** Sessions this process closed (resumed without listing while their tail is unchanged). */
  readonly memory?: WriterMemory;
  /** Counts the S3 calls of a resume, for tests: `list` (ListMultipartUploads + ListParts) or `memory`. */
  readonly onResume?: (how: 'list' | 'memory') => void;
  /**
   * Part buffers (`partSize` bytes) shared by the driver's writers: a finished writer gives back
   * the ones no upload holds, so a chunked push (one writer per PATCH) does not allocate 10 MiB
   * buffers again and again (RSS crept up with every round of pushes).
   */
  readonly partBuffers?: BufferPool;
}

export interface Part {
  readonly PartNumber: number;
  readonly ETag: string;
  readonly size: number;
}

export interface Upload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: number;
}

/** The tail object as read back: its bytes and which upload state it belongs to. */
export interface Tail {
  readonly data: Buffer;
  readonly uploadId: string;
  readonly parts: number;
  /** The stamp of the close() that wrote it ('' for tails written before stamps existed). */
  readonly stamp: string;
}

/** In-progress multipart uploads whose key is exactly `key`, or lies below `prefix` when given. */
export async function listUploads(
  context: WriterContext,
  prefix: string,
  matches: (key: string) => boolean,
): Promise<Upload[]> {
  const found: Upload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await context.client.send(
      new ListMultipartUploadsCommand({
        Bucket: context.bucket,
        Prefix: prefix,
        ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
        ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }),
      }),
    );
    for (const upload of page.Uploads ?? []) {
      if (upload.Key === undefined || upload.UploadId === undefined || !matches(upload.Key)) continue;
      found.push({ key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated?.getTime() ?? 0 });
    }
    if (page.IsTruncated !== true) return found;
    const nextKey = page.NextKeyMarker;
    const nextId = page.NextUploadIdMarker;
    if (nextKey === undefined || (nextKey === keyMarker && nextId === uploadIdMarker)) return found;
    keyMarker = nextKey;
    uploadIdMarker = nextId;
  }
}

/** Aborts an upload; one that is already gone is fine. */
export async function abortUpload(context: WriterContext, key: string, uploadId: string): Promise<void> {
  try {
    await context.client.send(new AbortMultipartUploadCommand({ Bucket: context.bucket, Key: key, UploadId: uploadId }));
  } catch (error) {
    if (errorName(error) !== 'NoSuchUpload' && statusOf(error) !== 404) throw error;
  }
}

/** The `CopySource` value naming `key` (URL-encoded: `+` and `:` are legal in our keys). */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * UploadPartCopy of byte ranges (inclusive `[start, end]`) of `sourceKey` as consecutive parts
 * from `firstPart` on, at most `concurrency` at a time. Returns the parts in order.
 */
export async function copyParts(
  context: WriterContext,
  target: { readonly key: string; readonly uploadId: string },
  sourceKey: string,
  ranges: ReadonlyArray<readonly [number, number]>,
  firstPart: number,
): Promise<Part[]> {
  const source = copySource(context.bucket, sourceKey);
  const parts: Part[] = [];
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < ranges.length) {
      const index = next;
      next += 1;
      const [start, end] = ranges[index] ?? [0, -1];
      try {
        const response = await context.client.send(
          new UploadPartCopyCommand({
            Bucket: context.bucket,
            Key: target.key,
            UploadId: target.uploadId,
            PartNumber: firstPart + index,
            CopySource: source,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        const etag = response.CopyPartResult?.ETag;
        if (etag === undefined) {
          throw new DriverError(context.driverName, `UploadPartCopy of part ${firstPart + index} returned no ETag`);
        }
        parts[index] = { PartNumber: firstPart + index, ETag: etag, size: end - start + 1 };
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(context.copyConcurrency, ranges.length) }, worker));
  return parts;
}

/** Creates a multipart upload on `key` with the driver's object options; returns its id. */
export async function createUpload(context: WriterContext, key: string): Promise<string> {
  const created = await context.client.send(
    new CreateMultipartUploadCommand({
      Bucket: context.bucket,
      Key: key,
      ContentType: 'application/octet-stream',
      ...context.objectOptions,
    }),
  );
  if (created.UploadId === undefined) {
    throw new DriverError(context.driverName, 'CreateMultipartUpload returned no UploadId');
  }
  return created.UploadId;
}

export async function objectSize(context: WriterContext, key: string): Promise<number | undefined> {
  try {
    const head = await context.client.send(new HeadObjectCommand({ Bucket: context.bucket, Key: key }));
    return head.ContentLength ?? 0;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function readObject(context: WriterContext, key: string): Promise<Buffer> {
  const response = await context.client.send(new GetObjectCommand({ Bucket: context.bucket, Key: key }));
  const bytes = response.Body === undefined ? new Uint8Array(0) : await response.Body.transformToByteArray();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export async function readTail(context: WriterContext, tailKey: string): Promise<Tail | undefined> {
  let response;
  try {
    response = await context.client.send(new GetObjectCommand({ Bucket: context.bucket, Key: tailKey }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const body = response.Body;
  const bytes = body === undefined ? new Uint8Array(0) : await body.transformToByteArray();
  const metadata = response.Metadata ?? {};
  const parts = Number(metadata[META_PARTS] ?? 'NaN');
  // Unreadable metadata: a tail that never matches (and is cleaned up like a stale one).
  if (!Number.isSafeInteger(parts) || parts < 0) return { data: Buffer.alloc(0), uploadId: '', parts: -1, stamp: '' };
  return {
    data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    uploadId: metadata[META_UPLOAD_ID] ?? '',
    parts,
    stamp: metadata[META_STAMP] ?? '',
  };
}

export async function listParts(context: WriterContext, key: string, uploadId: string): Promise<Part[]> {
  const parts: Part[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await context.client.send(
      new ListPartsCommand({
        Bucket: context.bucket,
        Key: key,
        UploadId: uploadId,
        ...(marker === undefined ? {} : { PartNumberMarker: marker }),
      }),
    );
    for (const part of page.Parts ?? []) {
      if (part.PartNumber === undefined || part.ETag === undefined || part.Size === undefined) continue;
      parts.push({ PartNumber: part.PartNumber, ETag: part.ETag, size: part.Size });
    }
    const next = page.NextPartNumberMarker;
    if (page.IsTruncated !== true || next === undefined || next === marker) break;
    marker = next;
  }
  parts.sort((a, b) => a.PartNumber - b.PartNumber);
  // Two parts are uploaded at a time, so a session that died may have left part n+1 without
  // part n: only the contiguous run from part 1 counts (later ones are overwritten by number).
  const contiguous = parts.findIndex((part, index) => part.PartNumber !== index + 1);
  return contiguous < 0 ? parts : parts.slice(0, contiguous);
}

/**
 * Byte ranges (inclusive) that turn a committed object of `size` bytes (at least 5 MiB) into the
 * first parts of an upload: at least `chunk` bytes each, fewer than 2500 of them, the last one
 * taking the remainder, so every part is at least 5 MiB and at most 5 GiB.
 */
export function copyRanges(size: number, chunk: number): Array<[number, number]> {
  const rangeSize = Math.min(MAX_COPY_PART_BYTES / 2, Math.max(chunk, MIN_PART_BYTES, Math.ceil(size / 2500)));
  const count = Math.max(1, Math.floor(size / rangeSize));
  return Array.from({ length: count }, (_, index): [number, number] => [
    index * rangeSize,
    index === count - 1 ? size - 1 : (index + 1) * rangeSize - 1,
  ]);
}

/** HTTP status of an SDK error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const metadata = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata;
  const status = metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The error's name (SDK service errors are named after the S3 error code). */
export function errorName(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { Code?: unknown }).Code;
  return typeof code === 'string' ? code : error.name;
}

/** True for "no such object" answers (not for a missing bucket or upload). */
export function isNotFound(error: unknown): boolean {
  if (error instanceof PathNotFoundError) return true;
  const name = errorName(error);
  if (name === 'NoSuchBucket' || name === 'NoSuchUpload') return false;
  return statusOf(error) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}
