/**
 * Per-blob file information IMGAPI serves (size, SHA-1, MD5): computed once, streaming, at most two
 * blobs hashed at a time, memoised in the process and cached in storage next to the registry's own
 * layout (not written in read-only mode), so every node reuses it:
 *
 *   /docker/registry/v2/
 *     smartos/blobs/<alg>/<hex[0:2]>/<hex>/file.json    {"digest","size","sha1","md5"} of blob <alg>:<hex>
 *
 * The cached document is only trusted when it names the digest asked for and is well formed.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { parseDigest, type ParsedDigest } from '../core/digest.js';
import { ROOT } from '../core/paths.js';
import type { Registry } from '../core/registry.js';
import { getOrUndefined } from '../core/storage-helpers.js';
import { RegistryError } from '../errors/registry-error.js';
import { Memo } from './memo.js';

export interface FileInfo {
  readonly digest: string;
  readonly size: number;
  readonly sha1: string;
  /** base64, as Content-MD5 wants it. */
  readonly md5: string;
}


export interface FileInfoCacheDeps {
  readonly registry: Registry;
  readonly logger: Logger;
  /** Compute but never write the cache document. */
  readonly readOnly: boolean;
}

export class FileInfoCache {
  private readonly files = new Memo<FileInfo>(65536);
  private readonly computing = new Map<string, Promise<FileInfo>>();
  private hashSlots = 2;
  private readonly hashQueue: (() => void)[] = [];

  constructor(private readonly deps: FileInfoCacheDeps) {}

  async get(digestText: string): Promise<FileInfo> {
    const memo = this.files.get(digestText);
    if (memo !== undefined) return memo;
    const running = this.computing.get(digestText);
    if (running !== undefined) return running;
    const task = this.loadOrComputeFileInfo(digestText).finally(() => this.computing.delete(digestText));
    this.computing.set(digestText, task);
    const info = await task;
    this.files.set(digestText, info);
    return info;
  }

  private async loadOrComputeFileInfo(digestText: string): Promise<FileInfo> {
    const { registry, readOnly } = this.deps;
    const digest = parseDigest(digestText);
    const path = fileInfoPath(digest);
    const stored = await getOrUndefined(registry.driver, path);
    const parsed = stored === undefined ? undefined : parseFileInfo(stored, digest.digest);
    if (parsed !== undefined) return parsed;
    const size = await registry.blobs.globalSize(digest);
    if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', { detail: { digest: digest.digest } });
    const info = await this.withHashSlot(() => this.hashBlob(digest));
    if (info.size !== size) throw new Error(`internal: blob ${digest.digest} read ${info.size} bytes, stat says ${size}`);
    if (!readOnly) {
      await registry.driver.putContent(path, Buffer.from(JSON.stringify(info))).catch((error: unknown) => {
        this.deps.logger.warn({ err: error, digest: digest.digest }, 'imgapi: could not cache file info');
      });
    }
    return info;
  }

  private async hashBlob(digest: ParsedDigest): Promise<FileInfo> {
    const sha1 = createHash('sha1');
    const md5 = createHash('md5');
    let size = 0;
    const stream = await this.deps.registry.blobs.open(digest);
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      sha1.update(buf);
      md5.update(buf);
      size += buf.length;
    }
    return { digest: digest.digest, size, sha1: sha1.digest('hex'), md5: md5.digest('base64') };
  }

  private async withHashSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.hashSlots === 0) await new Promise<void>((resolve) => this.hashQueue.push(resolve));
    else this.hashSlots--;
    try {
      return await fn();
    } finally {
      const next = this.hashQueue.shift();
      if (next !== undefined) next();
      else this.hashSlots++;
    }
  }
}

export function fileInfoPath(digest: ParsedDigest): string {
  return `${ROOT}/smartos/blobs/${digest.algorithm}/${digest.hex.slice(0, 2)}/${digest.hex}/file.json`;
}

function parseFileInfo(bytes: Buffer, digest: string): FileInfo | undefined {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    const { size, sha1, md5 } = v;
    if (v['digest'] !== digest || typeof size !== 'number' || typeof sha1 !== 'string' || !/^[0-9a-f]{40}$/.test(sha1) || typeof md5 !== 'string') {
      return undefined;
    }
    return { digest, size, sha1, md5 };
  } catch {
    return undefined;
  }
}
