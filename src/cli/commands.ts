/**
 * The registry of implemented commands; `--help` lists exactly these. Add one line per command. Each entry
 * loads its command's module on demand: a run loads only the command it names (start-up cost), while
 * `--help`, an unknown or a missing command load them all (src/cli/main.ts).
 */
import type { CommandModule } from 'yargs';

// biome-ignore lint/suspicious/noExplicitAny: each command has its own argv type; yargs takes the list as one array
type AnyCommand = CommandModule<any, any>;

/** Command name → its module's loader, in the order of `--help`. */
export const commandLoaders: Readonly<Record<string, () => Promise<AnyCommand>>> = {
  // The main job first, then what reads its results, then planning, traces, housekeeping and scale-out.
  replay: async () => (await import('./replay.js')).replayCommand,
  serve: async () => (await import('./serve.js')).serveCommand,
  sim: async () => (await import('./sim.js')).simCommand,
  summary: async () => (await import('./summary.js')).summaryCommand,
  gate: async () => (await import('./gate.js')).gateCommand,
  report: async () => (await import('./report.js')).reportCommand,
  sweep: async () => (await import('./sweep.js')).sweepCommand,
  provision: async () => (await import('./provision.js')).provisionCommand,
  experiment: async () => (await import('./experiment.js')).experimentCommand,
  trace: async () => (await import('./trace.js')).traceCommand,
  runs: async () => (await import('./runs.js')).runsCommand,
  profile: async () => (await import('./profile.js')).profileCommand,
  model: async () => (await import('./model.js')).modelCommand,
  merge: async () => (await import('./merge.js')).mergeCommand,
  launch: async () => (await import('./launch.js')).launchCommand,
  'time-server': async () => (await import('./time-server.js')).timeServerCommand,
};

/** Every command, in the registry's order. */
export function loadCommands(): Promise<AnyCommand[]> {
  return Promise.all(Object.values(commandLoaders).map((load) => load()));
}

/**
 * The commands yargs needs for `argv`: only the named one when the command line starts with a command's name
 * (its parse, help and errors see nothing of the others), else all of them (the command list of `--help`,
 * "did you mean", a missing command).
 */
export async function commandsFor(argv: readonly string[]): Promise<AnyCommand[]> {
  const first = argv[0];
  const load = first !== undefined && Object.hasOwn(commandLoaders, first) ? commandLoaders[first] : undefined;
  return load ? [await load()] : loadCommands();
}
