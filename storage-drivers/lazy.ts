/**
 * A driver whose implementation module is loaded on first use. Keeps heavy SDKs (the AWS SDK for
 * `s3`) out of processes that never use them, while `createDriver` stays synchronous: the factory
 * validates the parameters at once and defers only the import. A failed load is retried on the
 * next call.
 */
import type { StorageDriver } from './driver.js';

export function lazyDriver(name: string, load: () => Promise<StorageDriver>): StorageDriver {
  let loading: Promise<StorageDriver> | undefined;
  const get = (): Promise<StorageDriver> =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    }));
  return {
    name,
    stat: async (path) => (await get()).stat(path),
    getContent: async (path, options) => (await get()).getContent(path, options),
    putContent: async (path, content) => (await get()).putContent(path, content),
    reader: async (path, options) => (await get()).reader(path, options),
    writer: async (path, options) => (await get()).writer(path, options),
    list: async (path) => (await get()).list(path),
    move: async (from, to) => (await get()).move(from, to),
    delete: async (path) => (await get()).delete(path),
    redirectUrl: async (path, options) => {
      const driver = await get();
      return driver.redirectUrl === undefined ? undefined : driver.redirectUrl(path, options);
    },
  };
}
