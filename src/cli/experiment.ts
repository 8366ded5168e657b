/** `splitbench experiment splitwise`: the Splitwise paper's evaluation (six designs, iso-power and iso-cost) by simulation. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { addFlags } from '../flagspec.js';
import { EXPERIMENT_FLAGS } from '../sim/options.js';
import { setExitCode } from './main.js';
import { printJson } from './output.js';

type Args = Record<string, unknown>;

export const experimentCommand: CommandModule<object, Args> = {
  command: 'experiment <name>',
  describe: "reproduce a paper's evaluation by simulation (splitwise: six designs, iso-power and iso-cost, max throughput under the SLOs)",
  builder: (y: Argv) =>
    addFlags(y.positional('name', { type: 'string', describe: 'experiment: splitwise' }), EXPERIMENT_FLAGS)
      .example('$0 experiment splitwise --trace conversation --out results/splitwise', "the paper's table and charts, both modes")
      .example('$0 experiment splitwise --quick --mode compat', 'a quick smoke run')
      .example('$0 experiment splitwise --quick --mode compat --seeds 2', 'the same, twice with different Poisson traces (error bars)')
      .example('$0 experiment splitwise --duration 600', "the paper's 10-minute traces per rate"),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const sim = await import('../sim/index.js');
    const opts = sim.resolveExperimentOptions(argv);
    const r = await sim.runExperiment(opts, sim.simRateRunner, opts.json ? { log: () => undefined } : {});
    if (opts.json) printJson('experiment', r);
    else
      process.stdout.write(
        `${sim.experimentMarkdown(opts, r.rows, r.ratios)}\nfiles: ${r.files.join(', ')}\n${r.sims} simulations in ${r.wallS.toFixed(1)} s\n`,
      );
    setExitCode(0);
  },
};
