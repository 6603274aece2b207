/**
 * Deletes abandoned upload sessions: every `_uploads/<id>` whose `startedat` is older than the
 * cut-off (or missing/unreadable). Walks the repositories tree; safe to run on any node at any time
 * (a session being finished concurrently is at worst purged, which the client sees as an unknown
 * upload and restarts — the same as distribution).
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { REPOSITORIES, basename } from './paths.js';
import { deleteIfExists, getOrUndefined, listOrEmpty } from './storage-helpers.js';

export interface PurgeResult {
  readonly scanned: number;
  readonly purged: string[];
}

export async function purgeUploads(driver: StorageDriver, olderThan: Date, dryRun: boolean): Promise<PurgeResult> {
  const purged: string[] = [];
  let scanned = 0;
  const walk = async (dir: string): Promise<void> => {
    const children = await listOrEmpty(driver, dir);
    for (const child of children) {
      const base = basename(child);
      if (base === '_uploads') {
        for (const upload of await listOrEmpty(driver, child)) {
          scanned++;
          const started = await getOrUndefined(driver, `${upload}/startedat`);
          const time = started === undefined ? NaN : Date.parse(started.toString());
          if (Number.isNaN(time) || time < olderThan.getTime()) {
            purged.push(upload);
            if (!dryRun) await deleteIfExists(driver, upload);
          }
        }
      } else if (!base.startsWith('_')) {
        await walk(child);
      }
    }
  };
  await walk(REPOSITORIES);
  return { scanned, purged };
}
