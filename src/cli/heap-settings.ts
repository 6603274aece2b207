/**
 * V8 heap settings applied inside the process, so that they hold however Berth is started
 * (`node dist/src/cli/main.js`, the `berth` bin, `npm start`, the Docker image, a cluster worker)
 * and not only when a launcher passes V8 flags. `main.ts` applies them before the server's modules
 * load. Two settings bound the heap (and so the peak RSS):
 *
 * - Young generation at most {@link YOUNG_SEMI_SPACE_MIB} MiB per semi-space. V8 doubles the
 *   young generation whenever enough objects survived scavenges since the last growth, up to
 *   16 MiB per semi-space by default, and `--max-semi-space-size` is only read at start-up. Here a
 *   GC observer sets `--semi-space-growth-factor=1` (read by V8 at each growth) once the young
 *   generation has reached the cap, and back to 2 if V8 shrank it below the cap.
 * - After a full GC the old generation may grow by {@link HEAP_GROWING_PERCENT} % of the live heap
 *   (`--heap-growing-percent`, read at each GC) instead of V8's speed-based factor, which is about
 *   3–4× right after start-up (garbage promoted under load then piles up to 50+ MiB: peak RSS 138–
 *   153 MiB under 50 concurrent manifest GETs) and 1.1× after a GC in a quiet phase. The latter is
 *   what made pulls slow after a chunked push (issue 10): the limit then sits only 8 MiB plus one
 *   young generation above the live heap, and V8 counts external memory allocated since the last
 *   Mark-Compact (request-body and read buffers) against that slack, so incremental marking
 *   restarted right after every Mark-Compact (`--trace-incremental-marking`: "Start (allocation
 *   limit) 13MB / 37MB"). 200 % keeps enough slack for upload buffers between scavenges (chunked
 *   push: 13–17 Mark-Compacts per 256 MiB at 50 %, 6–8 at 200 %) while peak RSS stays ~117 MiB
 *   under the same manifest load.
 *
 * `v8.setFlagsFromString` after start-up only works for flags V8 reads again at run time; both of
 * these are (verified with `--trace-gc` and the heap space statistics).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** Cap of one young-generation semi-space, in MiB. */
export const YOUNG_SEMI_SPACE_MIB = 4;
/** Old-generation growth after a full GC, in percent of the live heap. */
export const HEAP_GROWING_PERCENT = 200;

const MiB = 1024 * 1024;

export interface HeapSettings {
  /** Stops the GC observer (tests). */
  stop(): void;
}

/** Size of the young generation (both semi-spaces), in bytes. */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

export function applyHeapSettings(semiSpaceMiB = YOUNG_SEMI_SPACE_MIB, growingPercent = HEAP_GROWING_PERCENT): HeapSettings {
  setFlagsFromString(`--heap-growing-percent=${growingPercent}`);
  const cap = 2 * semiSpaceMiB * MiB;
  let frozen = false;
  const check = (): void => {
    const young = youngGenerationBytes();
    if (!frozen && young >= cap) {
      setFlagsFromString('--semi-space-growth-factor=1');
      frozen = true;
    } else if (frozen && young < cap) {
      setFlagsFromString('--semi-space-growth-factor=2');
      frozen = false;
    }
  };
  check();
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  return { stop: () => observer.disconnect() };
}
