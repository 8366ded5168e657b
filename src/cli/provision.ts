/** `splitbench provision`: search prompt/token machine counts of a design for the best configuration under an objective. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { CLUSTER_FLAGS, DISTRIBUTED_FLAGS, RUN_FLAGS, SIM_DEFAULTS } from '../flags.js';
import { addFlags, flagGroup, pickFlags, withFlags } from '../flagspec.js';
import { TRACE_FLAGS } from '../trace/options.js';
import { SAMPLED_TRACE_FLAGS, SEARCH_FLAGS } from './sweep.js';
import { setExitCode } from './main.js';
import { printJson } from './output.js';

type Args = Record<string, unknown>;

const PROVISION_FLAGS = {
  ...SAMPLED_TRACE_FLAGS,
  ...flagGroup('Search:', {
    design: {
      type: 'string',
      required: true,
      describe: 'splitwise-hh, splitwise-ha, splitwise-aa, splitwise-hhcap, baseline-a100, baseline-h100',
    },
    objective: {
      type: 'string',
      required: true,
      describe: 'iso-power | iso-cost: most throughput for the budget; cost-opt | power-opt: least cost/power meeting the SLOs at --rate',
    },
    'budget-like': {
      type: 'string',
      defaultText: 'baseline-h100:40',
      describe: 'reference cluster that sets the budget and the ratios, DESIGN:COUNT or DESIGN:PROMPT,TOKEN',
    },
    rate: { type: 'number', required: true, describe: 'req/s to meet (cost-opt, power-opt), or where the throughput search starts (iso-*)' },
    duration: { type: 'number', defaultText: String(SIM_DEFAULTS.provisionDurationS), describe: 'seconds of Poisson arrivals per simulation' },
    'max-machines': { type: 'number', defaultText: '80', describe: 'cost-opt/power-opt: at most this many machines in all' },
    ...withFlags(SEARCH_FLAGS, { tolerance: { describe: 'relative precision of each max-throughput bisection' } }),
  }),
  ...withFlags(pickFlags(CLUSTER_FLAGS, 'model', 'compat'), { model: { describe: 'model', defaultText: 'bloom-176b' } }),
  ...withFlags(pickFlags(RUN_FLAGS, 'db', 'json'), {
    db: { describe: 'results store for the simulated runs' },
    json: { describe: 'print the result as JSON' },
  }),
  ...withFlags(DISTRIBUTED_FLAGS, {
    plan: {
      describe:
        'distributed provisioning: every candidate (iso: the budget line; cost/power-opt: the grid within --max-machines) as units of a manifest FILE; results in FILE.results/, done ones skipped',
    },
    collect: { describe: "with --plan: merge the finished chunks' results into the answer, run nothing" },
  }),
  ...TRACE_FLAGS,
} as const;

export const provisionCommand: CommandModule<object, Args> = {
  command: 'provision',
  describe: 'size a cluster design (prompt/token machine counts) for iso-power, iso-cost, cost-opt or power-opt, by simulation',
  builder: (y: Argv) =>
    addFlags(y, PROVISION_FLAGS)
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
