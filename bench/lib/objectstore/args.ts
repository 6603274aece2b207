/**
 * bench/lib/objectstore/args.ts — command-line options of bench/objectstore.ts (see USAGE).
 * BERTH_CMD / REF_CMD provide the default commands when the flags are absent, as for bench/run.ts.
 */
import { applyCommonOption, optionTokens, otherCpuShare, positiveNumber } from '../cli-options.js';

export const BACKENDS = ['s3', 'swift'] as const;
export type Backend = (typeof BACKENDS)[number];

export const OBJECTSTORE_WORKLOADS = ['push', 'chunked', 'pull', 'manifest'] as const;
export type ObjectStoreWorkload = (typeof OBJECTSTORE_WORKLOADS)[number];

export interface ObjectStoreOptions {
  rounds: number;
  sizeMiB: number;
  chunkMiB: number;
  durationS: number;
  warmupS: number;
  connections: number;
  threads: number;
  backends: Backend[];
  only: ObjectStoreWorkload[];
  berthCmd: string;
  refCmd: string;
  /** Re-measure a sample when unrelated processes (not Swift) used more than this share; 0 = off. */
  maxOtherCpu: number;
  logLevel: string;
  /** An env file of a Swift already running (from 30-swift.sh); it is then not stopped. */
  swiftEnv: string | undefined;
  backendCeiling: boolean;
  /** A fresh server per sample instead of one warm server per registry and backend. */
  fresh: boolean;
  keep: boolean;
  out: string;
  tmpRoot: string | undefined;
  help: boolean;
}

export const OBJECTSTORE_USAGE = `usage: node dist/bench/objectstore.js [options]

Berth vs the reference registry (docker-registry, distribution 2.8.2) on a loopback OpenStack
Swift, through the s3 driver (Swift's s3api) and the swift driver. Starts its own Swift with
test/setup/30-swift.sh (and stops it at the end) unless --swift-env is given.

  --rounds N          interleaved rounds per workload and backend (default 3; medians reported)
  --size MiB          blob size for push and pull (default 256)
  --chunk MiB         PATCH size of the chunked push (default 5)
  --duration S        wrk measurement seconds (default 10)
  --warmup S          wrk warm-up seconds, discarded (default 2; 0 = none)
  --connections N     wrk connections (default 50)
  --threads N         wrk threads (default 2)
  --backends LIST     comma list of: ${BACKENDS.join(', ')} (default: both)
  --only LIST         comma list of: ${OBJECTSTORE_WORKLOADS.join(', ')} (default: all)
  --berth-cmd CMD     Berth's command; {config} is replaced by the config path (appended if
                      absent). Default: node <repo>/dist/src/cli/main.js serve {config}
  --ref-cmd CMD       reference command (default: docker-registry serve {config})
  --max-other-cpu PCT re-run a sample (at most twice more, keeping the quietest try; at most
                      240 s of retries per run) when processes other than the benchmark, its
                      clients, the server under test and Swift used more than PCT% of the CPU
                      (default 25; 0 = never)
  --log-level L       log.level of both servers (default warn)
  --swift-env FILE    use the Swift whose exports 30-swift.sh wrote to FILE (not stopped)
  --no-backend-ceiling  skip the direct curl PUT/GET of the blob to Swift
  --fresh             a fresh server on a fresh prefix for every sample (default: one warm
                      server per registry and backend for the whole run, warmed by one untimed
                      push and pull, as users run a registry)
  --keep              keep the temp dir (configs, server logs)
  --tmpdir DIR        parent of the temp dir (default: the OS temp dir)
  --out FILE          JSON results (default <repo>/bench/results/objectstore.json)
  --help
`;



function pickList<T extends string>(flag: string, value: string | undefined, known: readonly T[]): T[] {
  const names = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of names) {
    if (!known.includes(n as T)) throw new Error(`${flag}: unknown "${n}" (know: ${known.join(', ')})`);
  }
  const picked = known.filter((k) => names.includes(k));
  if (picked.length === 0) throw new Error(`${flag} needs at least one of ${known.join(', ')}`);
  return picked;
}

export function parseObjectStoreArgs(argv: readonly string[], defaults: { berthCmd: string; out: string }): ObjectStoreOptions {
  const o: ObjectStoreOptions = {
    rounds: 3,
    sizeMiB: 256,
    chunkMiB: 5,
    durationS: 10,
    warmupS: 2,
    connections: 50,
    threads: 2,
    backends: [...BACKENDS],
    only: [...OBJECTSTORE_WORKLOADS],
    berthCmd: process.env['BERTH_CMD'] ?? defaults.berthCmd,
    refCmd: process.env['REF_CMD'] ?? 'docker-registry serve {config}',
    maxOtherCpu: 0.25,
    logLevel: 'warn',
    swiftEnv: undefined,
    backendCeiling: true,
    fresh: false,
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
      case '--backends': o.backends = pickList(flag, value(), BACKENDS); break;
      case '--only': o.only = pickList(flag, value(), OBJECTSTORE_WORKLOADS); break;
      case '--max-other-cpu': o.maxOtherCpu = otherCpuShare(flag, value()); break;
      case '--swift-env': o.swiftEnv = value(); break;
      case '--no-backend-ceiling': o.backendCeiling = false; break;
      case '--fresh': o.fresh = true; break;
      default: throw new Error(`unknown option: ${a}\n\n${OBJECTSTORE_USAGE}`);
    }
  }
  if (o.berthCmd.trim() === '' || o.refCmd.trim() === '') throw new Error('--berth-cmd/--ref-cmd must not be empty');
  return o;
}
