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
        .option('trace', {
          type: 'string',
          describe: 'trace whose request sizes are sampled (file, or coding, conversation)',
          demandOption: true,
          group: 'Trace:',
        })
        .option('design', {
          type: 'string',
          describe: 'splitwise-hh, splitwise-ha, splitwise-aa, splitwise-hhcap, baseline-a100, baseline-h100',
          demandOption: true,
          group: 'Search:',
        })
        .option('objective', {
          type: 'string',
          describe: 'iso-power | iso-cost: most throughput for the budget; cost-opt | power-opt: least cost/power meeting the SLOs at --rate',
          demandOption: true,
          group: 'Search:',
        })
        .option('budget-like', {
          type: 'string',
          describe: 'reference cluster that sets the budget and the ratios, DESIGN:COUNT or DESIGN:PROMPT,TOKEN (default baseline-h100:40)',
          group: 'Search:',
        })
        .option('rate', {
          type: 'number',
          describe: 'req/s to meet (cost-opt, power-opt), or where the throughput search starts (iso-*)',
          demandOption: true,
          group: 'Search:',
        })
        .option('slo', { type: 'string', describe: 'SLO file, path or bundled name (default splitwise)', group: 'Search:' })
        .option('duration', { type: 'number', describe: 'seconds of Poisson arrivals per simulation (default 120)', group: 'Search:' })
        .option('max-machines', { type: 'number', describe: 'cost-opt/power-opt: at most this many machines in all (default 80)', group: 'Search:' })
        .option('tolerance', { type: 'number', describe: 'relative precision of each max-throughput bisection (default 0.05)', group: 'Search:' })
        .option('model', { type: 'string', describe: 'model (default bloom-176b)', group: 'Cluster:' })
        .option('compat', { type: 'string', describe: "'splitwise': SplitwiseSim-compatible semantics", group: 'Cluster:' })
        .option('db', { type: 'string', describe: 'results store for the simulated runs (default results/splitbench.db)', group: 'Run:' })
        .option('json', { type: 'boolean', describe: 'print the result as JSON', group: 'Run:' })
        .option('plan', {
          type: 'string',
          describe:
            'distributed provisioning: every candidate (iso: the budget line; cost/power-opt: the grid within --max-machines) as units of a manifest FILE; results in FILE.results/, done ones skipped',
          group: 'Distributed:',
        })
        .option('chunk', {
          type: 'string',
          describe: "with --plan: run slice k/K only; 'auto': SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX",
          group: 'Distributed:',
        })
        .option('chunk-count', {
          type: 'number',
          describe: 'with --chunk auto on Kubernetes: the number of chunks (default $SPLITBENCH_CHUNKS)',
          group: 'Distributed:',
        })
        .option('collect', { type: 'boolean', describe: "with --plan: merge the finished chunks' results into the answer, run nothing", group: 'Distributed:' })
        .option('copy-db-to', {
          type: 'string',
          describe:
            'with --chunk: once the chunk is done, copy its --db store (on local disk) to FILE (e.g. on the shared folder; one consistent file, renamed into place); results name FILE',
          group: 'Distributed:',
        })
        .example(
          '$0 provision --trace coding --design splitwise-hh --objective iso-power --rate 40',
          'best prompt/token split of DGX-H100s for the power of 40 DGX-H100',
        )
        .example(
          '$0 provision --trace coding --design splitwise-hh --objective cost-opt --rate 70 --duration 120',
          "the paper's cost-optimal Splitwise-HH search at 70 req/s",
        )
        .example(
          '$0 provision --trace coding --design splitwise-hh --objective iso-power --rate 40 --plan iso.json --chunk 0/4',
          'one of four slices of the whole budget line; then the same flags with --collect instead of --chunk',
        ),
    ),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    if (argv.plan !== undefined || argv.chunk !== undefined || argv.collect !== undefined || argv.chunkCount !== undefined || argv.copyDbTo !== undefined) {
      // Distributed provisioning: src/scale.
      const scale = await import('../scale/index.js');
      const sim = await import('../sim/index.js');
      const { ConfigError } = await import('../errors.js');
      if (argv.plan === undefined)
        throw new ConfigError('needs --plan FILE (the manifest the chunks share)', {
          path:
            argv.copyDbTo !== undefined ? '--copy-db-to' : argv.chunk !== undefined ? '--chunk' : argv.collect !== undefined ? '--collect' : '--chunk-count',
        });
      const r = await scale.runProvisionPlan(argv, argv.json ? () => undefined : undefined);
      if (argv.json) printJson('provision', r);
      else if (r.result) process.stdout.write(`${sim.formatProvision(r.result)}\n`);
      else
        process.stdout.write(
          `chunk ${r.chunk!.index}/${r.chunk!.count}: ran ${r.ran.length}, skipped ${r.skipped.length} already done (of ${r.units} units in the plan)\n`,
        );
      setExitCode(r.exitCode);
      return;
    }
    const sim = await import('../sim/index.js');
    const opts = sim.resolveProvisionOptions(argv);
    const r = await sim.runProvision(opts, sim.simRateRunner, opts.json ? { log: () => undefined } : {});
    if (opts.json) printJson('provision', r);
    else process.stdout.write(`${sim.formatProvision(r)}\n`);
    setExitCode(r.exitCode);
  },
};
