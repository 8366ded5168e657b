/** `splitbench summary`: latency, throughput, goodput, slowdown, power and cost of one or more runs. */
import type { CommandModule } from 'yargs';
import { DEFAULT_DB } from '../paths.js';
import { PERCENTILES_OPTION } from './output.js';

interface SummaryArgs {
  run?: string[] | undefined;
  db: string;
  json: boolean;
  slo?: string | undefined;
  'reference-run'?: string | undefined;
  'reference-machine'?: string | undefined;
  percentiles: string;
}

export const summaryCommand: CommandModule<object, SummaryArgs> = {
  command: 'summary',
  describe: 'summarize runs: TTFT/TPOT/TBT/E2E percentiles, throughput, goodput, slowdown, power, cost',
  builder: (y) =>
    y
      .option('run', {
        type: 'string',
        array: true,
        describe: 'run id, name or uuid (repeat for several runs side by side); default: the latest run',
        requiresArg: true,
      })
      .option('db', { type: 'string', default: DEFAULT_DB, describe: 'results store (SQLite file)', requiresArg: true })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON (an array of summaries; times in seconds)' })
      .option('slo', {
        type: 'string',
        describe: 'SLO file (path or bundled name, e.g. interactive) whose per_request limits define goodput',
        requiresArg: true,
      })
      .option('reference-run', {
        type: 'string',
        describe: 'unloaded run to compute slowdowns against (matched by trace id, else by prompt/output sizes)',
        requiresArg: true,
      })
      .option('reference-machine', {
        type: 'string',
        describe: 'machine type of the performance-model slowdown reference (default dgx-a100)',
        requiresArg: true,
      })
      .option('percentiles', PERCENTILES_OPTION)
      .example('$0 summary', 'the latest run in results/splitbench.db')
      .example('$0 summary --run baseline --run splitwise', 'two runs side by side')
      .example('$0 summary --run 3 --slo interactive --json', 'with goodput, as JSON'),
  handler: async (argv) => {
    const { summaryCommand: run } = await import('../metrics/commands.js');
    const { formatSummaries } = await import('../metrics/index.js');
    const { printJson } = await import('./output.js');
    const summaries = await run({
      db: argv.db,
      runs: argv.run ?? [],
      percentileMethod: argv.percentiles as 'linear' | 'nearest-rank',
      ...(argv.slo === undefined ? {} : { slo: argv.slo }),
      ...(argv['reference-run'] === undefined ? {} : { referenceRun: argv['reference-run'] }),
      ...(argv['reference-machine'] === undefined ? {} : { referenceMachine: argv['reference-machine'] }),
    });
    if (argv.json) printJson('summary', summaries);
    else process.stdout.write(`${formatSummaries(summaries)}\n`);
  },
};
