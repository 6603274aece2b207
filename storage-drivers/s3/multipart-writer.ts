/**
 * The s3 driver's FileWriter: a resumable writer on top of an S3 multipart upload.
 *
 * Layout of a writer's state in the bucket, for the object key `K`:
 * - the multipart upload in progress on `K` (found again with ListMultipartUploads + ListParts).
 *   Every part is at least {@link MIN_PART_BYTES} (S3 refuses to complete an upload whose
 *   non-last parts are smaller), so any later session can append parts after it;
 * - the "tail" `K~berth-tail` (`~` is outside the driver path grammar, so no driver path names it
 *   and `list` hides it): the last bytes of a closed session that were too few for a part (maybe
 *   none), with metadata naming the upload (`berth-upload-id`, empty before one exists), the
 *   number of parts it follows (`berth-parts`) and a random stamp of that close (`berth-stamp`).
 *
 * Resuming without listing: every close() writes the tail and the process remembers the session
 * (upload id, part list with ETags) under the tail's stamp ({@link WriterMemory}). The next
 * `writer(path, {append: true})` in the same process reads the tail (one GET, needed anyway for
 * its bytes); when the stamp is still the one remembered, no other node has closed the session
 * since, and the remembered part list is used — no ListMultipartUploads → ListParts chain per
 * PATCH. After a node switch (another stamp, no tail, nothing remembered) the state is listed as
 * described below. (A session resumed from memory does not see parts another node uploaded
 * without ever closing — it crashed: it goes on at the size this process last reported and
 * uploads the same part numbers again, so the committed object is still exactly what was
 * reported written.)
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
  CompleteMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import type { FileWriter } from '../driver.js';
import { DriverError } from '../errors.js';
import { sourceChunks, type WriteSource } from '../source.js';
import {
  abortUpload,
  copyParts,
  copyRanges,
  createUpload,
  listParts,
  listUploads,
  MIN_PART_BYTES,
  MAX_PARTS,
  objectSize,
  readObject,
  readTail,
  TAIL_SUFFIX,
  META_PARTS,
  META_STAMP,
  META_UPLOAD_ID,
  type Part,
  type RememberedSession,
  type Tail,
  type Upload,
  type WriterContext,
} from './upload-state.js';

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
      context.memory?.delete(key);
      // The tail and the uploads are independent objects: drop the tail while listing.
      const [uploads] = await Promise.all([
        listUploads(context, key, (candidate) => candidate === key),
        context.client.send(new DeleteObjectCommand({ Bucket: context.bucket, Key: key + TAIL_SUFFIX })),
      ]);
      for (const upload of uploads) await abortUpload(context, key, upload.uploadId);
      return new MultipartWriter(context, path, key, undefined, [], undefined, false);
    }
    const remembered = context.memory?.get(key);
    let tail: Tail | undefined;
    let uploads: Upload[];
    if (remembered !== undefined) {
      // A session this process closed: the tail says whether anyone wrote to it since.
      tail = await readTail(context, key + TAIL_SUFFIX);
      if (
        tail !== undefined &&
        tail.stamp === remembered.stamp &&
        tail.uploadId === remembered.uploadId &&
        tail.parts === remembered.parts.length
      ) {
        context.onResume?.('memory');
        // Taken out while the session is open: a writer that is never closed (it died) must not
        // leave a record that hides the parts it uploaded.
        context.memory?.delete(key);
        const uploadId = remembered.uploadId === '' ? undefined : remembered.uploadId;
        const writer = new MultipartWriter(context, path, key, uploadId, [...remembered.parts], tail.data, true);
        writer.remembered = remembered;
        return writer;
      }
      context.memory?.delete(key);
      context.onResume?.('list');
      uploads = await listUploads(context, key, (candidate) => candidate === key);
    } else {
      // One round trip for both: the uploads on the key and the tail (which names its upload).
      context.onResume?.('list');
      [uploads, tail] = await Promise.all([
        listUploads(context, key, (candidate) => candidate === key),
        readTail(context, key + TAIL_SUFFIX),
      ]);
    }
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
    const writer = new MultipartWriter(context, path, key, chosen?.uploadId, parts, resumed, tail !== undefined, base, fromObject);
    if (tail !== undefined && resumed === tail.data && tail.stamp !== '') {
      // The listed state is the one the tail describes: remembered if this session changes nothing.
      writer.remembered = { stamp: tail.stamp, uploadId: chosen?.uploadId ?? '', parts: [...parts] };
    }
    return writer;
  } catch (error) {
    throw context.translate('writer', path, error);
  }
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
  /** The state as remembered when opened (put back by a close() that changed nothing). */
  remembered: RememberedSession | undefined;

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
      if (this.remembered !== undefined) this.#context.memory?.set(this.#key, this.remembered);
      this.#release();
      return;
    }
    const tailKey = this.#key + TAIL_SUFFIX;
    const memory = this.#context.memory;
    // Whatever happens below, what this process remembered of the session is out of date.
    memory?.delete(this.#key);
    try {
      await this.#uploadFailed();
      if (this.#baseBytes > 0) await this.#ensureReady();
      if (this.#fill >= MIN_PART_BYTES) await this.#uploadBuffered();
      const buffer = this.#buffer;
      const body = buffer !== undefined && this.#fill > 0 ? buffer.subarray(0, this.#fill) : Buffer.alloc(0);
      // Written even when empty: its stamp tells the next session whether the state is unchanged.
      const stamp = randomBytes(9).toString('base64url');
      const uploadId = this.#uploadId ?? '';
      await this.#context.client.send(
        new PutObjectCommand({
          Bucket: this.#context.bucket,
          Key: tailKey,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: 'application/octet-stream',
          Metadata: { [META_UPLOAD_ID]: uploadId, [META_PARTS]: String(this.#parts.length), [META_STAMP]: stamp },
          ...this.#context.objectOptions,
        }),
      );
      memory?.set(this.#key, { stamp, uploadId, parts: [...this.#parts].sort((a, b) => a.PartNumber - b.PartNumber) });
    } catch (error) {
      throw this.#context.translate('writer.close', this.#path, error);
    }
    this.#release();
  }

  async commit(): Promise<void> {
    this.#assertOpen('commit');
    const { client, bucket } = this.#context;
    this.#context.memory?.delete(this.#key);
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
    this.#context.memory?.delete(this.#key);
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
    return this.#context.partBuffers?.take() ?? Buffer.allocUnsafe(this.#context.partSize);
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

  /** Ends the writer; part buffers no upload holds go back to the driver's pool. */
  #release(): void {
    this.#finished = true;
    const pool = this.#context.partBuffers;
    if (pool !== undefined) {
      if (this.#buffer !== undefined) pool.give(this.#buffer);
      for (const buffer of this.#free) pool.give(buffer);
    }
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
