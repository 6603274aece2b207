/**
 * bench/lib/calibrate.ts — measure the client's ceiling with the same
 * client code paths (curl PUT, node chunked PATCH, curl GET, wrk GET/HEAD)
 * against calib-server.ts, a server that does no work. If a registry's
 * number gets close to the ceiling, the client (or the shared 2 cores),
 * not the registry, may be the limit — run.ts warns about that.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { BlobFile } from './blob.js';
import { shellQuote } from './exec.js';
import { startRegistry, stopRegistry } from './registry.js';
import { chunkedUpload, curlPull, MiB, monolithicUpload } from './workloads.js';
import { runWrk } from './wrk.js';

export interface Calibration {
  push: number;
  chunked: number;
  pull: number;
  manifest: number;
  head: number;
  wrkSeconds: number;
}

export async function calibrate(
  blob: BlobFile,
  workDir: string,
  o: { chunkBytes: number; connections: number; threads: number; durationS: number },
): Promise<Calibration> {
  const server = join(dirname(fileURLToPath(import.meta.url)), 'calib-server.js');
  const reg = await startRegistry(
    { key: 'calib', label: 'calibration server', cmd: `node ${shellQuote(server)} --size ${blob.size}`, extraStorage: [], logLevel: 'error' },
    workDir,
  );
  try {
    // Two tries each (the first also warms up the no-op server); keep the best.
    const best = async (f: () => Promise<number>): Promise<number> => Math.min(await f(), await f());
    const pushS = await best(async () => (await monolithicUpload(reg.base, 'calib', blob)).seconds);
    const chunkedS = await best(async () => (await chunkedUpload(reg.base, 'calib', blob.data, blob.digest, o.chunkBytes)).seconds);
    const pullS = await best(() => curlPull(`${reg.base}/blob`, blob.size));
    const wrkSeconds = Math.min(5, o.durationS);
    const common = { connections: o.connections, threads: o.threads, durationS: wrkSeconds, scriptDir: workDir };
    const get = await runWrk({ ...common, url: `${reg.base}/manifest` });
    const head = await runWrk({ ...common, url: `${reg.base}/head`, method: 'HEAD' });
    return {
      push: blob.size / MiB / pushS,
      chunked: blob.size / MiB / chunkedS,
      pull: blob.size / MiB / pullS,
      manifest: get.rps,
      head: head.rps,
      wrkSeconds,
    };
  } finally {
    await stopRegistry(reg);
  }
}
