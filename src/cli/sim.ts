/** `splitbench sim`: simulate a trace (or a rate load shaped by it) on a deployment, on a virtual clock. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { addTraceTransformOptions } from '../trace/options.js';
import { setExitCode } from './main.js';
import { printJson } from './output.js';

type Args = Record<string, unknown>;

export const simCommand: CommandModule<object, Args> = {
  command: 'sim',
  describe: 'simulate a trace on a deployment (virtual clock) and record every request like a live replay',
  builder: (y: Argv) =>
    addTraceTransformOptions(
      y
        .option('trace', { type: 'string', describe: 'trace file, or a bundled trace name (coding, conversation)', demandOption: true, group: 'Trace:' })
        .option('deployment', { type: 'string', describe: 'deployment, by bundled name or YAML file (default splitwise-hh)', group: 'Cluster:' })
        .option('model', { type: 'string', describe: "override the deployment's model", group: 'Cluster:' })
        .option('perf-model', {
          type: 'string',
          choices: ['auto', 'profile', 'roofline'],
          requiresArg: true,
          describe:
            "performance model instead of the deployment's perfModel: profile (measured), roofline (hardware specs), auto (the profile where one exists, else the roofline)",
          group: 'Cluster:',
        })
        .option('compat', { type: 'string', describe: "'splitwise': SplitwiseSim-compatible semantics (default: the realistic engine)", group: 'Cluster:' })
        .option('rate', { type: 'number', describe: 'open loop at R req/s (arrivals from --arrivals), sizes sampled from the trace', group: 'Load:' })
        .option('arrivals', { type: 'string', describe: 'arrival process for --rate: poisson (default), gamma:CV, constant, uniform', group: 'Load:' })
        .option('duration', { type: 'number', describe: 'only requests arriving in the first S seconds', group: 'Load:' })
        .option('max-requests', { type: 'number', describe: 'at most N requests', group: 'Load:' })
        .option('sessions', {
          type: 'boolean',
          describe:
            "multi-turn sessions: a session's next turn is sent its think time (the trace's gap between the turns) after the previous answer ends, its prompt the previous prompt + answer + new tokens; turns by session id, else by hash-prefix chain",
          group: 'Load:',
        })
        .option('warmup', {
          type: 'number',
          describe: 'requests arriving in the first S seconds are recorded as warm-up (excluded from summaries)',
          group: 'Load:',
        })
        .option('db', { type: 'string', describe: 'results store (default results/splitbench.db)', group: 'Run:' })
        .option('name', { type: 'string', describe: 'run name (default sim-<n>)', group: 'Run:' })
        .option('tag', { type: 'string', array: true, describe: 'KEY=VALUE label stored with the run (repeatable)', group: 'Run:' })
        .option('sample-interval', { type: 'number', describe: 'virtual seconds between power and queue samples (default 1; 0: none)', group: 'Run:' })
        .option('trace-events', { type: 'string', describe: 'write the batch/prompt/KV timeline as Chrome trace JSON (Perfetto) to FILE', group: 'Run:' })
        .option('seeds', {
          type: 'string',
          describe: 'repeat the run once per seed: a count N (seeds --seed … --seed+N−1) or a comma list; runs are named NAME-sSEED',
          group: 'Run:',
        })
        .option('json', { type: 'boolean', describe: 'print the summary as JSON', group: 'Run:' })
        .example(
          '$0 sim --trace conversation --deployment splitwise-hh-paper --rate 100 --duration 600',
          'the conversation trace at 100 req/s on 40 DGX-H100 (Splitwise-HH; 130 req/s saturates it)',
        )
        .example(
          '$0 sim --trace coding --window 0:600 --deployment baseline-h100 --compat splitwise',
          'ten minutes of the coding trace, SplitwiseSim semantics',
        )
        .example('$0 sim --trace coding --limit 200 --trace-events timeline.json', 'a small run with a Perfetto timeline')
        .example('$0 sim --trace coding --rate 4 --duration 60 --seeds 3 --name mono', 'three runs mono-s0, mono-s1, mono-s2 (reports draw error bars)'),
    ),
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
