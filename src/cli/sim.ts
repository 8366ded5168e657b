/** `splitbench sim`: simulate a trace (or a rate load shaped by it) on a deployment, on a virtual clock. */
import { parseSeeds, resolveSimOptions, SIM_FLAGS } from '../sim/options.js';
import { defineCommand } from './define.js';

export const simCommand = defineCommand({
  command: 'sim',
  describe: 'simulate a trace on a deployment (virtual clock) and record every request like a live replay',
  flags: SIM_FLAGS,
  examples: [
    [
      '$0 sim --trace conversation --deployment splitwise-hh-paper --rate 100 --duration 600',
      'the conversation trace at 100 req/s on 40 DGX-H100 (Splitwise-HH; 130 req/s saturates it)',
    ],
    ['$0 sim --trace coding --window 0:600 --deployment baseline-h100 --compat splitwise', 'ten minutes of the coding trace, SplitwiseSim semantics'],
    ['$0 sim --trace coding --limit 200 --trace-events timeline.json', 'a small run with a Perfetto timeline'],
    ['$0 sim --trace coding --rate 4 --duration 60 --seeds 3 --name mono', 'three runs mono-s0, mono-s1, mono-s2 (reports draw error bars)'],
  ],
  // --seeds is read once the deployment is (src/sim/options.ts parseSeeds).
  read: (f, problems) => ({ opts: resolveSimOptions(f, problems), seedsFlag: f.seeds }),
  run: async ({ opts, seedsFlag }, { json }) => {
    // The run module itself, not the folder's index (which loads sweeps, searches and the experiment too).
    const sim = await import('../sim/run.js');
    // The deployment and the engine data, read here (the simulator reads no file).
    const loaded = (await import('../config/index.js')).loadSimInput(opts);
    const seeds = parseSeeds(seedsFlag, opts.seed);
    if (seeds !== undefined) {
      if (opts.traceEvents)
        throw new (await import('../errors.js')).ConfigError('one Chrome trace per run: drop --trace-events or --seeds', { path: '--seeds' });
      const base = opts.name ?? `sim-${opts.deployment.replace(/[^A-Za-z0-9._-]+/g, '_')}`;
      const results = [];
      let exitCode = 0;
      for (const seed of seeds) {
        const one = { ...opts, seed, name: `${base}-s${seed}`, transforms: { ...opts.transforms, seed } };
        const r = await sim.runSim(Object.freeze(one), loaded, { handleSignals: true });
        results.push({ seed, runId: r.runId, name: one.name, summary: r.summary });
        if (!opts.json) process.stdout.write(`seed ${seed}: run ${r.runId} (${one.name})\n${sim.formatSimResult(r)}\n`);
        exitCode = Math.max(exitCode, r.exitCode);
        if (r.result.stopped) break;
      }
      if (opts.json) json({ runs: results });
      return exitCode;
    }
    const r = await sim.runSim(opts, loaded, { handleSignals: true });
    if (opts.json)
      json({
        runId: r.runId,
        summary: r.summary,
        sim: { ...r.result, machines: r.result.machines.length },
        ...(r.traceEvents ? { traceEvents: r.traceEvents } : {}),
      });
    else process.stdout.write(`${sim.formatSimResult(r)}\n`);
    return r.exitCode;
  },
});
