/**
 * bench/lib/args.ts — command-line options of bench/run.ts (see USAGE).
 * BERTH_CMD / REF_CMD environment variables provide the default commands
 * when the corresponding flag is absent.
 */
import { applyCommonOption, optionTokens, otherCpuShare, positiveInt, positiveNumber } from './cli-options.js';
import { WORKLOAD_NAMES, type WorkloadName } from './workloads.js';

export interface Options {
  rounds: number;
  durationS: number;
  warmupS: number;
  sizeMiB: number;
  chunkMiB: number;
  connections: number;
  threads: number;
  only: WorkloadName[];
  berthCmd: string;
  refCmd: string;
  berthLabel: string;
  refLabel: string;
  aVsA: boolean;
  refCache: boolean;
  /** Re-measure a sample (up to 2 more times) when other processes used more than this share of the CPU; 0 = off. */
  maxOtherCpu: number;
  logLevel: string;
  calibrate: boolean;
  keep: boolean;
  out: string;
  tmpRoot: string | undefined;
  help: boolean;
}

export const USAGE = `usage: node dist/bench/run.js [options]   (or: npm run bench -- [options])

  --rounds N          interleaved rounds per workload (default 3; median reported)
  --duration S        wrk measurement seconds per run (default 10)
  --warmup S          wrk warm-up seconds before each measurement, discarded (default 2; 0 = none)
  --size MiB          size of the random blob (default 512)
  --chunk MiB         PATCH chunk size for the chunked push (default 5)
  --connections N     wrk connections (default 50)
  --threads N         wrk threads (default 2)
  --only LIST         comma list of: ${WORKLOAD_NAMES.join(', ')} (default: all; peak RSS is
                      always reported over whatever ran)
  --berth-cmd CMD     command that serves Berth; {config} is replaced by the config
                      path (appended if absent). Default: node <repo>/dist/src/cli/main.js serve {config}
  --ref-cmd CMD       reference command (default: docker-registry serve {config})
  --a-vs-a            run the reference in both slots ("ref A" vs "ref B") to show the noise
  --ref-cache         give the reference storage.cache.blobdescriptor: inmemory (off by default)
  --max-other-cpu PCT re-run a measurement (at most twice more, keeping the quietest try) when
                      unrelated processes used more than PCT% of the machine's CPU during it
                      (default 25; 0 = never; retries stop after 180 s in total)
  --log-level L       log.level written to both configs (default warn)
  --no-calibrate      skip measuring the client's ceiling against a no-op server
  --keep              keep the temp dir (blob, configs, server logs) for debugging
  --tmpdir DIR        parent of the temp dir (default: the OS temp dir)
  --out FILE          JSON results (default <repo>/bench/results/latest.json)
  --help
`;



const ALIASES: Record<string, WorkloadName> = {
  push: 'push',
  monolithic: 'push',
  chunked: 'chunked',
  'chunked-push': 'chunked',
  pull: 'pull',
  manifest: 'manifest',
  'manifest-get': 'manifest',
  head: 'head',
  'blob-head': 'head',
};

export function parseArgs(argv: readonly string[], defaults: { berthCmd: string; out: string }): Options {
  const o: Options = {
    rounds: 3,
    durationS: 10,
    warmupS: 2,
    sizeMiB: 512,
    chunkMiB: 5,
    connections: 50,
    threads: 2,
    only: [...WORKLOAD_NAMES],
    berthCmd: process.env['BERTH_CMD'] ?? defaults.berthCmd,
    refCmd: process.env['REF_CMD'] ?? 'docker-registry serve {config}',
    berthLabel: 'Berth',
    refLabel: 'reference',
    aVsA: false,
    refCache: false,
    maxOtherCpu: 0.25,
    logLevel: 'warn',
    calibrate: true,
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
        const picked = names.map((n) => {
          const w = ALIASES[n];
          if (w === undefined) throw new Error(`--only: unknown workload "${n}" (know: ${WORKLOAD_NAMES.join(', ')})`);
          return w;
        });
        if (picked.length === 0) throw new Error('--only needs at least one workload');
        o.only = WORKLOAD_NAMES.filter((w) => picked.includes(w));
        break;
      }
      case '--a-vs-a': o.aVsA = true; break;
      case '--ref-cache': o.refCache = true; break;
      case '--max-other-cpu': o.maxOtherCpu = otherCpuShare(flag, value()); break;
      case '--no-calibrate': o.calibrate = false; break;
      default: throw new Error(`unknown option: ${a}\n\n${USAGE}`);
    }
  }
  if (o.berthCmd.trim() === '' || o.refCmd.trim() === '') throw new Error('--berth-cmd/--ref-cmd must not be empty');
  if (o.aVsA) {
    o.berthCmd = o.refCmd;
    o.berthLabel = 'ref A';
    o.refLabel = 'ref B';
  }
  return o;
}
