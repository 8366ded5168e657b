/**
 * The `splitbench` command line. One file per command under src/cli/, each exporting a yargs
 * CommandModule whose builder only declares flags and whose handler imports the library lazily (so
 * `splitbench --help` stays fast) and returns an exit code through `setExitCode`.
 */
import yargs, { type CommandModule } from 'yargs';
import { ExitCode, isSplitbenchError } from '../errors.js';
import { VERSION } from '../version.js';
import { commands } from './commands.js';

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

export async function main(argv: string[]): Promise<number> {
  exitCode = ExitCode.ok;
  let usageError = false;
  const cli = yargs(argv)
    .scriptName('splitbench')
    .usage('$0 <command> [options]\n\nBenchmark and trace-replay harness for LLM serving (monolithic and phase-split).')
    .version(VERSION)
    .strict()
    .demandCommand(1, 'name a command; see the list above')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .epilogue('Exit codes: 0 ok, 1 SLO failed, 2 bad usage or input, 3 run unusable, 4 request errors, 5 target failed, 6 store error, 130 interrupted.')
    .fail((msg, err) => {
      if (err) throw err;
      usageError = true;
      process.stderr.write(`splitbench: ${msg}\n  hint: run with --help for usage\n`);
    });
  for (const c of commands) cli.command(c as CommandModule);
  try {
    await cli.parseAsync();
  } catch (e) {
    return reportError(e);
  }
  if (usageError) return ExitCode.usage;
  return exitCode;
}
