/** `splitbench serve`: the reference backend, an OpenAI-compatible streaming server over an emulated GPU cluster. */
import { PERF_MODEL_FLAG } from '../flags.js';
import type { FlagValues } from '../flagspec.js';
import { defineCommand, given } from './define.js';

const SERVE_FLAGS = {
  deployment: {
    type: 'string',
    required: true,
    requiresArg: true,
    describe: 'bundled deployment name (e.g. splitwise-hh, baseline-h100) or a deployment YAML file; with --engine real: mono or split',
  },
  model: { type: 'string', requiresArg: true, describe: "catalog model to serve instead of the deployment's" },
  ...PERF_MODEL_FLAG,
  host: { type: 'string', default: '127.0.0.1', requiresArg: true, describe: 'address to listen on' },
  port: { type: 'number', integer: true, min: 0, max: 65535, default: 8000, requiresArg: true, describe: 'port to listen on (0: a free port)' },
  'time-scale': {
    type: 'number',
    positive: true,
    default: 1,
    requiresArg: true,
    describe: 'run the emulated GPUs K times faster than real ones (reported times stay in real-GPU seconds)',
  },
  'max-queue': {
    type: 'number',
    integer: true,
    min: 1,
    default: 10000,
    requiresArg: true,
    describe: 'requests in flight beyond which new ones get HTTP 429 with Retry-After',
  },
  'header-timeout': {
    type: 'number',
    positive: true,
    max: 3600,
    default: 10,
    requiresArg: true,
    describe: 'seconds a request (or a new connection) may take to send its headers; then 408 and the connection is closed',
    group: 'HTTP limits:',
  },
  'body-timeout': {
    type: 'number',
    positive: true,
    max: 3600,
    default: 30,
    requiresArg: true,
    describe: 'seconds after its headers by which a request body must be complete; then 408 and close (responses are never timed)',
    group: 'HTTP limits:',
  },
  'max-body-mib': {
    type: 'number',
    positive: true,
    max: 1024,
    default: 32,
    requiresArg: true,
    describe: 'largest request body (MiB); larger gets 413',
    group: 'HTTP limits:',
  },
  'max-buffered-mib': {
    type: 'number',
    positive: true,
    max: 16384,
    default: 128,
    requiresArg: true,
    describe: 'request-body bytes held across all connections at once (MiB); a body that would pass it gets 503',
    group: 'HTTP limits:',
  },
  'max-output-tokens': {
    type: 'number',
    integer: true,
    min: 1,
    requiresArg: true,
    describe:
      "cap on every request's output length, given or defaulted (as vLLM's generation-config max_new_tokens; without it a chat request without max_tokens may run up to the context)",
    defaultText: 'none',
    group: 'HTTP limits:',
  },
  'api-key': {
    type: 'string',
    empty: true,
    describe: "require 'Authorization: Bearer KEY' on /v1/* routes ('' for none)",
    defaultText: '$SPLITBENCH_API_KEY',
    group: 'HTTP limits:',
  },
  compat: { type: 'string', choices: ['splitwise'], describe: 'SplitwiseSim-compatible engine semantics' },
  seed: { type: 'number', requiresArg: true, describe: 'seed of the random cluster scheduler' },
  role: {
    type: 'string',
    choices: ['prefill', 'decode'],
    describe:
      "serve one pool of a split deployment as its own endpoint, speaking vLLM's disaggregated-serving protocol (kv_transfer_params): prefill = the prompt pool, decode = the token pool (KV transfer charged here); put a P/D proxy in front",
  },
  engine: {
    type: 'string',
    choices: ['emulated', 'real'],
    default: 'emulated',
    describe: 'emulated: GPUs from the performance model; real: llama.cpp worker processes running a model file',
    group: 'Real inference:',
  },
  'model-file': {
    type: 'string',
    requiresArg: true,
    describe: 'GGUF model (see `splitbench model make`)',
    defaultText: 'the tiny generated model, made on first use',
    group: 'Real inference:',
  },
  workers: { type: 'number', requiresArg: true, defaultText: '1', describe: 'mono: worker processes', group: 'Real inference:' },
  'prompt-workers': { type: 'number', requiresArg: true, defaultText: '1', describe: 'split: prompt worker processes', group: 'Real inference:' },
  'token-workers': { type: 'number', requiresArg: true, defaultText: '1', describe: 'split: token worker processes', group: 'Real inference:' },
  threads: { type: 'number', requiresArg: true, defaultText: '1', describe: 'llama.cpp threads per worker', group: 'Real inference:' },
  slots: {
    type: 'number',
    requiresArg: true,
    defaultText: '8',
    describe: 'sequences per worker: the most requests it batches',
    group: 'Real inference:',
  },
  context: {
    type: 'number',
    requiresArg: true,
    describe: 'KV cells per sequence = longest prompt + output',
    defaultText: "min(2048, the model's)",
    group: 'Real inference:',
  },
  'kv-tokens': {
    type: 'number',
    requiresArg: true,
    defaultText: 'slots × context',
    describe: 'KV tokens a worker may hold; requests queue beyond',
    group: 'Real inference:',
  },
  gpu: {
    type: 'string',
    choices: ['auto', 'cuda', 'none'],
    default: 'auto',
    describe: 'llama.cpp backend: CUDA where installed (auto), required (cuda), or CPU (none)',
    group: 'Real inference:',
  },
  scheduler: {
    type: 'string',
    choices: ['jsq-tokens', 'round-robin', 'random'],
    defaultText: 'jsq-tokens',
    describe: 'router policy over the workers',
    group: 'Real inference:',
  },
} as const;

type ServeFlags = FlagValues<typeof SERVE_FLAGS>;

/** The HTTP-layer flags; the key from `--api-key`, else `SPLITBENCH_API_KEY` (`--api-key ''`: no key). */
function httpLimits(a: ServeFlags, env: NodeJS.ProcessEnv = process.env): import('../server/serve.js').HttpLimits {
  const key = a.apiKey ?? env.SPLITBENCH_API_KEY;
  return {
    headerTimeoutS: a.headerTimeout,
    bodyTimeoutS: a.bodyTimeout,
    maxBodyMiB: a.maxBodyMib,
    maxBufferedMiB: a.maxBufferedMib,
    ...(key ? { apiKey: key } : {}),
    ...(a.maxOutputTokens === undefined ? {} : { maxOutputTokens: a.maxOutputTokens }),
  };
}

/** Flags that belong to one engine only (named in the error when given to the other). */
const REAL_ONLY = ['model-file', 'workers', 'prompt-workers', 'token-workers', 'threads', 'slots', 'context', 'kv-tokens', 'scheduler'] as const;

export const serveCommand = defineCommand({
  command: 'serve',
  describe: 'run the reference backend: an OpenAI-compatible streaming server emulating a GPU cluster',
  flags: SERVE_FLAGS,
  examples: [
    ['$0 serve --deployment splitwise-hh', 'serve the phase-split Splitwise-HH cluster on http://127.0.0.1:8000'],
    [
      '$0 serve --deployment baseline-h100 --model llama3-70b --perf-model auto --port 0 --time-scale 10',
      'Llama-3 70B on a monolithic H100 cluster (no measured profile: the roofline), 10x faster, on a free port',
    ],
    [
      '$0 serve --deployment splitwise-hh --role prefill --port 8100',
      'the prompt pool of a split deployment as a prefill endpoint (and --role decode --port 8200 for the token pool), behind a P/D proxy',
    ],
    ['$0 serve --deployment my-cluster.yaml --max-queue 512', 'a deployment file, refusing work past 512 requests in flight'],
    [
      '$0 serve --engine real --deployment split --prompt-workers 1 --token-workers 1',
      'real inference (tiny generated model, CPU): a prompt worker and a token worker, KV shipped over loopback TCP',
    ],
  ],
  run: async (f, { argv }) => {
    if (f.engine === 'real') {
      const { ConfigError } = await import('../errors.js');
      const wrong = [
        f.model !== undefined && '--model',
        f.perfModel !== undefined && '--perf-model',
        f.compat !== undefined && '--compat',
        f.timeScale !== 1 && '--time-scale',
        f.role !== undefined && '--role',
      ].filter(Boolean);
      if (wrong.length > 0)
        throw new ConfigError(`${wrong.join(', ')}: only with --engine emulated`, {
          hint: 'the real engine runs at the speed of this machine; pick the model with --model-file',
        });
      const { serveReal } = await import('../worker/serve.js');
      const a = f;
      return await serveReal({
        deployment: a.deployment as 'mono' | 'split',
        host: a.host,
        port: a.port,
        maxQueue: a.maxQueue,
        http: httpLimits(a),
        gpu: a.gpu,
        ...given({
          modelFile: a.modelFile,
          workers: a.workers,
          promptWorkers: a.promptWorkers,
          tokenWorkers: a.tokenWorkers,
          threads: a.threads,
          slots: a.slots,
          contextSize: a.context,
          kvTokens: a.kvTokens,
          scheduler: a.scheduler,
          seed: a.seed,
        }),
      });
    }
    const realOnly = REAL_ONLY.filter((f) => argv[f] !== undefined).map((f) => `--${f}`);
    if (realOnly.length > 0) {
      const { ConfigError } = await import('../errors.js');
      throw new ConfigError(`${realOnly.join(', ')}: only with --engine real`);
    }
    const { serve } = await import('../server/serve.js');
    const code = await serve({
      deployment: f.deployment,
      host: f.host,
      port: f.port,
      timeScale: f.timeScale,
      maxQueue: f.maxQueue,
      http: httpLimits(f),
      ...given({ model: f.model, perfModel: f.perfModel }),
      ...(f.compat === 'splitwise' ? { compat: 'splitwise' as const } : {}),
      ...given({ seed: f.seed, role: f.role }),
    });
    return code;
  },
});
