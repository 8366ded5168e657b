/**
 * One declarative command: its name, help line, flag spec (src/flagspec.ts), positionals and examples; from it
 * comes the yargs CommandModule. The builder declares the positionals, the flags and the examples (in that
 * order: the `--help` layout); the handler checks the flags through the spec (typed, frozen values; every
 * problem at once), lets `read` add the command's cross-flag rules (usually its option module's resolver,
 * which takes those typed values) and hands the result to `run`, which imports its library lazily (so
 * `--help` stays fast), may print through `ctx.json` (the shared `--json` envelope) and returns the exit code.
 * This is the only layer that sees yargs' record: libraries take typed, frozen options.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { addFlags, type Flags, type FlagValues, parseFlags, Problems, readFlags } from '../flagspec.js';
import { setExitCode } from './main.js';
import { printJson } from './output.js';

type Args = Record<string, unknown>;

/** What `run` gets besides the checked flags. */
export interface CommandContext<A extends Args> {
  /** yargs' arguments: the positionals, and what the command line gave (not its flags' values: `run` gets those). */
  readonly argv: ArgumentsCamelCase<A>;
  /** The command's name in errors and in the `--json` envelope ('sim', 'runs list'). */
  readonly name: string;
  /** Prints `result` as this command's `--json` output (the envelope every command shares). */
  json(result: unknown): void;
}

export interface CommandSpec<G extends Flags, A extends Args, V> {
  /** The yargs command string, with its positionals ('merge <shards..>'). */
  readonly command: string;
  readonly describe: string;
  /** Its name in errors and the `--json` envelope; default: the command's first word. A subcommand names its group ('runs list'). */
  readonly name?: string;
  readonly flags: G;
  /** Declares the positionals (before the flags). */
  readonly positionals?: (y: Argv) => Argv<A>;
  /** `[command line, what it does]`, shown in `--help` (and run by the doc-examples test). */
  readonly examples?: readonly (readonly [string, string])[];
  /** Builder steps after the examples (flags declared by another module, e.g. the scale-out ones). */
  readonly more?: (y: Argv) => Argv;
  /**
   * The values `run` gets, from the flags checked by their spec (default: those values). A command with
   * cross-flag rules adds them to `problems`, which already holds the spec's (typically by handing both to
   * its option module's resolver, which throws them all at once); whatever is left is thrown after it.
   */
  readonly read?: (flags: FlagValues<G>, problems: Problems, argv: ArgumentsCamelCase<A>) => V | Promise<V>;
  /** The command's work; the exit code it returns (none: 0) is reported through `setExitCode`. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a command that always exits 0 returns nothing
  readonly run: (flags: V, ctx: CommandContext<A>) => Promise<number | void>;
}

/** The yargs CommandModule of a declared command. */
export function defineCommand<const G extends Flags, A extends Args = Args, V = FlagValues<G>>(spec: CommandSpec<G, A, V>): CommandModule<object, A> {
  const name = spec.name ?? spec.command.split(' ')[0]!;
  const read = async (argv: ArgumentsCamelCase<A>): Promise<V> => {
    if (!spec.read) return readFlags(name, spec.flags, argv) as V;
    const problems = new Problems();
    const values = await spec.read(parseFlags(spec.flags, argv, problems), problems, argv);
    problems.throwIfAny(name);
    return values;
  };
  return {
    command: spec.command,
    describe: spec.describe,
    builder: (y) => {
      let out = addFlags(spec.positionals ? spec.positionals(y) : (y as Argv<A>), spec.flags);
      for (const [cmd, what] of spec.examples ?? []) out = out.example(cmd, what);
      return spec.more ? (spec.more(out) as Argv<A>) : out;
    },
    handler: async (argv) => {
      const code = await spec.run(await read(argv), { argv, name, json: (result) => printJson(name, result) });
      if (typeof code === 'number') setExitCode(code);
    },
  };
}

/** A command that only groups subcommands (`runs`, `trace`, `model`): `missing` is the error when none is named. */
export function defineGroup(
  spec: Readonly<{
    command: string;
    describe: string;
    // biome-ignore lint/suspicious/noExplicitAny: each subcommand has its own argv type
    subcommands: readonly CommandModule<object, any>[];
    missing: string;
    examples?: readonly (readonly [string, string])[];
  }>,
): CommandModule<object, Args> {
  return {
    command: spec.command,
    describe: spec.describe,
    builder: (y) => {
      let out = y;
      for (const c of spec.subcommands) out = out.command(c as CommandModule<object, Args>);
      out = out.demandCommand(1, spec.missing);
      for (const [cmd, what] of spec.examples ?? []) out = out.example(cmd, what);
      return out;
    },
    handler: () => undefined,
  };
}

type Given<T> = { readonly [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  readonly [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** The entries of `o` that are not undefined: optional flags into a library's options (a flag not given stays absent). */
export function given<T extends object>(o: T): Given<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Given<T>;
}
