/** `splitbench replay`: replay a trace (or a rate / closed-loop load shaped by it) against a target. */
import { parseFlags, Problems } from '../flagspec.js';
import { REPLAY_FLAGS, resolveReplayOptions } from '../load/options.js';
import { addShardOptions, resolveScaleOptions, SHARD_FLAGS } from '../scale/options.js';
import { defineCommand } from './define.js';

export const replayCommand = defineCommand({
  command: 'replay',
  describe: 'replay a trace against a target (default: the bundled reference backend) and record every request',
  flags: REPLAY_FLAGS,
  examples: [
    [
      '$0 replay --trace coding --window 0:120 --time-scale 2',
      'two minutes of the Azure coding trace against the bundled Splitwise-HH backend, checked against its simulated twin',
    ],
    ['$0 replay --trace conversation --url http://127.0.0.1:8000 --model llama', 'the conversation trace against a running vLLM server'],
    ['$0 replay --trace coding --rate 5 --arrivals gamma:2 --duration 300 --warmup 30', 'bursty synthetic load at 5 req/s, sizes from the coding trace'],
    ['$0 replay --trace coding --concurrency 16 --max-requests 500 --json', 'closed loop, 16 in flight, summary as JSON'],
    [
      '$0 replay --trace coding --url http://proxy:8192 --target vllm --power prefill:dcgm=http://p1:9400 --power decode:dcgm=http://d1:9400 --scrape http://p1:8100,prefill --scrape http://d1:8200,decode --price h100-80gb=2.5',
      'a phase-split vLLM deployment with per-role GPU power, server metrics and your own GPU price',
    ],
  ],
  more: addShardOptions,
  read: (f, problems, argv) => {
    const replay = resolveReplayOptions(f, process.env, problems);
    // Scale-out (--shard, --procs, --metrics-port; src/scale): checked once the replay's flags are good.
    const shardProblems = new Problems();
    const scale = resolveScaleOptions(parseFlags(SHARD_FLAGS, argv, shardProblems), shardProblems, replay.shape.kind === 'closed');
    return { replay, scale };
  },
  run: async ({ replay, scale: scaleOpts }, { json }) => {
    const load = await import('../load/index.js');
    let resolved = replay;
    const scale = await import('../scale/index.js');
    if (resolved.timeScaleAuto) {
      if (scaleOpts) {
        const { ConfigError } = await import('../errors.js');
        throw new ConfigError('--time-scale auto: not with --shard or --procs (calibrate once, then give every shard the number)', { path: '--time-scale' });
      }
      // Calibrate on this machine, then run at the highest scale that held (the run's tag says how it was chosen).
      const cal = await load.calibrateTimeScale(resolved, (l) => process.stderr.write(`${l}\n`));
      process.stderr.write(
        `splitbench replay: time scale auto: running at x${cal.timeScale}` +
          (cal.undistorted ? '\n' : ' (every scale tried was distorted on this machine; the run will say why)\n'),
      );
      const tried = cal.tries.map((t) => `x${t.timeScale}${t.distorted ? ' distorted' : ' held'}`).join(', ');
      resolved = { ...resolved, timeScale: cal.timeScale, timeScaleAuto: false, tags: { ...resolved.tags, time_scale_auto: tried } };
    }
    if (scaleOpts?.procs !== undefined) {
      return await scale.replayProcs(process.argv.slice(2), resolved, scaleOpts);
    }
    const session = scaleOpts ? await scale.shardSession(resolved, scaleOpts) : undefined;
    const opts = session?.opts ?? resolved;
    const { exitCode, summary } = await load.runReplay(opts, { handleSignals: true, ...(session ? { hooks: session.hooks } : {}) });
    // The figures are those `splitbench summary` prints for the run (from the stored rows); --json adds the
    // full summary under `metrics`.
    if (opts.json) json(summary);
    else
      process.stdout.write(
        `${load.formatSummary(summary)}\nfull summary: splitbench summary --run ${summary.runId}${opts.db === load.REPLAY_DB_DEFAULT ? '' : ` --db ${opts.db}`}\n`,
      );
    return exitCode;
  },
});
