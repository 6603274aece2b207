/**
 * bench/lib/cli-options.ts — the command-line plumbing every benchmark entry shares: walking
 * `argv` as `--flag value` or `--flag=value` tokens, and the positive-number checks of option
 * values. Each entry's own parser (args.ts, warm-args.ts, auth/args.ts, objectstore/args.ts)
 * keeps only its flags.
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
