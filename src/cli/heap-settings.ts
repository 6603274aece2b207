/**
 * V8 heap settings applied inside the process, so that they hold however Berth is started
 * (`node dist/src/cli/main.js`, the `berth` bin, `npm start`, the Docker image, a cluster worker)
 * and not only when a launcher passes V8 flags. `main.ts` applies them before the server's modules
 * load. Measured with `--trace-gc`, `--trace-incremental-marking` and /proc (issue 10):
 *
 * - Young generation at most {@link YOUNG_SEMI_SPACE_MIB} MiB per semi-space. V8 doubles it
 *   whenever enough objects survived scavenges since the last growth, up to 16 MiB per semi-space
 *   by default, and `--max-semi-space-size` is only read at start-up. Here a GC observer sets
 *   `--semi-space-growth-factor=1` (read by V8 at each growth) once the young generation has
 *   reached the cap, and back to 2 if V8 shrank it below the cap.
 * - After a full GC the old generation may grow by {@link HEAP_GROWING_PERCENT} % of the live heap
 *   (`--heap-growing-percent`, read at each GC) instead of V8's speed-based factor: that is about
 *   3–4× right after start-up (under 50 concurrent manifest GETs garbage then piles up to 50+ MiB
 *   of old space: peak RSS 138–153 MiB) and 1.1× after a GC in a quiet phase.
 * - Upload bodies are counted ({@link HeapSettings.onBufferBytes}) and a young GC runs every
 *   {@link SCAVENGE_EVERY_BYTES}. This is what the chunked path left behind in issue 10: request
 *   bodies arrive as fresh 64 KiB buffers, external memory that only a scavenge frees, and V8
 *   counts external memory allocated since the last Mark-Compact against the old generation's
 *   slack. A Mark-Compact during a push (slack then recomputed at the 1.1× minimum: limit = live
 *   + 8 MiB + young generation, e.g. 13 → 37 MB) left so little room that incremental marking
 *   restarted after every Mark-Compact for as long as anything allocated external memory; every
 *   pull (fresh 1 MiB read buffers) then ran 7–19 Mark-Compacts at 1.0–1.4 CPU s/GiB instead of
 *   none at 0.4, and stayed so. Pulls now allocate nothing (pooled reads, `send-stream.ts`), and
 *   paced scavenges keep the upload garbage small: chunked push 13–17 → 0–1 Mark-Compacts per
 *   256 MiB, peak RSS during it 110–124 → 86–92 MiB. Whole bench sequence: peak ~102 MiB.
 *   Blobs streamed through node's HTTP client (object stores over https, short reads, fallbacks of
 *   the drivers' pooled GETs in `storage-drivers/pooled-get/`) arrive as fresh buffers per chunk,
 *   so their bytes are counted too: before object-store pulls were pooled, a 256 MiB pull
 *   from Swift (either driver) ran 10–17 Mark-Compacts (s3: 2.8 CPU s/GiB, 220–260 MiB/s). With
 *   a scavenge every 8 MiB of sent body still 7–13 (garbage plus the 4 MiB send queue reached the
 *   ~11 MiB of external memory V8 lets through before it starts marking); every 4 MiB (now for
 *   uploads too): 0 after the first pull, 305–335 MiB/s.
 *
 * `v8.setFlagsFromString` after start-up only works for flags V8 reads again at run time; the
 * growth flags are, and `--expose-gc` is read when a context is created, so `gc` is taken from a
 * fresh `vm` context and never exposed globally.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Cap of one young-generation semi-space, in MiB. */
export const YOUNG_SEMI_SPACE_MIB = 4;
/** Old-generation growth after a full GC, in percent of the live heap. */
export const HEAP_GROWING_PERCENT = 60;

const MiB = 1024 * 1024;

/** Fresh body bytes (uploads, sent blobs) between two paced scavenges. */
export const SCAVENGE_EVERY_BYTES = 4 * 1024 * 1024;

export interface HeapSettings {
  /**
   * Count body bytes that arrive in fresh buffers here (upload bodies, blobs streamed from an
   * object store): every {@link SCAVENGE_EVERY_BYTES} a young-generation GC runs (well under a
   * millisecond with a 4 MiB semi-space). Left to V8, a scavenge comes only after ~30 MiB of body
   * buffers, all garbage by then.
   */
  readonly onBufferBytes: (bytes: number) => void;
  /** Stops the GC observer (tests). */
  stop(): void;
}

type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => unknown;

/** V8's gc() without exposing it globally: the flag makes new contexts carry it. */
function youngGc(): (() => void) | undefined {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
  setFlagsFromString('--no-expose-gc');
  if (typeof gc !== 'function') return undefined;
  const collect = gc as GcFunction;
  return () => {
    collect({ type: 'minor' });
  };
}

/** Size of the young generation (both semi-spaces), in bytes. */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

export function applyHeapSettings(semiSpaceMiB = YOUNG_SEMI_SPACE_MIB, growingPercent = HEAP_GROWING_PERCENT): HeapSettings {
  setFlagsFromString(`--heap-growing-percent=${growingPercent}`);
  const cap = 2 * semiSpaceMiB * MiB;
  let factor = 0;
  const check = (): void => {
    // The largest factor whose next growth stays within the cap (1: no growth). GC entries reach
    // this observer asynchronously, so a plain 2 could grow past the cap before it runs.
    const young = youngGenerationBytes();
    const next = young >= cap ? 1 : Math.max(1, Math.floor(cap / Math.max(1, young)));
    if (next !== factor) {
      setFlagsFromString(`--semi-space-growth-factor=${next}`);
      factor = next;
    }
  };
  check();
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  const scavenge = youngGc();
  let sinceScavenge = 0;
  const onBufferBytes = (bytes: number): void => {
    sinceScavenge += bytes;
    if (sinceScavenge < SCAVENGE_EVERY_BYTES || scavenge === undefined) return;
    sinceScavenge = 0;
    scavenge();
  };
  return { onBufferBytes, stop: () => observer.disconnect() };
}
