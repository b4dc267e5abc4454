/**
 * @module A small command-line parser: `--name value`, `--name=value`, repeatable flags and booleans; unknown
 * flags are errors that name the flag.
 */

export interface FlagSpec {
  readonly values?: readonly string[];
  readonly repeatable?: readonly string[];
  readonly booleans?: readonly string[];
}

export interface ParsedFlags {
  readonly values: Record<string, string>;
  readonly lists: Record<string, string[]>;
  readonly booleans: Set<string>;
  readonly positionals: string[];
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseFlags(argv: readonly string[], spec: FlagSpec): ParsedFlags {
  const out: ParsedFlags = { values: {}, lists: {}, booleans: new Set(), positionals: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (spec.booleans?.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out.booleans.add(name);
      continue;
    }
    const takesValue = spec.values?.includes(name) || spec.repeatable?.includes(name);
    if (!takesValue) throw new UsageError(`unknown option --${name}`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    if (spec.repeatable?.includes(name)) (out.lists[name] ??= []).push(value);
    else if (name in out.values) throw new UsageError(`--${name} given twice`);
    else out.values[name] = value;
  }
  return out;
}

export function intFlag(flags: ParsedFlags, name: string, fallback: number): number {
  const raw = flags.values[name];
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} "${raw}": must be a whole number`);
  return Number(raw);
}
