/**
 * bench/lib/auth/args.ts — command-line options of bench/auth.ts (the authenticated manifest GET
 * benchmark) and its --help text. BERTH_CMD / REF_CMD provide the default server commands when the
 * flags are absent, as for bench/run.ts.
 */
import { applyCommonOption, optionTokens, positiveInt } from '../cli-options.js';

export interface AuthOptions {
  durationS: number;
  warmupS: number;
  connections: number;
  threads: number;
  rounds: number;
  /** Requests of each wrong-password loop. */
  wrongRequests: number;
  /** bcrypt cost of the htpasswd entry (htpasswd -B's default is 10). */
  bcryptCost: number;
  berthCmd: string;
  refCmd: string;
  logLevel: string;
  calibrate: boolean;
  keep: boolean;
  out: string;
  tmpRoot: string | undefined;
  help: boolean;
}

export const AUTH_USAGE = `usage: node dist/bench/auth.js [options]

Authenticated manifest GET: Berth without auth, with htpasswd (Basic on every request) and with
its token server (Bearer), against the reference (docker-registry, distribution 2.8.2) without
auth, with htpasswd and with a hand-signed token; then wrong-password loops (bcrypt cost, 429s).

  --duration S        wrk measurement seconds per configuration (default 10)
  --warmup S          wrk warm-up seconds before each measurement, discarded (default 2; 0 = none)
  --connections N     wrk connections (default 50)
  --threads N         wrk threads (default 2)
  --rounds N          rounds over the six configurations, order reversed every other round;
                      medians are reported (default 1)
  --wrong N           requests per wrong-password loop (default 20)
  --cost N            bcrypt cost of the htpasswd entry (default 10, as htpasswd -B)
  --berth-cmd CMD     command that serves Berth; {config} is replaced by the config path
                      (default: node --max-semi-space-size=8 <repo>/dist/src/cli/main.js serve {config})
  --ref-cmd CMD       reference command (default: docker-registry serve {config})
  --log-level L       log.level in every config (default warn)
  --no-calibrate      skip the client ceiling (wrk against a no-op server)
  --keep              keep the temp dir (keys, token, htpasswd, configs, server logs)
  --tmpdir DIR        parent of the temp dir (default: the OS temp dir)
  --out FILE          JSON results (default <repo>/bench/results/auth.json)
  --help
`;


export function parseAuthArgs(argv: readonly string[], defaults: { berthCmd: string; out: string }): AuthOptions {
  const o: AuthOptions = {
    durationS: 10,
    warmupS: 2,
    connections: 50,
    threads: 2,
    rounds: 1,
    wrongRequests: 20,
    bcryptCost: 10,
    berthCmd: process.env['BERTH_CMD'] ?? defaults.berthCmd,
    refCmd: process.env['REF_CMD'] ?? 'docker-registry serve {config}',
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
      case '--wrong': o.wrongRequests = positiveInt(flag, value()); break;
      case '--cost': {
        o.bcryptCost = positiveInt(flag, value());
        if (o.bcryptCost < 4 || o.bcryptCost > 15) throw new Error('--cost must be 4..15');
        break;
      }
      case '--no-calibrate': o.calibrate = false; break;
      default: throw new Error(`unknown option: ${a}\n\n${AUTH_USAGE}`);
    }
  }
  if (o.berthCmd.trim() === '' || o.refCmd.trim() === '') throw new Error('--berth-cmd/--ref-cmd must not be empty');
  return o;
}
