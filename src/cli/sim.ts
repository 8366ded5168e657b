/** `splitbench sim`: simulate a trace (or a rate load shaped by it) on a deployment, on a virtual clock. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { addFlags } from '../flagspec.js';
import { SIM_FLAGS } from '../sim/options.js';
import { setExitCode } from './main.js';
import { printJson } from './output.js';

type Args = Record<string, unknown>;

export const simCommand: CommandModule<object, Args> = {
  command: 'sim',
  describe: 'simulate a trace on a deployment (virtual clock) and record every request like a live replay',
  builder: (y: Argv) =>
    addFlags(y, SIM_FLAGS)
      .example(
        '$0 sim --trace conversation --deployment splitwise-hh-paper --rate 100 --duration 600',
        'the conversation trace at 100 req/s on 40 DGX-H100 (Splitwise-HH; 130 req/s saturates it)',
      )
      .example('$0 sim --trace coding --window 0:600 --deployment baseline-h100 --compat splitwise', 'ten minutes of the coding trace, SplitwiseSim semantics')
      .example('$0 sim --trace coding --limit 200 --trace-events timeline.json', 'a small run with a Perfetto timeline')
      .example('$0 sim --trace coding --rate 4 --duration 60 --seeds 3 --name mono', 'three runs mono-s0, mono-s1, mono-s2 (reports draw error bars)'),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const sim = await import('../sim/index.js');
    const opts = sim.resolveSimOptions(argv);
    const seeds = sim.parseSeeds(argv, opts.seed);
    if (seeds !== undefined) {
      if (opts.traceEvents)
        throw new (await import('../errors.js')).ConfigError('one Chrome trace per run: drop --trace-events or --seeds', { path: '--seeds' });
      const base = opts.name ?? `sim-${opts.deployment.replace(/[^A-Za-z0-9._-]+/g, '_')}`;
      const results = [];
      let exitCode = 0;
      for (const seed of seeds) {
        const one = { ...opts, seed, name: `${base}-s${seed}`, transforms: { ...opts.transforms, seed } };
        const r = await sim.runSim(Object.freeze(one), { handleSignals: true });
        results.push({ seed, runId: r.runId, name: one.name, summary: r.summary });
        if (!opts.json) process.stdout.write(`seed ${seed}: run ${r.runId} (${one.name})\n${sim.formatSimResult(r)}\n`);
        exitCode = Math.max(exitCode, r.exitCode);
        if (r.result.stopped) break;
      }
      if (opts.json) printJson('sim', { runs: results });
      setExitCode(exitCode);
      return;
    }
    const r = await sim.runSim(opts, { handleSignals: true });
    if (opts.json)
      printJson('sim', {
        runId: r.runId,
        summary: r.summary,
        sim: { ...r.result, machines: r.result.machines.length },
        ...(r.traceEvents ? { traceEvents: r.traceEvents } : {}),
      });
    else process.stdout.write(`${sim.formatSimResult(r)}\n`);
    setExitCode(r.exitCode);
  },
};
