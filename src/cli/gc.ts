/**
 * `berth garbage-collect [--dry-run|-d] [--delete-untagged|-m] [--grace-period=<duration>]
 * config.yml`: distribution's command and flags over src/ops/gc. Prints each blob, manifest and
 * link deleted (or eligible, with --dry-run) and a summary with counts and bytes; progress on a
 * terminal. Blobs younger than `berth.gc.graceperiod` (default 1h; `--grace-period=0` for a
 * stopped registry) are kept. Exit 0, or 1 with `failed to garbage collect: …` on stderr.
 */
import { parseDuration } from '../config/duration.js';
import { garbageCollect, type GcEvent, type GcReport } from '../ops/gc/run.js';
import { LeaseBusyError } from '../ops/gc/lease.js';
import { formatBytes, openStore, parseArgs, type Output } from './store.js';

export const GC_USAGE = 'berth garbage-collect [--dry-run] [--delete-untagged] [--grace-period=1h] config.yml';

function eventLine(e: GcEvent, dryRun: boolean): string | undefined {
  switch (e.kind) {
    case 'blob':
      return dryRun ? `blob eligible for deletion: ${e.digest} (${e.size} bytes)` : `deleted blob: ${e.digest} (${e.size} bytes)`;
    case 'manifest':
      return dryRun ? `manifest eligible for deletion: ${e.repository} ${e.digest}` : `deleted manifest: ${e.repository} ${e.digest}`;
    case 'layer-link':
      return `${e.repository}: layer link ${dryRun ? 'eligible for deletion' : 'deleted'}: ${e.digest}`;
    case 'revision-link':
      return `${e.repository}: revision link to a missing manifest ${dryRun ? 'eligible for deletion' : 'deleted'}: ${e.digest}`;
    case 'restored':
      return `restored blob hidden by an earlier run or touched by a push: ${e.digest}`;
  }
}

export function summary(r: GcReport): string[] {
  const verb = r.dryRun ? 'eligible for deletion' : 'deleted';
  return [
    `marked: ${r.repositories} repositories, ${r.manifests} manifests, ${r.markedBlobs} blobs (${formatBytes(r.markedBytes)})`,
    `${verb}: ${r.blobsDeleted} blobs (${formatBytes(r.bytesDeleted)}), ${r.manifestsDeleted} untagged manifests, ${r.layerLinksDeleted} layer links, ${r.revisionLinksDeleted} revision links, ${r.bridgeRecordsDeleted + r.cacheEntriesDeleted} derived records`,
    `kept: ${r.keptYoung} blobs inside the grace period, ${r.keptTouched} touched by a push during the run; ${r.restored} restored; ${r.unreadableManifests} unreadable manifests (${r.durationMs} ms)`,
  ];
}

export async function garbageCollectCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: Output): Promise<number> {
  const parsed = parseArgs(args, { '-d': 'dry-run', '-m': 'delete-untagged' });
  const unknown = [...parsed.flags].filter((f) => f !== 'dry-run' && f !== 'delete-untagged');
  const configPath = parsed.positional[0];
  if (configPath === undefined || parsed.positional.length > 1 || unknown.length > 0) {
    io.err(`usage: ${GC_USAGE}`);
    return 2;
  }
  try {
    const { config, driver } = await openStore(configPath, env);
    const graceText = parsed.values.get('grace-period');
    const grace = graceText === undefined ? config.berth.gc.gracePeriodMs : parseDuration(graceText);
    if (grace === undefined) {
      io.err(`failed to garbage collect: --grace-period: not a duration: ${graceText ?? ''}`);
      return 2;
    }
    const dryRun = parsed.flags.has('dry-run');
    const delay = Number(env['BERTH_GC_TEST_SWEEP_DELAY_MS'] ?? '0');
    const report = await garbageCollect(driver, {
      dryRun,
      deleteUntagged: parsed.flags.has('delete-untagged'),
      gracePeriodMs: grace,
      ...(Number.isFinite(delay) && delay > 0 ? { sweepDelayMs: delay } : {}),
      onEvent: (e) => {
        const line = eventLine(e, dryRun);
        if (line !== undefined) io.out(line);
      },
      onProgress: (p) =>
        io.status?.(`${p.phase}: ${p.repositories} repositories, ${p.manifests} manifests, ${p.blobsScanned} blobs scanned, ${formatBytes(p.bytesFreed)} freed`),
    });
    io.status?.('');
    io.out('');
    for (const line of summary(report)) io.out(line);
    return 0;
  } catch (error) {
    const message = error instanceof LeaseBusyError || error instanceof Error ? error.message : String(error);
    io.err(`failed to garbage collect: ${message}`);
    return 1;
  }
}
