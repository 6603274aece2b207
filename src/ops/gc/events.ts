/**
 * What a garbage collection reports while it runs: one event per thing deleted (or eligible, in a
 * dry run) and progress counters for a terminal display.
 */
export type GcEvent =
  | { readonly kind: 'blob'; readonly digest: string; readonly size: number }
  | { readonly kind: 'manifest'; readonly repository: string; readonly digest: string }
  | { readonly kind: 'layer-link'; readonly repository: string; readonly digest: string }
  | { readonly kind: 'revision-link'; readonly repository: string; readonly digest: string }
  | { readonly kind: 'restored'; readonly digest: string };

export interface GcProgress {
  readonly phase: 'mark' | 'sweep' | 'links' | 'done';
  readonly repositories: number;
  readonly manifests: number;
  readonly blobsScanned: number;
  readonly bytesFreed: number;
}

export interface GcCounters {
  repositories: number;
  manifests: number;
  blobsScanned: number;
  blobsDeleted: number;
  bytesDeleted: number;
  manifestsDeleted: number;
  layerLinksDeleted: number;
  revisionLinksDeleted: number;
  bridgeRecordsDeleted: number;
  cacheEntriesDeleted: number;
  keptYoung: number;
  keptTouched: number;
  restored: number;
  staleMarkers: number;
  unreadableManifests: number;
}

export function newCounters(): GcCounters {
  return {
    repositories: 0,
    manifests: 0,
    blobsScanned: 0,
    blobsDeleted: 0,
    bytesDeleted: 0,
    manifestsDeleted: 0,
    layerLinksDeleted: 0,
    revisionLinksDeleted: 0,
    bridgeRecordsDeleted: 0,
    cacheEntriesDeleted: 0,
    keptYoung: 0,
    keptTouched: 0,
    restored: 0,
    staleMarkers: 0,
    unreadableManifests: 0,
  };
}
