/** `splitbench serve`: the reference backend, an OpenAI-compatible streaming server over an emulated GPU cluster. */
import type { CommandModule } from 'yargs';
import { setExitCode } from './main.js';

interface ServeArgs {
  deployment: string;
  model?: string | undefined;
  'perf-model'?: string | undefined;
  host: string;
  port: number;
  'time-scale': number;
  'max-queue': number;
  compat?: string | undefined;
  seed?: number | undefined;
  role?: string | undefined;
  engine: string;
  'model-file'?: string | undefined;
  workers?: number | undefined;
  'prompt-workers'?: number | undefined;
  'token-workers'?: number | undefined;
  threads?: number | undefined;
  slots?: number | undefined;
  context?: number | undefined;
  'kv-tokens'?: number | undefined;
  gpu: string;
  scheduler?: string | undefined;
  'header-timeout': number;
  'body-timeout': number;
  'max-body-mib': number;
  'max-buffered-mib': number;
  'api-key'?: string | undefined;
  'max-output-tokens'?: number | undefined;
}

/** The HTTP-layer flags; the key from `--api-key`, else `SPLITBENCH_API_KEY` (`--api-key ''`: no key). */
function httpLimits(a: ServeArgs, env: NodeJS.ProcessEnv = process.env): import('../server/serve.js').HttpLimits {
  const key = a['api-key'] ?? env.SPLITBENCH_API_KEY;
  return {
    headerTimeoutS: a['header-timeout'],
    bodyTimeoutS: a['body-timeout'],
    maxBodyMiB: a['max-body-mib'],
    maxBufferedMiB: a['max-buffered-mib'],
    ...(key ? { apiKey: key } : {}),
    ...(a['max-output-tokens'] === undefined ? {} : { maxOutputTokens: a['max-output-tokens'] }),
  };
}

/** Flags that belong to one engine only (named in the error when given to the other). */
const REAL_ONLY = ['model-file', 'workers', 'prompt-workers', 'token-workers', 'threads', 'slots', 'context', 'kv-tokens', 'scheduler'] as const;

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'run the reference backend: an OpenAI-compatible streaming server emulating a GPU cluster',
  builder: (y) =>
    y
      .option('deployment', {
        type: 'string',
        demandOption: true,
        requiresArg: true,
        describe: 'bundled deployment name (e.g. splitwise-hh, baseline-h100) or a deployment YAML file; with --engine real: mono or split',
      })
      .option('model', { type: 'string', requiresArg: true, describe: "catalog model to serve instead of the deployment's" })
      .option('perf-model', {
        type: 'string',
        choices: ['auto', 'profile', 'roofline'],
        requiresArg: true,
        describe:
          "performance model instead of the deployment's perfModel: profile (measured), roofline (hardware specs), auto (the profile where one exists, else the roofline)",
      })
      .option('host', { type: 'string', default: '127.0.0.1', requiresArg: true, describe: 'address to listen on' })
      .option('port', { type: 'number', default: 8000, requiresArg: true, describe: 'port to listen on (0: a free port)' })
      .option('time-scale', {
        type: 'number',
        default: 1,
        requiresArg: true,
        describe: 'run the emulated GPUs K times faster than real ones (reported times stay in real-GPU seconds)',
      })
      .option('max-queue', {
        type: 'number',
        default: 10000,
        requiresArg: true,
        describe: 'requests in flight beyond which new ones get HTTP 429 with Retry-After',
      })
      .option('header-timeout', {
        type: 'number',
        default: 10,
        requiresArg: true,
        describe: 'seconds a request (or a new connection) may take to send its headers; then 408 and the connection is closed',
        group: 'HTTP limits:',
      })
      .option('body-timeout', {
        type: 'number',
        default: 30,
        requiresArg: true,
        describe: 'seconds after its headers by which a request body must be complete; then 408 and close (responses are never timed)',
        group: 'HTTP limits:',
      })
      .option('max-body-mib', {
        type: 'number',
        default: 32,
        requiresArg: true,
        describe: 'largest request body (MiB); larger gets 413',
        group: 'HTTP limits:',
      })
      .option('max-buffered-mib', {
        type: 'number',
        default: 128,
        requiresArg: true,
        describe: 'request-body bytes held across all connections at once (MiB); a body that would pass it gets 503',
        group: 'HTTP limits:',
      })
      .option('max-output-tokens', {
        type: 'number',
        requiresArg: true,
        describe:
          "cap on every request's output length, given or defaulted (as vLLM's generation-config max_new_tokens; default: none, so a chat request without max_tokens may run up to the context)",
        group: 'HTTP limits:',
      })
      .option('api-key', {
        type: 'string',
        requiresArg: false,
        describe: "require 'Authorization: Bearer KEY' on /v1/* routes (default: $SPLITBENCH_API_KEY; '' for none)",
        group: 'HTTP limits:',
      })
      .option('compat', { type: 'string', choices: ['splitwise'], describe: 'SplitwiseSim-compatible engine semantics' })
      .option('seed', { type: 'number', requiresArg: true, describe: 'seed of the random cluster scheduler' })
      .option('role', {
        type: 'string',
        choices: ['prefill', 'decode'],
        describe:
          "serve one pool of a split deployment as its own endpoint, speaking vLLM's disaggregated-serving protocol (kv_transfer_params): prefill = the prompt pool, decode = the token pool (KV transfer charged here); put a P/D proxy in front",
      })
      .option('engine', {
        type: 'string',
        choices: ['emulated', 'real'],
        default: 'emulated',
        describe: 'emulated: GPUs from the performance model; real: llama.cpp worker processes running a model file',
        group: 'Real inference:',
      })
      .option('model-file', {
        type: 'string',
        requiresArg: true,
        describe: 'GGUF model (default: the tiny generated model, made on first use; see `splitbench model make`)',
        group: 'Real inference:',
      })
      .option('workers', { type: 'number', requiresArg: true, describe: 'mono: worker processes (default 1)', group: 'Real inference:' })
      .option('prompt-workers', { type: 'number', requiresArg: true, describe: 'split: prompt worker processes (default 1)', group: 'Real inference:' })
      .option('token-workers', { type: 'number', requiresArg: true, describe: 'split: token worker processes (default 1)', group: 'Real inference:' })
      .option('threads', { type: 'number', requiresArg: true, describe: 'llama.cpp threads per worker (default 1)', group: 'Real inference:' })
      .option('slots', {
        type: 'number',
        requiresArg: true,
        describe: 'sequences per worker: the most requests it batches (default 8)',
        group: 'Real inference:',
      })
      .option('context', {
        type: 'number',
        requiresArg: true,
        describe: "KV cells per sequence = longest prompt + output (default min(2048, the model's))",
        group: 'Real inference:',
      })
      .option('kv-tokens', {
        type: 'number',
        requiresArg: true,
        describe: 'KV tokens a worker may hold; requests queue beyond (default slots × context)',
        group: 'Real inference:',
      })
      .option('gpu', {
        type: 'string',
        choices: ['auto', 'cuda', 'none'],
        default: 'auto',
        describe: 'llama.cpp backend: CUDA where installed (auto), required (cuda), or CPU (none)',
        group: 'Real inference:',
      })
      .option('scheduler', {
        type: 'string',
        choices: ['jsq-tokens', 'round-robin', 'random'],
        describe: 'router policy over the workers (default jsq-tokens)',
        group: 'Real inference:',
      })
      .example('$0 serve --deployment splitwise-hh', 'serve the phase-split Splitwise-HH cluster on http://127.0.0.1:8000')
      .example(
        '$0 serve --deployment baseline-h100 --model llama3-70b --perf-model auto --port 0 --time-scale 10',
        'Llama-3 70B on a monolithic H100 cluster (no measured profile: the roofline), 10x faster, on a free port',
      )
      .example(
        '$0 serve --deployment splitwise-hh --role prefill --port 8100',
        'the prompt pool of a split deployment as a prefill endpoint (and --role decode --port 8200 for the token pool), behind a P/D proxy',
      )
      .example('$0 serve --deployment my-cluster.yaml --max-queue 512', 'a deployment file, refusing work past 512 requests in flight')
      .example(
        '$0 serve --engine real --deployment split --prompt-workers 1 --token-workers 1',
        'real inference (tiny generated model, CPU): a prompt worker and a token worker, KV shipped over loopback TCP',
      ),
  handler: async (argv) => {
    if (argv.engine === 'real') {
      const { ConfigError } = await import('../errors.js');
      const wrong = [
        argv.model !== undefined && '--model',
        argv['perf-model'] !== undefined && '--perf-model',
        argv.compat !== undefined && '--compat',
        argv['time-scale'] !== 1 && '--time-scale',
        argv.role !== undefined && '--role',
      ].filter(Boolean);
      if (wrong.length > 0)
        throw new ConfigError(`${wrong.join(', ')}: only with --engine emulated`, {
          hint: 'the real engine runs at the speed of this machine; pick the model with --model-file',
        });
      const { serveReal } = await import('../worker/serve.js');
      const a = argv as ServeArgs;
      setExitCode(
        await serveReal({
          deployment: a.deployment as 'mono' | 'split',
          host: a.host,
          port: a.port,
          maxQueue: a['max-queue'],
          http: httpLimits(a),
          gpu: a.gpu as 'auto' | 'cuda' | 'none',
          ...(a['model-file'] === undefined ? {} : { modelFile: a['model-file'] }),
          ...(a.workers === undefined ? {} : { workers: a.workers }),
          ...(a['prompt-workers'] === undefined ? {} : { promptWorkers: a['prompt-workers'] }),
          ...(a['token-workers'] === undefined ? {} : { tokenWorkers: a['token-workers'] }),
          ...(a.threads === undefined ? {} : { threads: a.threads }),
          ...(a.slots === undefined ? {} : { slots: a.slots }),
          ...(a.context === undefined ? {} : { contextSize: a.context }),
          ...(a['kv-tokens'] === undefined ? {} : { kvTokens: a['kv-tokens'] }),
          ...(a.scheduler === undefined ? {} : { scheduler: a.scheduler as 'jsq-tokens' }),
          ...(a.seed === undefined ? {} : { seed: a.seed }),
        }),
      );
      return;
    }
    const realOnly = REAL_ONLY.filter((f) => argv[f] !== undefined).map((f) => `--${f}`);
    if (realOnly.length > 0) {
      const { ConfigError } = await import('../errors.js');
      throw new ConfigError(`${realOnly.join(', ')}: only with --engine real`);
    }
    const { serve } = await import('../server/serve.js');
    const code = await serve({
      deployment: argv.deployment,
      host: argv.host,
      port: argv.port,
      timeScale: argv['time-scale'],
      maxQueue: argv['max-queue'],
      http: httpLimits(argv),
      ...(argv.model === undefined ? {} : { model: argv.model }),
      ...(argv['perf-model'] === undefined ? {} : { perfModel: argv['perf-model'] }),
      ...(argv.compat === 'splitwise' ? { compat: 'splitwise' as const } : {}),
      ...(argv.seed === undefined ? {} : { seed: argv.seed }),
      ...(argv.role === undefined ? {} : { role: argv.role as 'prefill' | 'decode' }),
    });
    setExitCode(code);
  },
};
