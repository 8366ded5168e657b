/** `splitbench experiment splitwise`: the Splitwise paper's evaluation (six designs, iso-power and iso-cost) by simulation. */
import { EXPERIMENT_FLAGS } from '../sim/options.js';
import { defineCommand, OWN_CHECK } from './define.js';

export const experimentCommand = defineCommand({
  command: 'experiment <name>',
  describe: "reproduce a paper's evaluation by simulation (splitwise: six designs, iso-power and iso-cost, max throughput under the SLOs)",
  flags: EXPERIMENT_FLAGS,
  positionals: (y) => y.positional('name', { type: 'string', describe: 'experiment: splitwise' }),
  examples: [
    ['$0 experiment splitwise --trace conversation --out results/splitwise', "the paper's table and charts, both modes"],
    ['$0 experiment splitwise --quick --mode compat', 'a quick smoke run'],
    ['$0 experiment splitwise --quick --mode compat --seeds 2', 'the same, twice with different Poisson traces (error bars)'],
    ['$0 experiment splitwise --duration 600', "the paper's 10-minute traces per rate"],
  ],
  read: OWN_CHECK,
  run: async (argv, { json }) => {
    const sim = await import('../sim/index.js');
    const opts = sim.resolveExperimentOptions(argv);
    // SplitwiseSim's rows only when the compat mode runs (the realistic mode never reads them).
    const data = (await import('../config/index.js')).simEngineData(opts.modes.includes('compat') ? 'splitwise' : undefined);
    const r = await sim.runExperiment(opts, sim.simRateRunner, data, opts.json ? { log: () => undefined } : {});
    if (opts.json) json(r);
    else
      process.stdout.write(
        `${sim.experimentMarkdown(opts, r.rows, r.ratios)}\nfiles: ${r.files.join(', ')}\n${r.sims} simulations in ${r.wallS.toFixed(1)} s\n`,
      );
    return 0;
  },
});
