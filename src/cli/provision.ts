/** `splitbench provision`: search prompt/token machine counts of a design for the best configuration under an objective. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { addTraceTransformOptions } from '../trace/options.js';
import { setExitCode } from './main.js';
import { printJson } from './output.js';

type Args = Record<string, unknown>;

export const provisionCommand: CommandModule<object, Args> = {
  command: 'provision',
  describe: 'size a cluster design (prompt/token machine counts) for iso-power, iso-cost, cost-opt or power-opt, by simulation',
  builder: (y: Argv) =>
    addTraceTransformOptions(
      y
        .option('trace', { type: 'string', describe: 'trace whose request sizes are sampled (file, or coding, conversation)', demandOption: true, group: 'Trace:' })
        .option('design', { type: 'string', describe: 'splitwise-hh, splitwise-ha, splitwise-aa, splitwise-hhcap, baseline-a100, baseline-h100', demandOption: true, group: 'Search:' })
        .option('objective', { type: 'string', describe: 'iso-power | iso-cost: most throughput for the budget; cost-opt | power-opt: least cost/power meeting the SLOs at --rate', demandOption: true, group: 'Search:' })
        .option('budget-like', { type: 'string', describe: 'reference cluster that sets the budget and the ratios, DESIGN:COUNT or DESIGN:PROMPT,TOKEN (default baseline-h100:40)', group: 'Search:' })
        .option('rate', { type: 'number', describe: 'req/s to meet (cost-opt, power-opt), or where the throughput search starts (iso-*)', demandOption: true, group: 'Search:' })
        .option('slo', { type: 'string', describe: 'SLO file, path or bundled name (default splitwise)', group: 'Search:' })
        .option('duration', { type: 'number', describe: 'seconds of Poisson arrivals per simulation (default 120)', group: 'Search:' })
        .option('max-machines', { type: 'number', describe: 'cost-opt/power-opt: at most this many machines in all (default 80)', group: 'Search:' })
        .option('tolerance', { type: 'number', describe: 'relative precision of each max-throughput bisection (default 0.05)', group: 'Search:' })
        .option('model', { type: 'string', describe: 'model (default bloom-176b)', group: 'Cluster:' })
        .option('compat', { type: 'string', describe: "'splitwise': SplitwiseSim-compatible semantics", group: 'Cluster:' })
        .option('db', { type: 'string', describe: 'results store for the simulated runs (default results/splitbench.db)', group: 'Run:' })
        .option('json', { type: 'boolean', describe: 'print the result as JSON', group: 'Run:' })
        .example('$0 provision --trace coding --design splitwise-hh --objective iso-power --rate 40', 'best prompt/token split of DGX-H100s for the power of 40 DGX-H100')
        .example('$0 provision --trace coding --design splitwise-hh --objective cost-opt --rate 70 --duration 120', "the paper's cost-optimal Splitwise-HH search at 70 req/s"),
    ),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const sim = await import('../sim/index.js');
    const opts = sim.resolveProvisionOptions(argv);
    const r = await sim.runProvision(opts, opts.json ? { log: () => undefined } : {});
    if (opts.json) printJson(r);
    else process.stdout.write(sim.formatProvision(r) + '\n');
    setExitCode(r.exitCode);
  },
};
