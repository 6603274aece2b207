/**
 * Directory fsync: makes a created, renamed or removed directory entry durable (on Linux a file's
 * own fsync does not cover the entry that names it). Platforms that cannot open or sync a
 * directory (EISDIR/EINVAL/EPERM/ENOTSUP on some systems) are tolerated; other failures, such as
 * EIO, are reported as driver errors.
 */
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorCode, translateFsError } from './errors.js';

const UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'ENOTSUP', 'EBADF', 'EACCES']);

/** fsyncs the directory containing `osPath`. `path` is the driver path, for errors. */
export async function syncDirectory(driverName: string, path: string, osPath: string): Promise<void> {
  let directory;
  try {
    directory = await open(dirname(osPath), 'r');
    await directory.sync();
  } catch (error) {
    const code = errorCode(error);
    if (code === undefined || !UNSUPPORTED.has(code)) {
      throw translateFsError(driverName, 'sync directory', path, 'io', error);
    }
  } finally {
    await directory?.close().catch(() => undefined);
  }
}
