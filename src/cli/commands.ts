/** The registry of implemented commands; `--help` lists exactly these. Add one line per command. */
import type { CommandModule } from 'yargs';
import { runsCommand } from './runs.js';
import { traceCommand } from './trace.js';
import { summaryCommand } from './summary.js';
import { gateCommand } from './gate.js';
import { replayCommand } from './replay.js';
import { reportCommand } from './report.js';
import { simCommand } from './sim.js';
import { sweepCommand } from './sweep.js';
import { provisionCommand } from './provision.js';
import { experimentCommand } from './experiment.js';
import { serveCommand } from './serve.js';
import { mergeCommand } from './merge.js';
import { launchCommand } from './launch.js';
import { timeServerCommand } from './time-server.js';
import { profileCommand } from './profile.js';
import { modelCommand } from './model.js';

// biome-ignore lint/suspicious/noExplicitAny: each command has its own argv type; yargs takes the list as one array
export const commands: CommandModule<any, any>[] = [
  // The main job first, then what reads its results, then planning, traces, housekeeping and scale-out.
  replayCommand,
  serveCommand,
  simCommand,
  summaryCommand,
  gateCommand,
  reportCommand,
  sweepCommand,
  provisionCommand,
  experimentCommand,
  traceCommand,
  runsCommand,
  profileCommand,
  modelCommand,
  mergeCommand,
  launchCommand,
  timeServerCommand,
];
