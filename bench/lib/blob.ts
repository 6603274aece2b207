/**
 * bench/lib/blob.ts — generate the benchmark's random blob once per run:
 * random bytes (crypto.randomFillSync), written to a file in the run's temp
 * directory (for curl uploads) and kept in memory (for the chunked client),
 * with its sha256 digest; plus small helpers for tiny blobs.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

export interface BlobFile {
  path: string;
  size: number;
  digest: string;
  data: Buffer;
}

const SLICE = 64 * 1024 * 1024;

export function generateBlob(path: string, size: number): BlobFile {
  const data = Buffer.allocUnsafe(size);
  const h = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let off = 0; off < size; off += SLICE) {
      const part = data.subarray(off, Math.min(size, off + SLICE));
      randomFillSync(part);
      h.update(part);
      let written = 0;
      while (written < part.length) written += writeSync(fd, part, written, part.length - written);
    }
  } finally {
    closeSync(fd);
  }
  return { path, size, digest: `sha256:${h.digest('hex')}`, data };
}

export function sha256Digest(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}
