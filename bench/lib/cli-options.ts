/**
 * bench/lib/cli-options.ts — the command-line plumbing every benchmark entry shares: walking
 * `argv` as `--flag value` or `--flag=value` tokens, the positive-number checks of option values,
 * and the flags they all have (`applyCommonOption`). Each entry's own parser (args.ts,
 * warm-args.ts, auth/args.ts, objectstore/args.ts) keeps only its own flags.
 */

export interface OptionToken {
  /** The flag (`--rounds`), without an inline `=value`. */
  readonly flag: string;
  /** The argument as given (for error messages). */
  readonly raw: string;
  /** The option's value: the inline `=value`, else the next argument (consumed). */
  value(): string | undefined;
}

export function* optionTokens(argv: readonly string[]): Generator<OptionToken> {
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] ?? '';
    const eq = raw.indexOf('=');
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    yield {
      flag: inline !== undefined ? raw.slice(0, eq) : raw,
      raw,
      value: () => inline ?? argv[++i],
    };
  }
}

export function positiveNumber(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number, got ${String(v)}`);
  return n;
}

export function positiveInt(flag: string, v: string | undefined): number {
  const n = positiveNumber(flag, v);
  if (!Number.isInteger(n)) throw new Error(`${flag} needs an integer, got ${String(v)}`);
  return n;
}

/** Warm-up seconds: `0` turns the warm-up off, else a positive integer. */
export function warmupSeconds(flag: string, v: string | undefined): number {
  return v === '0' ? 0 : positiveInt(flag, v);
}

/** The options every benchmark entry has (each entry's options extend these). */
export interface CommonBenchOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  threads: number;
  berthCmd: string;
  refCmd: string;
  logLevel: string;
  keep: boolean;
  out: string;
  tmpRoot: string | undefined;
  help: boolean;
}

/**
 * Applies `token` when it is one of the shared flags (`--rounds`, `--duration`, `--warmup`,
 * `--connections`, `--threads`, `--berth-cmd`, `--ref-cmd`, `--log-level`, `--keep`, `--tmpdir`,
 * `--out`, `--help`); false when it is not, for the entry's own flags.
 */
export function applyCommonOption(o: CommonBenchOptions, token: OptionToken, defaultOut: string): boolean {
  const { flag, value } = token;
  switch (flag) {
    case '--rounds': o.rounds = positiveInt(flag, value()); return true;
    case '--duration': o.durationS = positiveInt(flag, value()); return true;
    case '--warmup': o.warmupS = warmupSeconds(flag, value()); return true;
    case '--connections': o.connections = positiveInt(flag, value()); return true;
    case '--threads': o.threads = positiveInt(flag, value()); return true;
    case '--berth-cmd': o.berthCmd = value() ?? ''; return true;
    case '--ref-cmd': o.refCmd = value() ?? ''; return true;
    case '--log-level': o.logLevel = value() ?? 'warn'; return true;
    case '--keep': o.keep = true; return true;
    case '--tmpdir': o.tmpRoot = value(); return true;
    case '--out': o.out = value() ?? defaultOut; return true;
    case '--help': case '-h': o.help = true; return true;
    default: return false;
  }
}

/** `--max-other-cpu PCT` as a share (0 = never re-measure). */
export function otherCpuShare(flag: string, v: string | undefined): number {
  return v === '0' ? 0 : positiveNumber(flag, v) / 100;
}
