/** `splitbench provision`: search prompt/token machine counts of a design for the best configuration under an objective. */
import { PROVISION_FLAGS } from '../sim/options.js';
import { defineCommand, OWN_CHECK } from './define.js';

export const provisionCommand = defineCommand({
  command: 'provision',
  describe: 'size a cluster design (prompt/token machine counts) for iso-power, iso-cost, cost-opt or power-opt, by simulation',
  flags: PROVISION_FLAGS,
  examples: [
    ['$0 provision --trace coding --design splitwise-hh --objective iso-power --rate 40', 'best prompt/token split of DGX-H100s for the power of 40 DGX-H100'],
    [
      '$0 provision --trace coding --design splitwise-hh --objective cost-opt --rate 70 --duration 120',
      "the paper's cost-optimal Splitwise-HH search at 70 req/s",
    ],
    [
      '$0 provision --trace coding --design splitwise-hh --objective iso-power --rate 40 --plan iso.json --chunk 0/4',
      'one of four slices of the whole budget line; then the same flags with --collect instead of --chunk',
    ],
  ],
  read: OWN_CHECK,
  run: async (argv, { json }) => {
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
      if (argv.json) json(r);
      else if (r.result) process.stdout.write(`${sim.formatProvision(r.result)}\n`);
      else
        process.stdout.write(
          `chunk ${r.chunk!.index}/${r.chunk!.count}: ran ${r.ran.length}, skipped ${r.skipped.length} already done (of ${r.units} units in the plan)\n`,
        );
      return r.exitCode;
    }
    const sim = await import('../sim/index.js');
    const opts = sim.resolveProvisionOptions(argv);
    const data = (await import('../config/index.js')).simEngineData(opts.compat);
    const r = await sim.runProvision(opts, sim.simRateRunner, data, opts.json ? { log: () => undefined } : {});
    if (opts.json) json(r);
    else process.stdout.write(`${sim.formatProvision(r)}\n`);
    return r.exitCode;
  },
});
