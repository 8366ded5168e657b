/** The registry of implemented commands; `--help` lists exactly these. Add one line per command. */
import type { CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  // (commands are added here, one import each)
];
