/**
 * The spool of an import: every file of an archive is streamed, as it arrives, into an upload
 * session of the storage (`_uploads/<id>` of the staging name, so the upload purger removes what a
 * crashed import left behind) while its sha256 is computed; nothing of it is visible to clients.
 * Once the whole archive has been read and cross-checked, the verified blobs are committed through
 * core (BlobStore.adopt: touch, then move into the content store) and linked; everything else,
 * and everything on a refusal, is discarded. Entries may come in any order: what must wait, waits
 * in storage, never in memory.
 */
import { createHash } from 'node:crypto';
import { tryParseDigest, type ParsedDigest } from '../core/digest.js';
import { paths } from '../core/paths.js';
import type { Registry } from '../core/registry.js';
import { ArchiveError } from './archive-error.js';

/** Upload sessions of an import live under this (never listed: it has no `_manifests`). */
export const STAGING_NAME = 'berth-import-staging';

export interface StagedBlob {
  readonly id: string;
  readonly size: number;
  readonly digest: ParsedDigest;
}

export class Stager {
  private readonly staged = new Set<string>();
  private readonly adopted = new Set<string>();

  constructor(private readonly registry: Registry) {}

  /**
   * Streams `source` into a new upload session; `onBytes` sees each chunk's length (progress).
   * `expectedSize` (the tar header's) is checked.
   */
  async stage(source: AsyncIterable<Buffer>, expectedSize: number, onBytes: (n: number) => void): Promise<StagedBlob> {
    const session = await this.registry.uploads.start(STAGING_NAME);
    this.staged.add(session.id);
    const hash = createHash('sha256');
    let size = 0;
    async function* tap(): AsyncGenerator<Uint8Array> {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        onBytes(chunk.length);
        yield chunk;
      }
    }
    const writer = await this.registry.driver.writer(paths.uploadData(STAGING_NAME, session.id), { append: false });
    try {
      await writer.write(tap());
      await writer.commit();
    } catch (error) {
      await writer.cancel().catch(() => undefined);
      throw error;
    }
    if (size !== expectedSize) throw new ArchiveError(`an entry has ${size} bytes where its header says ${expectedSize} (truncated archive?)`);
    const digest = tryParseDigest(`sha256:${hash.digest('hex')}`);
    if (digest === undefined) throw new Error('internal: bad sha256');
    return { id: session.id, size, digest };
  }

  /** Reads a staged blob back (manifests, configs), refusing more than `max` bytes. */
  async read(blob: StagedBlob, max: number, what: string): Promise<Buffer> {
    if (blob.size > max) throw new ArchiveError(`${what} is ${blob.size} bytes, more than the ${max} accepted (berth.limits.manifestbytes)`);
    return this.registry.driver.getContent(paths.uploadData(STAGING_NAME, blob.id));
  }

  /**
   * Commits a verified staged blob into the content store (core's adopt: touch, then move). The
   * same content staged twice is adopted once; the other copy is discarded with the rest.
   */
  async adopt(blob: StagedBlob): Promise<void> {
    if (this.adopted.has(blob.digest.digest)) return;
    await this.registry.blobs.adopt(paths.uploadData(STAGING_NAME, blob.id), blob.digest);
    this.adopted.add(blob.digest.digest);
  }

  /** Removes every upload session of this import (after a commit or a refusal). */
  async discardAll(): Promise<void> {
    const ids = [...this.staged];
    this.staged.clear();
    for (let i = 0; i < ids.length; i += 16) {
      await Promise.all(ids.slice(i, i + 16).map((id) => this.registry.uploads.cancel(STAGING_NAME, id).catch(() => undefined)));
    }
  }
}
