/**
 * One declarative format for command-line flags. A flag group is a record of flag specs (name → type,
 * description, default, choices, constraints, group heading); from it come the yargs options (their help
 * text shows the default, generated from the spec) and the validator, which checks every flag with zod,
 * reports every problem at once (one ConfigError naming each bad flag, exit code 2) and returns typed,
 * frozen values with the defaults applied.
 *
 * Cross-flag rules (`--rate` needs `--duration`…) are added by the option modules to the same `Problems`.
 * Kept light (zod and the error types only): the CLI loads it to build `--help`.
 */
import type { Argv, Options } from 'yargs';
import { z } from 'zod';
import { ConfigError } from './errors.js';

export type FlagType = 'string' | 'number' | 'boolean';

/** One flag. `parse` turns the checked raw value into the typed one (throw an Error saying why it is bad). */
export interface Flag {
  readonly type: FlagType;
  readonly describe: string;
  /** The value when the flag is not given; shown in the help as `[default: …]`. */
  readonly default?: string | number | boolean;
  /** Help text for a default that is not a literal value ("$SPLITBENCH_API_KEY", "sim-<n>"); not applied. */
  readonly defaultText?: string;
  readonly choices?: readonly string[];
  readonly alias?: string;
  /** Repeatable: the value is a list. */
  readonly array?: boolean;
  /** true, or the message when it is missing. */
  readonly required?: boolean | string;
  readonly integer?: boolean;
  /** > 0 */
  readonly positive?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** A string flag's value must match this (with the words saying what was expected). */
  readonly pattern?: readonly [RegExp, string];
  readonly parse?: (value: never) => unknown;
  /** Help heading ("Trace:"); usually set for a whole group by `flagGroup`. */
  readonly group?: string;
  readonly hidden?: boolean;
  /** A string flag may be given as '' (e.g. `--api-key ''`: none). */
  readonly empty?: boolean;
  /** `--flag` alone (no value) is a usage error. */
  readonly requiresArg?: boolean;
}

export type Flags = Readonly<Record<string, Flag>>;

/** Gives every flag of a group the same help heading (a flag's own `group` wins). */
export function flagGroup<const G extends Flags>(heading: string | undefined, flags: G): G {
  if (heading === undefined) return flags;
  return Object.fromEntries(Object.entries(flags).map(([k, f]) => [k, { group: heading, ...f }])) as unknown as G;
}

/** The same flags with other defaults, descriptions or headings (a command's variant of a shared group). */
export function withFlags<const G extends Flags, const O extends { readonly [K in keyof G]?: Partial<Flag> }>(
  flags: G,
  over: O,
): { readonly [K in keyof G]: K extends keyof O ? Omit<G[K], keyof O[K]> & O[K] : G[K] } {
  const out: Record<string, Flag> = { ...flags };
  for (const [k, f] of Object.entries(over)) out[k] = { ...flags[k]!, ...(f as Partial<Flag>) };
  return out as never;
}

/** Some flags of a group (a command that takes only part of a shared group). */
export function pickFlags<const G extends Flags, const K extends keyof G>(flags: G, ...keys: readonly K[]): Pick<G, K> {
  return Object.fromEntries(keys.map((k) => [k, flags[k]])) as Pick<G, K>;
}

/** `--max-requests` → `maxRequests` (the key yargs hands the handler). */
export function camelKey(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;
type Scalar<F> = F extends { parse: (v: never) => infer R }
  ? R
  : F extends { choices: readonly (infer C)[] }
    ? C
    : F extends { type: 'number' }
      ? number
      : F extends { type: 'boolean' }
        ? boolean
        : string;
type Value<F> = F extends { array: true } ? readonly Scalar<F>[] : Scalar<F>;
type Always<F> = F extends { default: string | number | boolean } ? true : F extends { required: true | string } ? true : false;

/** The typed values of a flag group: camelCase keys; a flag without default or requirement may be undefined. */
export type FlagValues<G extends Flags> = {
  readonly [K in keyof G as Camel<K & string>]: Always<G[K]> extends true ? Value<G[K]> : Value<G[K]> | undefined;
};

/** The help text of the default: the spec's words, else the value itself. */
function defaultHelp(f: Flag): string | undefined {
  if (f.defaultText !== undefined) return f.defaultText;
  if (f.default === undefined || f.type === 'boolean') return f.default === true ? 'true' : undefined;
  return String(f.default);
}

/** The yargs options of a flag group. Defaults are applied by `parseFlags`, so a handler can tell "not given". */
export function yargsOptions(flags: Flags): Record<string, Options> {
  const out: Record<string, Options> = {};
  for (const [name, f] of Object.entries(flags)) {
    const d = defaultHelp(f);
    out[name] = {
      type: f.type,
      describe: f.describe,
      ...(d === undefined ? {} : { defaultDescription: d }),
      ...(f.choices ? { choices: [...f.choices] } : {}),
      ...(f.alias ? { alias: f.alias } : {}),
      ...(f.array ? { array: true } : {}),
      ...(f.required ? { demandOption: typeof f.required === 'string' ? f.required : true } : {}),
      ...(f.requiresArg ? { requiresArg: true } : {}),
      ...(f.group ? { group: f.group } : {}),
      ...(f.hidden ? { hidden: true } : {}),
    };
  }
  return out;
}

/** Declares the flags of one or more groups on a yargs builder. */
export function addFlags<T>(y: Argv<T>, ...groups: Flags[]): Argv<T> {
  let out = y;
  for (const g of groups) out = out.options(yargsOptions(g)) as Argv<T>;
  return out;
}

/** The problems found while checking one command's flags; each names its flag. */
export class Problems {
  private readonly entries: { readonly flag: string | undefined; readonly msg: string }[] = [];
  /** Every problem as one line, `--flag: why`. */
  get list(): readonly string[] {
    return this.entries.map((e) => (e.flag === undefined ? e.msg : `${e.flag}: ${e.msg}`));
  }
  add(flag: string, msg: string): void {
    this.entries.push({ flag, msg });
  }
  /** A problem already worded with its flag(s). */
  push(msg: string): void {
    this.entries.push({ flag: undefined, msg });
  }
  /** A problem of a positional: listed before the flags' (the order of the command line). */
  addFirst(what: string, msg: string): void {
    this.entries.unshift({ flag: what, msg });
  }
  /** Whether `flag` ('--procs') has a problem: it was given, with a bad value (its checked value is undefined). */
  flagged(flag: string): boolean {
    return this.entries.some((e) => e.flag === flag);
  }
  /** Runs `f`; an error it throws becomes a problem (a ConfigError keeps the flag it names). */
  try<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch (e) {
      if (e instanceof ConfigError && e.path !== undefined) this.add(e.path, e.message.slice(e.path.length + 2));
      else this.push((e as Error).message);
      return undefined;
    }
  }
  /** One ConfigError listing every problem (exit code 2; `path` is the flag when there is one problem), or nothing. */
  throwIfAny(command: string): void {
    const hint = `run \`splitbench ${command} --help\` for the flags`;
    const [first, ...rest] = this.entries;
    if (first === undefined) return;
    if (rest.length === 0) throw new ConfigError(first.msg, { hint, ...(first.flag === undefined ? {} : { path: first.flag }) });
    throw new ConfigError(`${this.entries.length} problems: ${this.list.join('; ')}`, { hint });
  }
}

const describeRange = (f: Flag): string | undefined => {
  if (f.min !== undefined && f.max !== undefined) return `in [${f.min}, ${f.max}]`;
  return undefined;
};

/** The zod check of one value of a flag (before `parse`). */
function schemaOf(f: Flag): z.ZodTypeAny {
  if (f.type === 'boolean') return z.boolean({ invalid_type_error: 'expected true or false' });
  if (f.type === 'string') {
    const s = z.string({ invalid_type_error: 'expected a value' }).superRefine((v, ctx) => {
      const bad = (message: string): void => void ctx.addIssue({ code: z.ZodIssueCode.custom, message });
      if (v.trim() === '' && !f.empty) return bad('expected a non-empty value');
      if (f.choices && !f.choices.includes(v)) return bad(`expected one of ${f.choices.join(', ')}, got '${v}'`);
      if (f.pattern && !f.pattern[0].test(v)) return bad(`expected ${f.pattern[1]}, got '${v}'`);
    });
    // yargs hands a number-looking value of a string flag over as given; a caller may pass a number.
    return z.preprocess((v) => (typeof v === 'number' ? String(v) : v), s);
  }
  const range = describeRange(f);
  const asNumber = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);
  return z
    .unknown()
    .superRefine((v, ctx) => {
      const bad = (message: string): void => void ctx.addIssue({ code: z.ZodIssueCode.custom, message });
      const n = asNumber(v);
      if (!Number.isFinite(n)) return bad(`expected a number, got '${String(v)}'`);
      const { min, max } = f;
      if (f.integer && min !== undefined && max !== undefined && !(Number.isInteger(n) && n >= min && n <= max)) {
        return bad(`must be an integer from ${min} to ${max}, got ${n}`);
      }
      if (f.integer && f.min === 1 && !(Number.isInteger(n) && n >= 1)) return bad(`must be a positive integer, got ${n}`);
      if (f.integer && f.min === 0 && !(Number.isSafeInteger(n) && n >= 0)) return bad(`must be a non-negative integer, got ${n}`);
      if (f.integer && !Number.isInteger(n)) return bad(`must be an integer, got ${n}`);
      if (f.positive && !(n > 0)) return bad(`must be > 0, got ${n}`);
      if (f.min !== undefined && !(n >= f.min)) return bad(`must be ${range ?? `>= ${f.min}`}, got ${n}`);
      if (f.max !== undefined && !(n <= f.max)) return bad(`must be ${range ?? `<= ${f.max}`}, got ${n}`);
    })
    .transform(asNumber);
}

/** Checks one flag's raw value; undefined (and a problem) when it is bad. */
function checkOne(name: string, f: Flag, raw: unknown, problems: Problems): unknown {
  const flag = `--${name}`;
  const schema = schemaOf(f);
  const one = (v: unknown): { ok: boolean; value?: unknown } => {
    const r = schema.safeParse(v);
    if (!r.success) {
      problems.add(flag, r.error.issues[0]?.message ?? 'bad value');
      return { ok: false };
    }
    if (!f.parse) return { ok: true, value: r.data };
    try {
      return { ok: true, value: (f.parse as (v: unknown) => unknown)(r.data) };
    } catch (e) {
      const msg = (e as Error).message;
      problems.add(flag, msg.startsWith(`${flag}: `) ? msg.slice(flag.length + 2) : msg);
      return { ok: false };
    }
  };
  if (f.array) {
    const list = Array.isArray(raw) ? raw : [raw];
    const values = list.map((v) => one(f.type === 'string' ? String(v) : v));
    return values.every((v) => v.ok) ? Object.freeze(values.map((v) => v.value)) : undefined;
  }
  if (Array.isArray(raw)) {
    problems.add(flag, `given ${raw.length} times; give it once`);
    return undefined;
  }
  const r = one(raw);
  return r.ok ? r.value : undefined;
}

/**
 * Checks every flag of the groups in `argv` (yargs' camelCase keys), adding each problem to `problems`;
 * returns the frozen values with the defaults applied (a bad flag counts as not given, so later checks go on).
 * Only the CLI layer (src/cli) hands yargs' record here; libraries take the values it returns.
 */
export function parseFlags<const G extends Flags>(flags: G, argv: Readonly<Record<string, unknown>>, problems: Problems): FlagValues<G> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(flags)) {
    const raw = argv[camelKey(name)] ?? argv[name] ?? (f.alias === undefined ? undefined : argv[camelKey(f.alias)]);
    if (raw === undefined || raw === null) {
      if (f.required) problems.add(`--${name}`, typeof f.required === 'string' ? f.required : 'required');
    } else out[camelKey(name)] = checkOne(name, f, raw, problems);
  }
  return flagValues(flags, out as Partial<FlagValues<G>>);
}

/**
 * The typed values of a flag group from values already checked (a library caller's, a test's): the defaults
 * applied to the flags not given, frozen. The values themselves are not checked again.
 */
export function flagValues<const G extends Flags>(flags: G, given: Partial<FlagValues<G>>): FlagValues<G> {
  const out: Record<string, unknown> = {};
  const have = given as Readonly<Record<string, unknown>>;
  for (const [name, f] of Object.entries(flags)) out[camelKey(name)] = have[camelKey(name)] ?? f.default;
  return Object.freeze(out) as FlagValues<G>;
}

/** parseFlags, then throw every problem at once: for commands with no cross-flag rules. */
export function readFlags<const G extends Flags>(command: string, flags: G, argv: Readonly<Record<string, unknown>>): FlagValues<G> {
  const problems = new Problems();
  const values = parseFlags(flags, argv, problems);
  problems.throwIfAny(command);
  return values;
}

/** `KEY=VALUE` list (`--tag`) into a record; a bad entry is a problem of `flag`. */
export function keyValues(list: readonly string[] | undefined, flag: string, problems: Problems): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of list ?? []) {
    const i = t.indexOf('=');
    if (i <= 0) problems.add(flag, `expected KEY=VALUE, got '${t}'`);
    else out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
  }
  return Object.freeze(out);
}
