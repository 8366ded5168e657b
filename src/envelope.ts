/**
 * The `--json` envelope every command prints (`{ splitbench, command, result }`). A leaf module: the CLI and the
 * libraries that print a command's result themselves (the sharded replay) share it.
 */
import { VERSION } from './version.js';

/** Every command's `--json` output: `{ splitbench, command, result }`; `result` is what the command reports. */
export interface JsonEnvelope<T = unknown> {
  /** The splitbench version that wrote it. */
  readonly splitbench: string;
  /** The command, with its subcommand: 'sim', 'runs list', 'trace stats'… (its schema: schemas/<command with -, not space>.json). */
  readonly command: string;
  readonly result: T;
}

export function jsonEnvelope<T>(command: string, result: T): JsonEnvelope<T> {
  return { splitbench: VERSION, command, result };
}

/** Print a command's `--json` output, in the envelope every command shares. */
export function printJson(command: string, result: unknown): void {
  process.stdout.write(`${JSON.stringify(jsonEnvelope(command, result), null, 2)}\n`);
}
