/**
 * The `splitbench` command line. One file per command under src/cli/, each declaring its command with
 * `defineCommand` (src/cli/define.ts): flags, positionals and examples, and a `run` that imports the library
 * lazily (so `splitbench --help` stays fast) and returns the exit code, reported through `setExitCode`.
 */
import { createRequire } from 'node:module';
import type { CommandModule } from 'yargs';
import type yargsFactory from 'yargs';
import { EXIT_CODE_SUMMARY, ExitCode, isSplitbenchError } from '../errors.js';
import { VERSION } from '../version.js';
import { commandsFor } from './commands.js';

// yargs' CommonJS build wraps help text at word boundaries (its ESM build breaks words mid-way).
const yargs = createRequire(import.meta.url)('yargs') as typeof yargsFactory;

let exitCode: number = ExitCode.ok;

/** Commands call this to report their outcome (the highest code wins). */
export function setExitCode(code: number): void {
  if (code > exitCode || exitCode === ExitCode.ok) exitCode = code;
}

function reportError(e: unknown): number {
  if (isSplitbenchError(e)) {
    process.stderr.write(`splitbench: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
    return e.exitCode;
  }
  const err = e as Error;
  process.stderr.write(`splitbench: internal error: ${err?.stack ?? String(e)}\n`);
  return ExitCode.internal;
}

/** A usage error found by the parser (unknown command or flag, missing argument); already worded. */
class UsageError extends Error {}

/** A missing command, subcommand or positional argument: these also print the usage. */
const MISSING_COMMAND = /^(name a .*command|Not enough non-option arguments)/;

/** A negative number or a range starting with one (`-5`, `-0.5`, `-5:10`): a value, never a flag. */
const NEGATIVE_VALUE = /^-(\d|\.\d)[\d.eE+-]*(:[^\s]*)?$/;

/**
 * `--flag -5:10` as `--flag=-5:10`: yargs would read `-5:10` as short flags (`Unknown argument: 5`) rather
 * than the flag's value, so the value's own check (e.g. "START must be >= 0") never spoke. Stops at `--`.
 */
export function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return [...out, ...argv.slice(i)];
    const next = argv[i + 1];
    if (a.startsWith('--') && !a.includes('=') && next !== undefined && NEGATIVE_VALUE.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * yargs renders the whole help text (cliui, string widths) each time it starts a command's handler, only to
 * cache it for a later `showHelp()` from that handler: tens of ms on every run's start-up. No handler here
 * shows help (`showHelpOnFail` is off; usage errors are worded by `fail` before any handler runs), so the
 * caching is skipped. `--help` still renders as before. (An internal yargs method: left alone if absent.)
 */
export function skipHelpCache(cli: unknown): void {
  type Internals = { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } | undefined } };
  const usage = (cli as Internals).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

export async function main(argv: string[]): Promise<number> {
  exitCode = ExitCode.ok;
  const commands = await commandsFor(argv);
  const cli = yargs(joinNegativeValues(argv))
    .scriptName('splitbench')
    .usage('$0 <command> [options]\n\nBenchmark and trace-replay harness for LLM serving (monolithic and phase-split).')
    .version(VERSION)
    .alias('help', 'h')
    .strict()
    .demandCommand(1, 'name a command; see the list above')
    .recommendCommands()
    .showHelpOnFail(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .epilogue(EXIT_CODE_SUMMARY)
    .fail((msg, err, usage) => {
      if (err) throw err;
      // The first complaint wins: stop parsing so no handler runs on bad input.
      if (MISSING_COMMAND.test(msg)) {
        (usage as unknown as { showHelp(emit: (s: string) => void): void }).showHelp((s) => process.stderr.write(`${s}\n\n`));
      }
      const m = /^Did you mean (.+)\?$/.exec(msg);
      throw new UsageError(m ? `unknown command; did you mean ${m[1]}?` : msg);
    });
  for (const c of commands) cli.command(c as CommandModule);
  skipHelpCache(cli);
  try {
    await cli.parseAsync();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`splitbench: ${e.message}\n  hint: run with --help for usage\n`);
      return ExitCode.usage;
    }
    return reportError(e);
  }
  return exitCode;
}
