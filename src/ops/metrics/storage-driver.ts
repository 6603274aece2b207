/**
 * `instrumentDriver(driver, metrics)`: a StorageDriver decorator that times every operation
 * (histogram by driver and operation) and counts failures by error class. It only observes:
 * results and errors pass through unchanged. Operation names are checked()'s (`stat`,
 * `getContent`, …, `writer.write`, `writer.commit`, …); `reader` is timed until the stream is open.
 */
import type { Readable } from 'node:stream';
import type {
  FileInfo,
  FileWriter,
  GetContentOptions,
  ReadOptions,
  RedirectOptions,
  StorageDriver,
  WriterOptions,
} from '../../../storage-drivers/driver.js';
import type { BerthMetrics } from './metrics.js';

const OPERATIONS = [
  'stat',
  'getContent',
  'putContent',
  'reader',
  'writer',
  'list',
  'move',
  'delete',
  'redirectUrl',
  'writer.write',
  'writer.commit',
  'writer.cancel',
  'writer.close',
] as const;
type Operation = (typeof OPERATIONS)[number];

const ERROR_CLASSES = new Set([
  'PathNotFoundError',
  'InvalidPathError',
  'InvalidOffsetError',
  'UnsupportedMethodError',
  'BackendUnavailableError',
  'ContentTooLargeError',
  'AbortError',
  'DriverError',
]);

type Observe = (started: number, error?: unknown) => void;

export function instrumentDriver(driver: StorageDriver, metrics: BerthMetrics): StorageDriver {
  const name = driver.name;
  const observers = new Map<Operation, Observe>();
  for (const op of OPERATIONS) {
    const duration = metrics.storageDuration.labels(name, op);
    observers.set(op, (started, error) => {
      duration.observe((performance.now() - started) / 1000);
      if (error !== undefined) {
        const cls = error instanceof Error && ERROR_CLASSES.has(error.name) ? error.name : 'other';
        metrics.storageErrors.labels(name, op, cls).inc();
      }
    });
  }
  const observer = (op: Operation): Observe => observers.get(op) as Observe;
  const timed = <T>(observe: Observe, started: number, promise: Promise<T>): Promise<T> =>
    promise.then(
      (value) => {
        observe(started);
        return value;
      },
      (error: unknown) => {
        observe(started, error);
        throw error;
      },
    );
  const o = {
    stat: observer('stat'),
    getContent: observer('getContent'),
    putContent: observer('putContent'),
    reader: observer('reader'),
    writer: observer('writer'),
    list: observer('list'),
    move: observer('move'),
    delete: observer('delete'),
    redirectUrl: observer('redirectUrl'),
    write: observer('writer.write'),
    commit: observer('writer.commit'),
    cancel: observer('writer.cancel'),
    close: observer('writer.close'),
  };
  const wrapWriter = (inner: FileWriter): FileWriter => ({
    get size() {
      return inner.size;
    },
    write: (source, signal) => timed(o.write, performance.now(), inner.write(source, signal)),
    commit: () => timed(o.commit, performance.now(), inner.commit()),
    cancel: () => timed(o.cancel, performance.now(), inner.cancel()),
    close: () => timed(o.close, performance.now(), inner.close()),
  });
  const wrapped: StorageDriver = {
    name,
    stat: (path: string): Promise<FileInfo> => timed(o.stat, performance.now(), driver.stat(path)),
    getContent: (path: string, options?: GetContentOptions): Promise<Buffer> =>
      timed(o.getContent, performance.now(), driver.getContent(path, options)),
    putContent: (path: string, content: Uint8Array): Promise<void> =>
      timed(o.putContent, performance.now(), driver.putContent(path, content)),
    reader: (path: string, options?: ReadOptions): Promise<Readable> => timed(o.reader, performance.now(), driver.reader(path, options)),
    writer: async (path: string, options?: WriterOptions): Promise<FileWriter> =>
      wrapWriter(await timed(o.writer, performance.now(), driver.writer(path, options))),
    list: (path: string): Promise<string[]> => timed(o.list, performance.now(), driver.list(path)),
    move: (from: string, to: string): Promise<void> => timed(o.move, performance.now(), driver.move(from, to)),
    delete: (path: string): Promise<void> => timed(o.delete, performance.now(), driver.delete(path)),
  };
  const redirect = driver.redirectUrl?.bind(driver);
  if (redirect !== undefined) {
    return {
      ...wrapped,
      redirectUrl: (path: string, options: RedirectOptions): Promise<string | undefined> =>
        timed(o.redirectUrl, performance.now(), redirect(path, options)),
    };
  }
  return wrapped;
}
