/** `splitbench sweep`: max throughput under an SLO, one run per offered rate (simulated, or --live). */
import { SWEEP_FLAGS } from '../sim/options.js';
import { defineCommand, OWN_CHECK } from './define.js';

export const sweepCommand = defineCommand({
  command: 'sweep',
  describe: 'find the highest offered rate that meets an SLO file: one run per rate, then bisection',
  flags: SWEEP_FLAGS,
  examples: [
    [
      '$0 sweep --trace coding --deployment splitwise-hh,baseline-h100 --rates 1:8:1 --duration 120 --plan sweep.json --chunk 0/2',
      'one of two slices of a two-deployment sweep; then --collect',
    ],
    [
      '$0 sweep --trace conversation --deployment splitwise-hh-paper --rates 30:160:10',
      'max throughput of the paper-size Splitwise-HH under the Splitwise SLOs',
    ],
    ['$0 sweep --trace coding --deployment baseline-h100 --rates 1:8:1 --duration 120 --compat splitwise', 'a quick SplitwiseSim-compatible sweep'],
    [
      '$0 sweep --trace coding --deployment splitwise-hh --rates 2,4,6 --duration 60 --live --time-scale 20',
      'the same search against the live reference backend',
    ],
  ],
  read: OWN_CHECK,
  run: async (argv, { json }) => {
    if (argv.seeds !== undefined && (argv.plan !== undefined || argv.chunk !== undefined || argv.collect !== undefined || argv.copyDbTo !== undefined)) {
      throw new (await import('../errors.js')).ConfigError('not with --plan, --chunk or --collect (run one plan per seed)', { path: '--seeds' });
    }
    if (argv.plan !== undefined || argv.chunk !== undefined || argv.collect !== undefined || argv.copyDbTo !== undefined) {
      // Distributed sweeps: src/scale.
      const scale = await import('../scale/index.js');
      const { ConfigError } = await import('../errors.js');
      if (argv.plan === undefined)
        throw new ConfigError('needs --plan FILE (the manifest the chunks share)', {
          path: argv.copyDbTo !== undefined ? '--copy-db-to' : argv.chunk !== undefined ? '--chunk' : '--collect',
        });
      const r = await scale.runSweepPlan(argv, argv.json ? () => undefined : undefined);
      if (argv.json) json(r);
      else if (r.result) process.stdout.write(`${scale.formatPlanResult(r.result)}\n`);
      else process.stdout.write(`chunk ${r.chunk!.index}/${r.chunk!.count}: ran ${r.ran.length}, skipped ${r.skipped.length} already done\n`);
      return r.exitCode;
    }
    const sim = await import('../sim/index.js');
    const opts = sim.resolveSweepOptions(argv);
    // Each rate simulated, or (--live) replayed against the reference backend.
    const runner = await sim.sweepRateRunner(opts);
    // The deployment and the engine data, read here (the simulator reads no file).
    const loaded = (await import('../config/index.js')).loadSimInput(opts);
    const seeds = sim.parseSeeds(argv, opts.seed);
    if (seeds !== undefined) {
      const results = [];
      let exitCode = 0;
      for (const seed of seeds) {
        const one = Object.freeze({ ...opts, seed, transforms: { ...opts.transforms, seed }, tags: { ...opts.tags, seed: String(seed) } });
        const r = await sim.runSweep(one, runner, loaded, opts.json ? { log: () => undefined } : {});
        results.push({ seed, ...r });
        if (!opts.json) process.stdout.write(`seed ${seed}:\n${sim.formatSweep(r)}\n`);
        exitCode = Math.max(exitCode, r.exitCode);
      }
      if (opts.json) json({ seeds: results });
      else {
        const max = results.map((r) => r.maxRate).filter((v): v is number => v !== undefined);
        if (max.length > 0)
          process.stdout.write(
            `max throughput under SLO over ${seeds.length} seeds: mean ${(max.reduce((a, b) => a + b, 0) / max.length).toFixed(2)} req/s, min ${Math.min(...max)}, max ${Math.max(...max)}${max.length < seeds.length ? ` (${seeds.length - max.length} seeds met no rate)` : ''}\n`,
          );
      }
      return exitCode;
    }
    const r = await sim.runSweep(opts, runner, loaded, opts.json ? { log: () => undefined } : {});
    if (opts.json) json(r);
    else process.stdout.write(`${sim.formatSweep(r)}\n`);
    return r.exitCode;
  },
});
