/** `splitbench summary`: latency, throughput, goodput, slowdown, power and cost of one or more runs. */
import { RESULTS_FLAGS } from '../flags.js';
import { withFlags } from '../flagspec.js';
import { defineCommand } from './define.js';
import { resultsReading } from './output.js';

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

export const summaryCommand = defineCommand({
  command: 'summary',
  describe: 'summarize runs: TTFT/TPOT/TBT/E2E percentiles, throughput, goodput, slowdown, power, cost',
  flags: SUMMARY_FLAGS,
  examples: [
    ['$0 summary', 'the latest run in results/splitbench.db'],
    ['$0 summary --run baseline --run splitwise', 'two runs side by side'],
    ['$0 summary --run 3 --slo interactive --json', 'with goodput, as JSON'],
  ],
  run: async (f, ctx) => {
    const { summaryCommand: run } = await import('../metrics/commands.js');
    const { formatSummaries } = await import('../metrics/index.js');
    const summaries = await run({ runs: f.run ?? [], ...(f.slo === undefined ? {} : { slo: f.slo }), ...resultsReading(f) });
    if (f.json) ctx.json(summaries);
    else process.stdout.write(`${formatSummaries(summaries)}\n`);
  },
});
