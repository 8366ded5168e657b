/** `splitbench summary`: latency, throughput, goodput, slowdown, power and cost of one or more runs. */
import type { CommandModule } from 'yargs';
import { RESULTS_FLAGS } from '../flags.js';
import { addFlags, readFlags, withFlags } from '../flagspec.js';
import { resultsReading } from './output.js';

type Args = Record<string, unknown>;

const SUMMARY_FLAGS = {
  run: { type: 'string', array: true, requiresArg: true, describe: 'run id, name or uuid (repeat for several runs side by side); default: the latest run' },
  ...withFlags(RESULTS_FLAGS, {
    json: { describe: 'print JSON (an array of summaries; times in seconds)' },
    'reference-run': { describe: 'unloaded run to compute slowdowns against (matched by trace id, else by prompt/output sizes)' },
  }),
  slo: {
    type: 'string',
    requiresArg: true,
    describe: 'SLO file (path or bundled name, e.g. interactive) whose per_request limits define goodput',
  },
} as const;

export const summaryCommand: CommandModule<object, Args> = {
  command: 'summary',
  describe: 'summarize runs: TTFT/TPOT/TBT/E2E percentiles, throughput, goodput, slowdown, power, cost',
  builder: (y) =>
    addFlags(y, SUMMARY_FLAGS)
      .example('$0 summary', 'the latest run in results/splitbench.db')
      .example('$0 summary --run baseline --run splitwise', 'two runs side by side')
      .example('$0 summary --run 3 --slo interactive --json', 'with goodput, as JSON'),
  handler: async (argv) => {
    const f = readFlags('summary', SUMMARY_FLAGS, argv);
    const { summaryCommand: run } = await import('../metrics/commands.js');
    const { formatSummaries } = await import('../metrics/index.js');
    const { printJson } = await import('./output.js');
    const summaries = await run({ runs: f.run ?? [], ...(f.slo === undefined ? {} : { slo: f.slo }), ...resultsReading(f) });
    if (f.json) printJson('summary', summaries);
    else process.stdout.write(`${formatSummaries(summaries)}\n`);
  },
};
