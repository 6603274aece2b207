/**
 * bench/lib/warm-args.ts — command-line options of bench/warm.ts (see WARM_USAGE).
 */
import { applyCommonOption, optionTokens, positiveInt, positiveNumber } from './cli-options.js';
export const WARM_WORKLOADS = ['push', 'chunked', 'pull', 'manifest', 'head', 'close'] as const;
export type WarmWorkload = (typeof WARM_WORKLOADS)[number];

export interface WarmOptions {
  rounds: number;
  sizeMiB: number;
  chunkMiB: number;
  durationS: number;
  warmupS: number;
  connections: number;
  threads: number;
  only: WarmWorkload[];
  berthCmd: string;
  refCmd: string;
  /** Appended to Berth's command as `--workers N` when set. */
  berthWorkers: number | undefined;
  /** Run only Berth (no reference): for the workers comparison. */
  noRef: boolean;
  /** Clients (this process, curl, wrk, hey) on CPU 0, servers on CPU 1 (taskset). */
  pin: boolean;
  gcCheck: boolean;
  logLevel: string;
  keep: boolean;
  out: string;
  tmpRoot: string | undefined;
  help: boolean;
}

export const WARM_USAGE = `usage: node dist/bench/warm.js [options]   (or: npm run bench:warm -- [options])

Warm, interleaved: ONE server process per registry (Berth, the reference) for the whole run on
fresh storage, never restarted; every round runs the workloads in the same order, each on Berth
then on the reference; medians over rounds. The machine's disk (dd conv=fdatasync) and sha256
limits are measured every round and printed beside the push rates.

  --rounds N          rounds (default 3)
  --size MiB          blob size for pushes and the pull (default 512)
  --chunk MiB         PATCH size of the chunked push (default 5)
  --duration S        seconds per wrk/hey measurement (default 10)
  --warmup S          wrk warm-up seconds, discarded (default 2; 0 = none)
  --connections N     wrk/hey connections (default 50)
  --threads N         wrk threads (default 2)
  --only LIST         comma list of: ${WARM_WORKLOADS.join(', ')} (default: all)
                      (close = manifest GET with Connection: close, one connection per request)
  --berth-cmd CMD     Berth's command, {config} = config path (default: node <repo>/dist/src/cli/main.js serve {config})
  --ref-cmd CMD       the reference's command (default: docker-registry serve {config})
  --berth-workers N   start Berth with --workers N
  --no-ref            measure Berth only
  --pin               taskset: this process and its clients on CPU 0, the servers on CPU 1
  --no-gc-check       skip the GC regression check (a --trace-gc Berth: pulls before/after a chunked push)
  --log-level L       log.level of both servers (default warn)
  --keep              keep the temp dir (blobs, configs, server logs)
  --tmpdir DIR        parent of the temp dir (default: the OS temp dir; the disk limit is measured there)
  --out FILE          JSON results (default <repo>/bench/results/warm.json)
  --help
`;


export function parseWarmArgs(argv: readonly string[], defaults: { berthCmd: string; out: string }): WarmOptions {
  const o: WarmOptions = {
    rounds: 3,
    sizeMiB: 512,
    chunkMiB: 5,
    durationS: 10,
    warmupS: 2,
    connections: 50,
    threads: 2,
    only: [...WARM_WORKLOADS],
    berthCmd: process.env['BERTH_CMD'] ?? defaults.berthCmd,
    refCmd: process.env['REF_CMD'] ?? 'docker-registry serve {config}',
    berthWorkers: undefined,
    noRef: false,
    pin: false,
    gcCheck: true,
    logLevel: 'warn',
    keep: false,
    out: defaults.out,
    tmpRoot: undefined,
    help: false,
  };
  for (const token of optionTokens(argv)) {
    if (applyCommonOption(o, token, defaults.out)) continue;
    const { flag, raw: a, value } = token;
    switch (flag) {
      case '--size': o.sizeMiB = positiveNumber(flag, value()); break;
      case '--chunk': o.chunkMiB = positiveNumber(flag, value()); break;
      case '--only': {
        const names = (value() ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
        for (const n of names) if (!(WARM_WORKLOADS as readonly string[]).includes(n)) throw new Error(`--only: unknown workload "${n}" (know: ${WARM_WORKLOADS.join(', ')})`);
        if (names.length === 0) throw new Error('--only needs at least one workload');
        o.only = WARM_WORKLOADS.filter((w) => names.includes(w));
        break;
      }
      case '--berth-workers': o.berthWorkers = positiveInt(flag, value()); break;
      case '--no-ref': o.noRef = true; break;
      case '--pin': o.pin = true; break;
      case '--no-gc-check': o.gcCheck = false; break;
      default: throw new Error(`unknown option: ${a}\n\n${WARM_USAGE}`);
    }
  }
  if (o.berthCmd.trim() === '' || o.refCmd.trim() === '') throw new Error('--berth-cmd/--ref-cmd must not be empty');
  return o;
}
