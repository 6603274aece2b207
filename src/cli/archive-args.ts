/**
 * Argument parsing shared by `berth import` and `berth export`: options that take a value
 * (`--tag X`, `--tag=X`, `-o X`), repeatable; flags; positionals; `-` is a positional (stdin or
 * stdout). Unknown options are reported, never guessed.
 */

export interface ArchiveArgs {
  readonly values: ReadonlyMap<string, readonly string[]>;
  readonly flags: ReadonlySet<string>;
  readonly positional: readonly string[];
  readonly problems: readonly string[];
}

/** `valued` and `flags` map every accepted spelling (`-o`, `--output`) to one key. */
export function parseArchiveArgs(
  args: readonly string[],
  valued: Readonly<Record<string, string>>,
  flagNames: Readonly<Record<string, string>>,
): ArchiveArgs {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  const positional: string[] = [];
  const problems: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '-' || !arg.startsWith('-')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const key = valued[name];
    if (key !== undefined) {
      const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
      if (value === undefined) problems.push(`${name} needs a value`);
      else values.set(key, [...(values.get(key) ?? []), value]);
      continue;
    }
    const flag = flagNames[arg];
    if (flag !== undefined) flags.add(flag);
    else problems.push(`unknown option ${arg}`);
  }
  return { values, flags, positional, problems };
}
