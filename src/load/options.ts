/**
 * The replay's options: one flag spec (REPLAY_FLAGS, src/flagspec.ts: help and checks), validated once at
 * the edge (flags + environment), every problem reported at once with the flag it belongs to, resolved into
 * one frozen, fully-defaulted value (STYLE 7). The defaults are src/flags.ts's.
 *
 * Precedence: built-in defaults < `SPLITBENCH_API_KEY` < flags.
 */
import { httpUrl, LOAD_FLAGS, type LoadBounds, REPLAY_DEFAULTS, RUN_FLAGS, type RunLabels } from '../flags.js';
import { type FlagValues, flagGroup, keyValues, Problems, withFlags } from '../flagspec.js';
import { storeTargetProblem } from '../store/target.js';
import { TRACE_FLAGS, TRACE_INPUT_FLAGS, type TraceSelection, traceOptions } from '../trace/options.js';
import { parseTelemetryFlags, type RunTelemetryOptions } from '../telemetry/run.js';
import type { Timeouts } from './client.js';
import type { Endpoint, PromptMode } from './prompt.js';

export const DEFAULTS = REPLAY_DEFAULTS;

export type LoadShape =
  | { readonly kind: 'trace' }
  | { readonly kind: 'rate'; readonly rate: number; readonly arrivals: string }
  | { readonly kind: 'closed'; readonly concurrency: number };

export interface ReplayOptions extends TraceSelection, LoadBounds, RunLabels {
  /** Target base URL; undefined: start the reference backend with `deployment`. */
  readonly url?: string | undefined;
  readonly deployment?: string | undefined;
  readonly model?: string | undefined;
  readonly timeScale: number;
  /** `--time-scale auto`: pick the highest scale a short calibration finds undistorted (calibrate.ts). */
  readonly timeScaleAuto?: boolean;
  readonly shape: LoadShape;
  readonly endpoint: Endpoint;
  readonly prompt: PromptMode;
  readonly apiKey?: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly extraBody?: Readonly<Record<string, unknown>> | undefined;
  /** Wall-clock seconds; 0 = no limit. */
  readonly timeouts: Timeouts;
  readonly maxErrorRate?: number | undefined;
  readonly minErrorSample: number;
  readonly graceS: number;
  readonly lagFlagS: number;
  /** Against the bundled backend: simulate the same requests (the twin) and flag the run distorted beyond this bound. */
  readonly twin: boolean;
  readonly distortionBound: number;
  /** Power sources, server-metrics scrapes and prices (src/telemetry). */
  readonly telemetry: RunTelemetryOptions;
  /** Request-body preset of the serving engine (`--target`; src/telemetry/targets.ts). */
  readonly target?: string | undefined;
}

const fraction = (v: number): number => {
  if (!(v > 0)) throw new Error(`must be > 0, got ${v}`);
  if (v > 10) throw new Error('must be a fraction, e.g. 0.05 for 5%');
  return v;
};

const timeout = (describe: string, seconds: number) => ({ type: 'number', min: 0, default: seconds, describe: `${describe}, wall seconds (0: none)` }) as const;

/** The flags of `replay` (the trace, target, telemetry, load, timeout and run groups), as yargs hands them over. */
export const REPLAY_FLAGS = {
  ...TRACE_INPUT_FLAGS,
  ...flagGroup('Target:', {
    url: { type: 'string', defaultText: 'start the reference backend', describe: 'base URL of an OpenAI-compatible server', parse: httpUrl },
    deployment: {
      type: 'string',
      defaultText: REPLAY_DEFAULTS.deployment,
      describe: 'reference backend deployment, by name or YAML file; with --url only recorded',
    },
    model: { type: 'string', defaultText: 'the first one /v1/models lists', describe: 'model name' },
    'time-scale': {
      type: 'string',
      defaultText: String(REPLAY_DEFAULTS.timeScale),
      describe:
        'the target runs K times faster than real GPUs: send at arrival/K, store times × K; auto: the highest of 20, 10, 5, 2, 1 that a 60-request calibration with the twin check finds undistorted on this machine (bundled backend only)',
      parse: (v: string): number | 'auto' => {
        const n = Number(v);
        if (v === 'auto') return v;
        if (!(Number.isFinite(n) && n > 0)) throw new Error(`expected a number > 0 or 'auto', got '${v}'`);
        return n;
      },
    },
    endpoint: { type: 'string', choices: ['completions', 'chat'], default: REPLAY_DEFAULTS.endpoint, describe: 'OpenAI route' },
    prompt: {
      type: 'string',
      choices: ['tokens', 'text'],
      defaultText: 'tokens on completions, text on chat',
      describe: 'prompt as exact token ids or as a text of about the right length',
    },
    'api-key': { type: 'string', defaultText: '$SPLITBENCH_API_KEY', describe: 'Bearer token' },
    header: { type: 'string', array: true, describe: "extra HTTP header 'Name: value' (repeatable)" },
    'extra-body': {
      type: 'string',
      describe: 'JSON object merged into every request body',
      parse: (s: string): Readonly<Record<string, unknown>> => {
        try {
          const v: unknown = JSON.parse(s);
          if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
          return v as Record<string, unknown>;
        } catch (e) {
          throw new Error(`expected a JSON object, e.g. '{"temperature":0}' (${(e as Error).message})`);
        }
      },
    },
    target: {
      type: 'string',
      choices: ['vllm', 'sglang', 'trtllm', 'dynamo', 'openai'],
      defaultText: 'vLLM-style',
      describe: 'request-body preset of the serving engine: exact output length and per-chunk usage fields',
    },
  }),
  ...flagGroup('Telemetry:', {
    power: {
      type: 'string',
      array: true,
      describe:
        'power source, repeatable: model[=URL] (the reference backend; default when replay starts it), ROLE:nvidia-smi[@SSH_HOST], ROLE:dcgm=URL, ROLE:prometheus=URL,metric=NAME; add ,type=MACHINE_OR_GPU for pricing; none: off',
    },
    'power-interval': { type: 'number', defaultText: '1000', describe: 'sampling period of power sources and --scrape, ms' },
    scrape: {
      type: 'string',
      array: true,
      describe: "a server's Prometheus /metrics sampled into timeline samples: URL[,ROLE] (target: the replay's own target), repeatable",
    },
    price: { type: 'string', array: true, describe: 'override a price of workloads/prices.yaml: MACHINE_OR_GPU_TYPE=USD_PER_HOUR (repeatable)' },
    'price-kwh': { type: 'number', defaultText: 'workloads/prices.yaml', describe: 'electricity price for the energy cost, USD per kWh' },
  }),
  ...LOAD_FLAGS,
  ...flagGroup('Load:', {
    concurrency: { type: 'number', integer: true, min: 1, describe: 'closed loop: keep N requests in flight, sizes in trace order' },
  }),
  ...flagGroup('Timeouts:', {
    'timeout-connect': timeout('connect timeout', REPLAY_DEFAULTS.timeoutConnectS),
    'timeout-first-token': timeout('send → first token', REPLAY_DEFAULTS.timeoutFirstTokenS),
    'timeout-between-tokens': timeout('longest gap between tokens', REPLAY_DEFAULTS.timeoutBetweenTokensS),
    'timeout-total': timeout('whole request', REPLAY_DEFAULTS.timeoutTotalS),
  }),
  ...flagGroup('Run:', {
    'max-error-rate': {
      type: 'number',
      min: 0,
      max: 1,
      describe: `stop the run (exit 5) when more than this fraction of requests fail (judged after ${REPLAY_DEFAULTS.minErrorSample})`,
    },
    grace: { type: 'number', min: 0, default: REPLAY_DEFAULTS.graceS, describe: 'on the first Ctrl-C/SIGTERM, seconds in-flight requests get to finish' },
  }),
  ...withFlags(RUN_FLAGS, { name: { defaultText: 'live-<n>' } }),
  ...flagGroup('Run:', {
    twin: {
      type: 'boolean',
      default: true,
      describe:
        'against the bundled backend: simulate the same requests (the twin, a linked sim run) and flag the run distorted when they disagree (--no-twin: off)',
    },
    'distortion-bound': {
      type: 'number',
      default: REPLAY_DEFAULTS.distortionBound,
      describe:
        "the twin check's bound: TTFT/TBT/E2E p50 and p99 within this fraction of the twin, coalesced chunk gaps and server emission delay below it (of the TBT p50)",
      parse: fraction,
    },
  }),
  ...TRACE_FLAGS,
} as const;

export type ReplayFlags = FlagValues<typeof REPLAY_FLAGS>;

/**
 * The checked flags (REPLAY_FLAGS) and the environment into frozen ReplayOptions: the rules between the
 * flags are added to `problems` (the CLI passes the ones its flag check found, so every problem is reported
 * at once) and thrown as one ConfigError.
 */
export function resolveReplayOptions(r: ReplayFlags, env: NodeJS.ProcessEnv = process.env, problems = new Problems()): ReplayOptions {
  const { transforms, format, lenient } = traceOptions(r);

  // Load shape.
  let shape: LoadShape = { kind: 'trace' };
  if (r.rate !== undefined && r.concurrency !== undefined) {
    problems.push('--rate and --concurrency: give one (open loop at a rate, or closed loop with N in flight)');
  } else if (r.rate !== undefined) {
    const arrivals = r.arrivals ?? DEFAULTS.arrivals;
    shape = { kind: 'rate', rate: r.rate, arrivals };
    if (r.duration === undefined && r.maxRequests === undefined)
      problems.add('--rate', 'needs --duration S or --max-requests N (a rate run has no natural end)');
  } else if (r.concurrency !== undefined) {
    shape = { kind: 'closed', concurrency: r.concurrency };
  }
  if (r.arrivals !== undefined && r.rate === undefined) problems.add('--arrivals', 'only applies with --rate');
  if (r.sessions === true && shape.kind !== 'trace') {
    problems.add(
      '--sessions',
      `not with ${shape.kind === 'rate' ? '--rate' : '--concurrency'}: sessions start on the trace's schedule (make a session trace with \`trace synth --sessions\`)`,
    );
  }

  const url = r.url;

  // Telemetry, prices and the target preset (src/telemetry).
  const telProblems: string[] = [];
  const tel = parseTelemetryFlags(r, url !== undefined || problems.flagged('--url'), telProblems);
  for (const m of telProblems) problems.push(m);

  const tags = keyValues(r.tag, '--tag', problems);
  const headers: Record<string, string> = {};
  for (const h of r.header ?? []) {
    const i = h.indexOf(':');
    const k = i > 0 ? h.slice(0, i).trim() : '';
    if (i <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) problems.add('--header', `expected 'Name: value', got '${h}'`);
    else headers[k.toLowerCase()] = h.slice(i + 1).trim();
  }
  const apiKey = r.apiKey ?? (env.SPLITBENCH_API_KEY !== undefined && env.SPLITBENCH_API_KEY !== '' ? env.SPLITBENCH_API_KEY : undefined);

  const endpoint: Endpoint = r.endpoint;
  if (endpoint === 'chat' && r.prompt === 'tokens') problems.push('--prompt tokens: the chat endpoint takes text; use --endpoint completions or --prompt text');
  const prompt: PromptMode = r.prompt ?? (endpoint === 'chat' ? 'text' : 'tokens');
  if (r.duration !== undefined && r.warmup >= r.duration) problems.add('--warmup', `${r.warmup} s leaves nothing of --duration ${r.duration} s to measure`);

  // The store: checked before anything is read or sent (src/store/target.ts).
  const dbWhy = storeTargetProblem(r.db);
  if (dbWhy) problems.add('--db', dbWhy);
  if (r.timeScale === 'auto' && url !== undefined) {
    problems.push('--time-scale auto: calibrates the bundled reference backend; a --url target runs at its own time scale (give it as a number)');
  }
  if (r.timeScale === 'auto' && !r.twin) problems.push('--time-scale auto: judges each scale by the twin check; drop --no-twin');

  problems.throwIfAny('replay');
  const seed = transforms.seed ?? DEFAULTS.seed;
  return Object.freeze({
    trace: r.trace,
    traceFormat: format,
    lenient,
    transforms,
    url,
    deployment: r.deployment ?? (url === undefined ? DEFAULTS.deployment : undefined),
    model: r.model,
    timeScale: typeof r.timeScale === 'number' ? r.timeScale : DEFAULTS.timeScale,
    ...(r.timeScale === 'auto' ? { timeScaleAuto: true } : {}),
    db: r.db,
    name: r.name,
    tags,
    shape,
    seed,
    durationS: r.duration,
    maxRequests: r.maxRequests,
    ...(r.sessions === true ? { sessions: true } : {}),
    warmupS: r.warmup,
    endpoint,
    prompt,
    apiKey,
    headers: Object.freeze(headers),
    extraBody: r.extraBody,
    timeouts: Object.freeze({
      connectS: r.timeoutConnect,
      firstTokenS: r.timeoutFirstToken,
      betweenTokensS: r.timeoutBetweenTokens,
      totalS: r.timeoutTotal,
    }),
    maxErrorRate: r.maxErrorRate,
    minErrorSample: DEFAULTS.minErrorSample,
    graceS: r.grace,
    lagFlagS: DEFAULTS.lagFlagS,
    twin: r.twin,
    distortionBound: r.distortionBound,
    json: r.json ?? false,
    telemetry: tel.telemetry,
    target: tel.target,
  });
}

/** The options as stored in `runs.options_json`: the API key and auth-like headers redacted. */
export function optionsForStore(o: ReplayOptions): Record<string, unknown> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.headers)) headers[k] = /auth|key|token|cookie/i.test(k) ? '<redacted>' : v;
  return {
    ...o,
    apiKey: o.apiKey === undefined ? undefined : '<redacted>',
    headers,
    transforms: {
      ...o.transforms,
      window: o.transforms.window ? [o.transforms.window[0], Number.isFinite(o.transforms.window[1]) ? o.transforms.window[1] : null] : undefined,
    },
  };
}
