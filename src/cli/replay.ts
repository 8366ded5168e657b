/** `splitbench replay`: replay a trace (or a rate / closed-loop load shaped by it) against a target. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { addTraceTransformOptions } from '../trace/options.js';
import { addShardOptions } from '../scale/options.js';
import { setExitCode } from './main.js';
import { printJson } from './output.js';

type Args = Record<string, unknown>;

export const replayCommand: CommandModule<object, Args> = {
  command: 'replay',
  describe: 'replay a trace against a target (default: the bundled reference backend) and record every request',
  builder: (y: Argv) =>
    addShardOptions(
      addTraceTransformOptions(
        y
          .option('trace', { type: 'string', describe: 'trace file, or a bundled trace name (coding, conversation)', demandOption: true, group: 'Trace:' })
          .option('url', { type: 'string', describe: 'base URL of an OpenAI-compatible server (default: start the reference backend)', group: 'Target:' })
          .option('deployment', {
            type: 'string',
            describe: 'reference backend deployment, by name or YAML file (default splitwise-hh); with --url only recorded',
            group: 'Target:',
          })
          .option('model', { type: 'string', describe: 'model name (default: the first one /v1/models lists)', group: 'Target:' })
          .option('time-scale', {
            type: 'string',
            describe:
              'the target runs K times faster than real GPUs: send at arrival/K, store times × K (default 1); auto: the highest of 20, 10, 5, 2, 1 that a 60-request calibration with the twin check finds undistorted on this machine (bundled backend only)',
            group: 'Target:',
          })
          .option('endpoint', { choices: ['completions', 'chat'], describe: 'OpenAI route (default completions)', group: 'Target:' })
          .option('prompt', {
            choices: ['tokens', 'text'],
            describe: 'prompt as exact token ids (default on completions) or as a text of about the right length',
            group: 'Target:',
          })
          .option('api-key', { type: 'string', describe: 'Bearer token (default: $SPLITBENCH_API_KEY)', group: 'Target:' })
          .option('header', { type: 'string', array: true, describe: "extra HTTP header 'Name: value' (repeatable)", group: 'Target:' })
          .option('extra-body', { type: 'string', describe: 'JSON object merged into every request body', group: 'Target:' })
          .option('target', {
            choices: ['vllm', 'sglang', 'trtllm', 'dynamo', 'openai'],
            describe: 'request-body preset of the serving engine: exact output length and per-chunk usage fields (default: vLLM-style)',
            group: 'Target:',
          })
          .option('power', {
            type: 'string',
            array: true,
            describe:
              'power source, repeatable: model[=URL] (the reference backend; default when replay starts it), ROLE:nvidia-smi[@SSH_HOST], ROLE:dcgm=URL, ROLE:prometheus=URL,metric=NAME; add ,type=MACHINE_OR_GPU for pricing; none: off',
            group: 'Telemetry:',
          })
          .option('power-interval', { type: 'number', describe: 'sampling period of power sources and --scrape, ms (default 1000)', group: 'Telemetry:' })
          .option('scrape', {
            type: 'string',
            array: true,
            describe: "a server's Prometheus /metrics sampled into timeline samples: URL[,ROLE] (target: the replay's own target), repeatable",
            group: 'Telemetry:',
          })
          .option('price', {
            type: 'string',
            array: true,
            describe: 'override a price of workloads/prices.yaml: MACHINE_OR_GPU_TYPE=USD_PER_HOUR (repeatable)',
            group: 'Telemetry:',
          })
          .option('price-kwh', {
            type: 'number',
            describe: 'electricity price for the energy cost, USD per kWh (default from workloads/prices.yaml)',
            group: 'Telemetry:',
          })
          .option('rate', { type: 'number', describe: 'open loop at R req/s (arrivals from --arrivals), sizes sampled from the trace', group: 'Load:' })
          .option('arrivals', { type: 'string', describe: 'arrival process for --rate: poisson (default), gamma:CV, constant, uniform', group: 'Load:' })
          .option('concurrency', { type: 'number', describe: 'closed loop: keep N requests in flight, sizes in trace order', group: 'Load:' })
          .option('duration', { type: 'number', describe: 'stop scheduling after S trace seconds', group: 'Load:' })
          .option('max-requests', { type: 'number', describe: 'send at most N requests', group: 'Load:' })
          .option('sessions', {
            type: 'boolean',
            describe:
              "multi-turn sessions: a session's next turn is sent its think time (the trace's gap between the turns) after the previous answer ends, its prompt the previous prompt + answer + new tokens; turns by session id, else by hash-prefix chain",
            group: 'Load:',
          })
          .option('warmup', {
            type: 'number',
            describe: 'requests scheduled in the first S trace seconds are recorded as warmup (excluded from summaries)',
            group: 'Load:',
          })
          .option('timeout-connect', { type: 'number', describe: 'connect timeout, wall seconds (default 10; 0: none)', group: 'Timeouts:' })
          .option('timeout-first-token', { type: 'number', describe: 'send → first token, wall seconds (default 600; 0: none)', group: 'Timeouts:' })
          .option('timeout-between-tokens', { type: 'number', describe: 'longest gap between tokens, wall seconds (default 120; 0: none)', group: 'Timeouts:' })
          .option('timeout-total', { type: 'number', describe: 'whole request, wall seconds (default 0: none)', group: 'Timeouts:' })
          .option('max-error-rate', {
            type: 'number',
            describe: 'stop the run (exit 5) when more than this fraction of requests fail (judged after 20)',
            group: 'Run:',
          })
          .option('grace', { type: 'number', describe: 'on the first Ctrl-C/SIGTERM, seconds in-flight requests get to finish (default 10)', group: 'Run:' })
          .option('db', { type: 'string', describe: 'results store (default results/splitbench.db)', group: 'Run:' })
          .option('name', { type: 'string', describe: 'run name (default live-<n>)', group: 'Run:' })
          .option('tag', { type: 'string', array: true, describe: 'KEY=VALUE label stored with the run (repeatable)', group: 'Run:' })
          .option('twin', {
            type: 'boolean',
            describe:
              'against the bundled backend: simulate the same requests (the twin, a linked sim run) and flag the run distorted when they disagree (default true; --no-twin: off)',
            group: 'Run:',
          })
          .option('distortion-bound', {
            type: 'number',
            describe:
              "the twin check's bound: TTFT/TBT/E2E p50 and p99 within this fraction of the twin, coalesced chunk gaps and server emission delay below it (of the TBT p50) (default 0.05)",
            group: 'Run:',
          })
          .option('json', { type: 'boolean', describe: 'print the summary as JSON', group: 'Run:' })
          .example(
            '$0 replay --trace coding --window 0:120 --time-scale 2',
            'two minutes of the Azure coding trace against the bundled Splitwise-HH backend, checked against its simulated twin',
          )
          .example('$0 replay --trace conversation --url http://127.0.0.1:8000 --model llama', 'the conversation trace against a running vLLM server')
          .example(
            '$0 replay --trace coding --rate 5 --arrivals gamma:2 --duration 300 --warmup 30',
            'bursty synthetic load at 5 req/s, sizes from the coding trace',
          )
          .example('$0 replay --trace coding --concurrency 16 --max-requests 500 --json', 'closed loop, 16 in flight, summary as JSON')
          .example(
            '$0 replay --trace coding --url http://proxy:8192 --target vllm --power prefill:dcgm=http://p1:9400 --power decode:dcgm=http://d1:9400 --scrape http://p1:8100,prefill --scrape http://d1:8200,decode --price h100-80gb=2.5',
            'a phase-split vLLM deployment with per-role GPU power, server metrics and your own GPU price',
          ),
      ),
    ),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const load = await import('../load/index.js');
    let resolved = load.resolveReplayOptions(argv);
    // Scale-out (--shard, --procs, --metrics-port): src/scale.
    const scale = await import('../scale/index.js');
    const scaleOpts = scale.resolveScaleOptions(argv);
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
      setExitCode(await scale.replayProcs(process.argv.slice(2), resolved, scaleOpts));
      return;
    }
    const session = scaleOpts ? await scale.shardSession(resolved, scaleOpts) : undefined;
    const opts = session?.opts ?? resolved;
    const { exitCode, summary } = await load.runReplay(opts, { handleSignals: true, ...(session ? { hooks: session.hooks } : {}) });
    // The figures are those `splitbench summary` prints for the run (from the stored rows); --json adds the
    // full summary under `metrics`.
    if (opts.json) printJson('replay', summary);
    else
      process.stdout.write(
        `${load.formatSummary(summary)}\nfull summary: splitbench summary --run ${summary.runId}${opts.db === load.REPLAY_DB_DEFAULT ? '' : ` --db ${opts.db}`}\n`,
      );
    setExitCode(exitCode);
  },
};
