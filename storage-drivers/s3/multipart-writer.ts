/**
 * The s3 driver's FileWriter: a resumable writer on top of an S3 multipart upload.
 *
 * Layout of a writer's state in the bucket, for the object key `K`:
 * - the multipart upload in progress on `K` (found again with ListMultipartUploads + ListParts).
 *   Every part is at least {@link MIN_PART_BYTES} (S3 refuses to complete an upload whose
 *   non-last parts are smaller), so any later session can append parts after it;
 * - the "tail" `K~berth-tail` (`~` is outside the driver path grammar, so no driver path names it
 *   and `list` hides it): the last bytes of a closed session that were too few for a part, with
 *   metadata naming the upload (`berth-upload-id`, empty before one exists) and the number of
 *   parts it follows (`berth-parts`).
 *
 * Writing fills a buffer of `partSize` bytes and uploads it as the next part, at most
 * {@link PARTS_IN_FLIGHT} UploadParts in flight while the source keeps being read. `close()` uploads what is buffered as a part when it is at
 * least 5 MiB and otherwise stores it as the tail; `writer(path, {append: true})` lists the parts
 * and loads the tail into the buffer, so the first part that session uploads starts with the
 * tail's bytes. That is also how a stale tail is recognised: once a part was uploaded after it,
 * the part count no longer matches the tail's `berth-parts` and the tail is ignored (its bytes
 * are in that part), which keeps a session that crashed before `close()` resumable at the true
 * size. The upload itself is created lazily with the first part, so small blobs cost a PutObject
 * of the tail at most, and `commit()` of content that never needed a part is a plain PutObject.
 * `commit()` otherwise uploads the rest as the last part and completes the upload; `cancel()`
 * aborts every upload on the key and deletes the tail and any object at the key. A part whose
 * upload failed stays in memory (counted in `size`) and is uploaded again under its number first.
 * Appending to a committed object (no upload, no tail) resumes it: a small one is read into the
 * buffer, a larger one is copied server-side into the first parts once something is written.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import type { FileWriter } from '../driver.js';
import { DriverError, PathNotFoundError } from '../errors.js';
import { sourceChunks, type WriteSource } from '../source.js';

/** S3's minimum size of every part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's largest part (also of UploadPartCopy). */
export const MAX_COPY_PART_BYTES = 5 * 1024 * 1024 * 1024;
/** S3's largest part number. */
export const MAX_PARTS = 10_000;
/** Suffix of the side object holding a closed writer's last, small bytes. */
export const TAIL_SUFFIX = '~berth-tail';

const META_UPLOAD_ID = 'berth-upload-id';
const META_PARTS = 'berth-parts';

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
}

export interface Part {
  readonly PartNumber: number;
  readonly ETag: string;
  readonly size: number;
}

interface Upload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: number;
}

/** The tail object as read back: its bytes and which upload state it belongs to. */
interface Tail {
  readonly data: Buffer;
  readonly uploadId: string;
  readonly parts: number;
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

/**
 * Opens a writer for `key` (driver path `path`). Without `append`, every earlier upload on the key
 * and its tail are discarded first; with it, the newest state is resumed (see the module comment).
 */
export async function openMultipartWriter(
  context: WriterContext,
  path: string,
  key: string,
  append: boolean,
): Promise<MultipartWriter> {
  try {
    if (!append) {
      // The tail and the uploads are independent objects: drop the tail while listing.
      const [uploads] = await Promise.all([
        listUploads(context, key, (candidate) => candidate === key),
        context.client.send(new DeleteObjectCommand({ Bucket: context.bucket, Key: key + TAIL_SUFFIX })),
      ]);
      for (const upload of uploads) await abortUpload(context, key, upload.uploadId);
      return new MultipartWriter(context, path, key, undefined, [], undefined, false);
    }
    // One round trip for both: the uploads on the key and the tail (which names its upload).
    const [uploads, tail] = await Promise.all([
      listUploads(context, key, (candidate) => candidate === key),
      readTail(context, key + TAIL_SUFFIX),
    ]);
    const chosen =
      uploads.find((upload) => upload.uploadId === tail?.uploadId) ??
      uploads.reduce<Upload | undefined>((newest, upload) => (newest === undefined || upload.initiated > newest.initiated ? upload : newest), undefined);
    const parts = chosen === undefined ? [] : await listParts(context, key, chosen.uploadId);
    let resumed: Buffer | undefined;
    if (tail !== undefined) {
      const sameUpload = tail.uploadId === (chosen?.uploadId ?? '') || parts.length === 0;
      if (sameUpload && tail.parts === parts.length) {
        resumed = tail.data;
      } else if (tail.uploadId === chosen?.uploadId && tail.parts > parts.length) {
        throw new DriverError(
          context.driverName,
          `writer: inconsistent upload state (the tail follows ${tail.parts} parts, the upload has ${parts.length})`,
          path,
        );
      }
      // Otherwise the tail is stale: a part uploaded after it holds its bytes.
    }
    // Nothing in progress: resume a committed object, if there is one. A small one is read into
    // the buffer; a larger one becomes the first parts (UploadPartCopy) once something is written.
    let base = 0;
    let fromObject = false;
    if (chosen === undefined && resumed === undefined) {
      const size = await objectSize(context, key);
      fromObject = size !== undefined;
      if (size !== undefined && size > 0 && size < MIN_PART_BYTES) resumed = await readObject(context, key);
      else if (size !== undefined) base = size;
    }
    return new MultipartWriter(context, path, key, chosen?.uploadId, parts, resumed, tail !== undefined, base, fromObject);
  } catch (error) {
    throw context.translate('writer', path, error);
  }
}

async function objectSize(context: WriterContext, key: string): Promise<number | undefined> {
  try {
    const head = await context.client.send(new HeadObjectCommand({ Bucket: context.bucket, Key: key }));
    return head.ContentLength ?? 0;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function readObject(context: WriterContext, key: string): Promise<Buffer> {
  const response = await context.client.send(new GetObjectCommand({ Bucket: context.bucket, Key: key }));
  const bytes = response.Body === undefined ? new Uint8Array(0) : await response.Body.transformToByteArray();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function readTail(context: WriterContext, tailKey: string): Promise<Tail | undefined> {
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
  if (!Number.isSafeInteger(parts) || parts < 0) return { data: Buffer.alloc(0), uploadId: '', parts: -1 };
  return {
    data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    uploadId: metadata[META_UPLOAD_ID] ?? '',
    parts,
  };
}

async function listParts(context: WriterContext, key: string, uploadId: string): Promise<Part[]> {
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

/** Part uploads a writer keeps in flight at once (each holds one part-sized buffer). */
export const PARTS_IN_FLIGHT = 2;

/** A part whose upload failed, uploaded again (same number) before the writer goes on. */
interface PendingPart {
  readonly number: number;
  readonly buffer: Buffer;
  readonly bytes: number;
}

/** A writer session (see the module comment). Wrapped by `checked()`, which serialises calls. */
export class MultipartWriter implements FileWriter {
  readonly #context: WriterContext;
  readonly #path: string;
  readonly #key: string;
  #uploadId: string | undefined;
  /** Uploaded parts (in completion order; sorted when completing). */
  readonly #parts: Part[];
  #partBytes: number;
  /** Number of the next part to upload. */
  #nextPart: number;
  /** The part being filled, `#fill` bytes of it used. */
  #buffer: Buffer | undefined;
  #fill = 0;
  /** Part buffers not in use, and how many exist (at most {@link PARTS_IN_FLIGHT}). */
  readonly #free: Buffer[] = [];
  #allocated = 0;
  /** Part uploads in flight by part number (their promises never reject). */
  readonly #inFlight = new Map<number, Promise<void>>();
  #inFlightBytes = 0;
  readonly #failed: PendingPart[] = [];
  /** The first failure of an upload in flight, not yet reported. */
  #failure: unknown;
  /** Creation of the upload (and the copy of a resumed object), shared by concurrent parts. */
  #ready: Promise<void> | undefined;
  /** A tail object exists (valid or stale) and must go on commit/cancel/close. */
  #tailExists: boolean;
  /** Something changed in this session, so close() has to persist it. */
  #dirty = false;
  /** Bytes of a committed object this session resumed, not yet copied into parts. */
  #baseBytes: number;
  readonly #baseRanges: ReadonlyArray<readonly [number, number]>;
  /** The session resumed a committed object (read into the buffer, or as `#baseBytes`). */
  readonly #fromObject: boolean;
  #finished = false;

  constructor(
    context: WriterContext,
    path: string,
    key: string,
    uploadId: string | undefined,
    parts: Part[],
    resumed: Buffer | undefined,
    tailExists: boolean,
    baseBytes = 0,
    fromObject = false,
  ) {
    this.#context = context;
    this.#path = path;
    this.#key = key;
    this.#uploadId = uploadId;
    this.#parts = parts;
    this.#partBytes = parts.reduce((sum, part) => sum + part.size, 0);
    this.#tailExists = tailExists;
    this.#baseBytes = baseBytes;
    this.#baseRanges = baseBytes > 0 ? copyRanges(baseBytes, context.copyPartSize) : [];
    this.#fromObject = fromObject || baseBytes > 0;
    this.#nextPart = parts.length + this.#baseRanges.length + 1;
    if (resumed !== undefined && resumed.byteLength > 0) {
      if (resumed.byteLength > context.partSize) {
        throw new DriverError(context.driverName, 'writer: the stored tail is larger than a part', path);
      }
      const buffer = this.#allocate();
      resumed.copy(buffer);
      this.#buffer = buffer;
      this.#fill = resumed.byteLength;
    }
  }

  get size(): number {
    const failed = this.#failed.reduce((sum, part) => sum + part.bytes, 0);
    return this.#partBytes + this.#baseBytes + this.#inFlightBytes + failed + this.#fill;
  }

  async write(source: WriteSource, signal?: AbortSignal): Promise<number> {
    this.#assertOpen('write');
    const chunks = sourceChunks(source, signal);
    const partSize = this.#context.partSize;
    let written = 0;
    try {
      await this.#uploadFailed().catch((error: unknown) => {
        throw this.#context.translate('writer.write', this.#path, error);
      });
      for (let chunk = await chunks.next(); chunk !== undefined; chunk = await chunks.next()) {
        this.#dirty = true;
        let offset = 0;
        while (offset < chunk.byteLength) {
          const buffer = this.#buffer ?? (await this.#acquire());
          const take = Math.min(partSize - this.#fill, chunk.byteLength - offset);
          buffer.set(chunk.subarray(offset, offset + take), this.#fill);
          this.#fill += take;
          offset += take;
          written += take;
          if (this.#fill === partSize) this.#launch();
        }
      }
      await this.#settle();
      return written;
    } catch (error) {
      chunks.stop();
      // Let the parts in flight finish (or fail into #failed) so `size` is what is really kept.
      await this.#settle().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#assertOpen('close');
    if (!this.#dirty) {
      this.#release();
      return;
    }
    const tailKey = this.#key + TAIL_SUFFIX;
    try {
      await this.#uploadFailed();
      if (this.#baseBytes > 0) await this.#ensureReady();
      if (this.#fill >= MIN_PART_BYTES) await this.#uploadBuffered();
      const buffer = this.#buffer;
      if (buffer !== undefined && this.#fill > 0) {
        await this.#context.client.send(
          new PutObjectCommand({
            Bucket: this.#context.bucket,
            Key: tailKey,
            Body: buffer.subarray(0, this.#fill),
            ContentLength: this.#fill,
            ContentType: 'application/octet-stream',
            Metadata: { [META_UPLOAD_ID]: this.#uploadId ?? '', [META_PARTS]: String(this.#parts.length) },
            ...this.#context.objectOptions,
          }),
        );
      } else if (this.#tailExists) {
        await this.#context.client.send(new DeleteObjectCommand({ Bucket: this.#context.bucket, Key: tailKey }));
      }
    } catch (error) {
      throw this.#context.translate('writer.close', this.#path, error);
    }
    this.#release();
  }

  async commit(): Promise<void> {
    this.#assertOpen('commit');
    const { client, bucket } = this.#context;
    try {
      await this.#uploadFailed();
      if (this.#dirty || !this.#fromObject) {
        if (this.#uploadId !== undefined && this.#parts.length === 0 && this.#baseBytes === 0) {
          // An upload was created but never got a part: nothing to complete.
          await abortUpload(this.#context, this.#key, this.#uploadId);
          this.#uploadId = undefined;
          this.#ready = undefined;
        }
        if (this.#uploadId === undefined && this.#baseBytes === 0) {
          const body = this.#buffer?.subarray(0, this.#fill) ?? Buffer.alloc(0);
          await client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: this.#key,
              Body: body,
              ContentLength: body.byteLength,
              ContentType: 'application/octet-stream',
              ...this.#context.objectOptions,
            }),
          );
        } else {
          await this.#ensureReady();
          if (this.#fill > 0) await this.#uploadBuffered();
          const parts = [...this.#parts].sort((a, b) => a.PartNumber - b.PartNumber);
          await client.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: this.#key,
              UploadId: this.#uploadId,
              MultipartUpload: { Parts: parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) },
            }),
          );
        }
      }
      // (Resumed a committed object and wrote nothing: it already is the content.)
      if (this.#tailExists) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: this.#key + TAIL_SUFFIX }));
      }
    } catch (error) {
      throw this.#context.translate('writer.commit', this.#path, error);
    }
    this.#release();
  }

  async cancel(): Promise<void> {
    if (this.#finished) throw this.#error('cancel', 'the writer is finished');
    const { client, bucket } = this.#context;
    try {
      await this.#settle().catch(() => undefined);
      const uploads = await listUploads(this.#context, this.#key, (candidate) => candidate === this.#key);
      const ids = new Set(uploads.map((upload) => upload.uploadId));
      if (this.#uploadId !== undefined) ids.add(this.#uploadId);
      for (const id of ids) await abortUpload(this.#context, this.#key, id);
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: this.#key + TAIL_SUFFIX }));
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: this.#key }));
    } catch (error) {
      throw this.#context.translate('writer.cancel', this.#path, error);
    }
    this.#parts.length = 0;
    this.#partBytes = 0;
    this.#baseBytes = 0;
    this.#fill = 0;
    this.#failed.length = 0;
    this.#release();
  }

  #allocate(): Buffer {
    this.#allocated += 1;
    return Buffer.allocUnsafe(this.#context.partSize);
  }

  /** A free part buffer to fill next, waiting for an upload in flight to release one. */
  async #acquire(): Promise<Buffer> {
    for (;;) {
      if (this.#failure !== undefined) await this.#settle();
      const buffer = this.#free.pop() ?? (this.#allocated < PARTS_IN_FLIGHT ? this.#allocate() : undefined);
      if (buffer !== undefined) {
        this.#buffer = buffer;
        return buffer;
      }
      const oldest = this.#inFlight.values().next();
      if (oldest.done === true) {
        // Every buffer holds a failed part: upload those first.
        await this.#uploadFailed();
        continue;
      }
      await oldest.value;
    }
  }

  /** Starts uploading the full buffer as the next part, without waiting for it. */
  #launch(): void {
    const buffer = this.#buffer;
    if (buffer === undefined) return;
    const number = this.#takeNumber();
    const bytes = this.#fill;
    this.#buffer = undefined;
    this.#fill = 0;
    this.#inFlightBytes += bytes;
    const done = this.#uploadPart(number, buffer.subarray(0, bytes)).then(
      (part) => {
        this.#inFlightBytes -= bytes;
        this.#record(part);
        this.#free.push(buffer);
      },
      (error: unknown) => {
        this.#inFlightBytes -= bytes;
        this.#failed.push({ number, buffer, bytes });
        this.#failure ??= this.#context.translate('writer.write', this.#path, error);
      },
    );
    this.#inFlight.set(
      number,
      done.finally(() => {
        this.#inFlight.delete(number);
      }),
    );
  }

  /** Waits for every part in flight; rethrows the first failure (once). */
  async #settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight.values());
    const failure = this.#failure;
    if (failure !== undefined) {
      this.#failure = undefined;
      throw failure;
    }
  }

  /** Settles, then uploads again the parts that failed (by their numbers), oldest first. */
  async #uploadFailed(): Promise<void> {
    await this.#settle();
    this.#failed.sort((a, b) => a.number - b.number);
    while (this.#failed.length > 0) {
      const pending = this.#failed[0];
      if (pending === undefined) break;
      const part = await this.#uploadPart(pending.number, pending.buffer.subarray(0, pending.bytes));
      this.#failed.shift();
      this.#record(part);
      this.#free.push(pending.buffer);
    }
  }

  /** Uploads the buffered bytes (any size) as the next part and waits for it. */
  async #uploadBuffered(): Promise<void> {
    const buffer = this.#buffer;
    if (buffer === undefined || this.#fill === 0) return;
    const number = this.#takeNumber();
    try {
      const part = await this.#uploadPart(number, buffer.subarray(0, this.#fill));
      this.#fill = 0;
      this.#record(part);
    } catch (error) {
      this.#nextPart = number;
      throw error;
    }
  }

  #takeNumber(): number {
    const number = this.#nextPart;
    if (number > MAX_PARTS) {
      throw new DriverError(
        this.#context.driverName,
        `writer: more than ${MAX_PARTS} parts of ${this.#context.partSize} bytes; raise chunksize`,
        this.#path,
      );
    }
    this.#nextPart = number + 1;
    return number;
  }

  /**
   * Creates the multipart upload if there is none yet (before the first part) and turns a resumed
   * committed object into its first parts, copied server-side (see {@link copyRanges}). Shared by
   * the parts in flight; a failure lets the next call try again.
   */
  #ensureReady(): Promise<void> {
    if (this.#uploadId !== undefined && this.#baseBytes === 0) return Promise.resolve();
    this.#ready ??= (async () => {
      this.#uploadId ??= await createUpload(this.#context, this.#key);
      if (this.#baseBytes === 0) return;
      const target = { key: this.#key, uploadId: this.#uploadId };
      const copied = await copyParts(this.#context, target, this.#key, this.#baseRanges, 1);
      this.#baseBytes = 0;
      for (const part of copied) this.#record(part);
    })().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  #record(part: Part): void {
    this.#parts.push(part);
    this.#partBytes += part.size;
  }

  /** UploadPart of `body` as part `number` (creating the upload first if needed). */
  async #uploadPart(number: number, body: Buffer): Promise<Part> {
    await this.#ensureReady();
    const response = await this.#context.client.send(
      new UploadPartCommand({
        Bucket: this.#context.bucket,
        Key: this.#key,
        UploadId: this.#uploadId,
        PartNumber: number,
        Body: body,
        // No Content-MD5: the SigV4 payload hash (x-amz-content-sha256) already covers the body.
        ContentLength: body.byteLength,
      }),
    );
    if (response.ETag === undefined) {
      throw new DriverError(this.#context.driverName, `writer: UploadPart ${number} returned no ETag`, this.#path);
    }
    return { PartNumber: number, ETag: response.ETag, size: body.byteLength };
  }

  #release(): void {
    this.#finished = true;
    this.#buffer = undefined;
    this.#free.length = 0;
  }

  #assertOpen(op: string): void {
    if (this.#finished) throw this.#error(op, 'the writer is finished');
  }

  #error(op: string, why: string): DriverError {
    return new DriverError(this.#context.driverName, `writer.${op}: ${why}`, this.#path);
  }
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
