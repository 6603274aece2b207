/**
 * Small helpers over the driver contract used by the core stores: "missing is undefined" reads,
 * idempotent deletes, and reading a stream fully under a cap.
 */
import type { Readable } from 'node:stream';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { PathNotFoundError } from '../../storage-drivers/errors.js';

export async function getOrUndefined(driver: StorageDriver, path: string): Promise<Buffer | undefined> {
  try {
    return await driver.getContent(path);
  } catch (error) {
    if (error instanceof PathNotFoundError) return undefined;
    throw error;
  }
}

export async function sizeOrUndefined(driver: StorageDriver, path: string): Promise<number | undefined> {
  try {
    const info = await driver.stat(path);
    return info.isDir ? undefined : info.size;
  } catch (error) {
    if (error instanceof PathNotFoundError) return undefined;
    throw error;
  }
}

export async function exists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch (error) {
    if (error instanceof PathNotFoundError) return false;
    throw error;
  }
}

/** Deletes a path; returns false when nothing was there. */
export async function deleteIfExists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.delete(path);
    return true;
  } catch (error) {
    if (error instanceof PathNotFoundError) return false;
    throw error;
  }
}

/** Lists children, or [] when the directory does not exist. */
export async function listOrEmpty(driver: StorageDriver, path: string): Promise<string[]> {
  try {
    return await driver.list(path);
  } catch (error) {
    if (error instanceof PathNotFoundError) return [];
    throw error;
  }
}

/** Drains a stream into memory, failing once `limit` bytes are exceeded (metadata only). */
export async function readAllCapped(stream: Readable, limit: number, onTooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limit) {
      stream.destroy();
      throw onTooLarge();
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}
