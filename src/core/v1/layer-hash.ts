/**
 * Everything Berth must know about a v1 layer, computed in one pass while its bytes stream
 * through (never buffered): the blob digest and size, the compression (from the first bytes, as
 * docker detects it), the diff_id (sha256 of the decompressed tar, through a streaming gunzip)
 * and, for a push, the v1 payload checksum `sha256(json + "\n" + layer)`. Layers compressed with
 * anything but gzip are refused: their diff_id cannot be computed here, so no v2 view could be
 * given of them.
 */
import { createHash, type Hash } from 'node:crypto';
import { createGunzip, type Gunzip } from 'node:zlib';
import { RegistryError } from '../../errors/registry-error.js';
import { detectCompression, layerMediaType, type Compression } from '../bridge/v2-from-v1.js';

export interface LayerFacts {
  readonly digest: string;
  readonly size: number;
  readonly diffId: string;
  readonly compression: 'gzip' | 'none';
  readonly mediaType: string;
  /** `sha256:` + sha256(json + "\n" + layer), when a JSON prefix was given. */
  readonly payloadChecksum?: string;
}

const SNIFF_BYTES = 6;

export class LayerHasher {
  private readonly blob = createHash('sha256');
  private readonly diff = createHash('sha256');
  private readonly payload: Hash | undefined;
  private size = 0;
  private head: Buffer[] = [];
  private headLength = 0;
  private compression: Compression | undefined;
  private gunzip: Gunzip | undefined;
  private gunzipEnded: Promise<void> | undefined;
  private gunzipError: Error | undefined;
  /** Resolves the write in flight when the decompressor fails instead of calling back. */
  private wake: (() => void) | undefined;

  constructor(
    jsonPrefix: Buffer | undefined,
    private readonly maxBytes = 0,
  ) {
    this.payload = jsonPrefix === undefined ? undefined : createHash('sha256').update(jsonPrefix).update('\n');
  }

  async update(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    if (this.maxBytes > 0 && this.size > this.maxBytes) {
      throw new RegistryError('SIZE_INVALID', { status: 413, message: 'layer exceeds the maximum blob size', detail: { max: this.maxBytes } });
    }
    this.blob.update(chunk);
    this.payload?.update(chunk);
    if (this.compression !== undefined) {
      await this.feed(chunk);
      return;
    }
    this.head.push(chunk);
    this.headLength += chunk.length;
    if (this.headLength >= SNIFF_BYTES) await this.decide();
  }

  async finish(): Promise<LayerFacts> {
    if (this.compression === undefined) await this.decide();
    if (this.gunzip !== undefined) {
      this.gunzip.end();
      await this.gunzipEnded;
      this.throwIfGunzipFailed();
    }
    const compression = this.compression === 'gzip' ? 'gzip' : 'none';
    return {
      digest: `sha256:${this.blob.digest('hex')}`,
      size: this.size,
      diffId: `sha256:${this.diff.digest('hex')}`,
      compression,
      mediaType: layerMediaType(compression),
      ...(this.payload !== undefined ? { payloadChecksum: `sha256:${this.payload.digest('hex')}` } : {}),
    };
  }

  /** Stops the decompressor after a failure elsewhere. */
  abort(): void {
    this.gunzip?.destroy();
  }

  private async decide(): Promise<void> {
    const head = Buffer.concat(this.head, this.headLength);
    this.head = [];
    const compression = detectCompression(head);
    if (compression !== 'gzip' && compression !== 'none') {
      throw new RegistryError('V1_INVALID', {
        message: `Layer format not supported: ${compression} (only tar and gzip-compressed tar layers)`,
      });
    }
    this.compression = compression;
    if (compression === 'gzip') {
      const gunzip = createGunzip();
      this.gunzip = gunzip;
      gunzip.on('data', (out: Buffer) => this.diff.update(out));
      this.gunzipEnded = new Promise<void>((resolve) => {
        gunzip.once('end', () => resolve());
        gunzip.once('error', (error: Error) => {
          this.gunzipError = error;
          this.wake?.();
          resolve();
        });
      });
    }
    if (head.length > 0) await this.feed(head);
  }

  private async feed(chunk: Buffer): Promise<void> {
    const gunzip = this.gunzip;
    if (gunzip === undefined) {
      this.diff.update(chunk);
      return;
    }
    this.throwIfGunzipFailed();
    // After a decompression error the write callback may never run: the error handler wakes us.
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      gunzip.write(chunk, () => resolve());
    });
    this.wake = undefined;
    this.throwIfGunzipFailed();
  }

  private throwIfGunzipFailed(): void {
    if (this.gunzipError !== undefined) {
      throw new RegistryError('V1_INVALID', { message: `Layer is not a valid gzip stream: ${this.gunzipError.message}` });
    }
  }
}

/** Facts about a stored blob (for bridged layers whose diff_id the v2 config does not give). */
export async function describeStream(stream: AsyncIterable<unknown>): Promise<LayerFacts> {
  const hasher = new LayerHasher(undefined);
  try {
    for await (const chunk of stream) await hasher.update(chunk as Buffer);
    return await hasher.finish();
  } finally {
    hasher.abort();
  }
}
