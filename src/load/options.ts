/**
 * The replay's options: validated once at the edge (flags + environment), every problem reported at
 * once with the flag it belongs to, resolved into one frozen, fully-defaulted value (STYLE 7). Defaults
 * live here and nowhere else.
 *
 * Precedence: built-in defaults < `SPLITBENCH_API_KEY` < flags.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { DEFAULT_DB } from '../paths.js';
import { storeTargetProblem } from '../store/target.js';
import { parseArrivalKind, parseTraceOpenOptions, parseTraceTransforms, type TraceTransforms } from '../trace/index.js';
import { parseTelemetryFlags, type RunTelemetryOptions } from '../telemetry/run.js';
import type { Timeouts } from './client.js';
import type { Endpoint, PromptMode } from './prompt.js';

export const DEFAULTS = Object.freeze({
  deployment: 'splitwise-hh',
  timeScale: 1,
  arrivals: 'poisson',
  seed: 0,
  warmupS: 0,
  endpoint: 'completions' as Endpoint,
  timeoutConnectS: 10,
  timeoutFirstTokenS: 600,
  timeoutBetweenTokensS: 120,
  timeoutTotalS: 0,
  graceS: 10,
  /** `--max-error-rate` is only judged once this many requests have finished. */
  minErrorSample: 20,
  /** A run whose schedule-lag p99 exceeds this (trace seconds) is flagged. */
  lagFlagS: 0.01,
  /** The twin check's bound: relative deviation from the simulated twin (and coalescing / emission delay vs TBT). */
  distortionBound: 0.05,
});

export type LoadShape =
  | { readonly kind: 'trace' }
  | { readonly kind: 'rate'; readonly rate: number; readonly arrivals: string }
  | { readonly kind: 'closed'; readonly concurrency: number };

export interface ReplayOptions {
  readonly trace: string;
  readonly traceFormat?: string | undefined;
  readonly lenient: boolean;
  readonly transforms: TraceTransforms;
  /** Target base URL; undefined: start the reference backend with `deployment`. */
  readonly url?: string | undefined;
  readonly deployment?: string | undefined;
  readonly model?: string | undefined;
  readonly timeScale: number;
  /** `--time-scale auto`: pick the highest scale a short calibration finds undistorted (calibrate.ts). */
  readonly timeScaleAuto?: boolean;
  readonly db: string;
  readonly name?: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly shape: LoadShape;
  readonly seed: number;
  readonly durationS?: number | undefined;
  readonly maxRequests?: number | undefined;
  /** `--sessions`: the trace's rows are turns of multi-turn sessions, closed loop within each (docs/traces.md "Sessions"). */
  readonly sessions?: boolean | undefined;
  readonly warmupS: number;
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
  readonly json: boolean;
  /** Power sources, server-metrics scrapes and prices (src/telemetry). */
  readonly telemetry: RunTelemetryOptions;
  /** Request-body preset of the serving engine (`--target`; src/telemetry/targets.ts). */
  readonly target?: string | undefined;
}

const posNum = z.number({ invalid_type_error: 'expected a number' }).finite('expected a finite number');
const optStr = z.string().optional();

/** The flags `replay` accepts (as yargs hands them over: camelCase keys). */
const Raw = z.object({
  trace: z.string({ required_error: 'required: the trace file (or a bundled name: coding, conversation)' }).min(1, 'must not be empty'),
  url: optStr,
  deployment: optStr,
  model: optStr,
  timeScale: z
    .preprocess(
      (v) => (typeof v === 'string' && v !== 'auto' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v),
      z.union([z.literal('auto'), posNum.positive('must be > 0')], { errorMap: () => ({ message: "expected a number > 0 or 'auto'" }) }),
    )
    .optional(),
  db: optStr,
  name: optStr,
  tag: z.array(z.string()).optional(),
  rate: posNum.positive('must be > 0').optional(),
  arrivals: optStr,
  concurrency: posNum.int('must be an integer').positive('must be >= 1').optional(),
  duration: posNum.positive('must be > 0').optional(),
  maxRequests: posNum.int('must be an integer').positive('must be >= 1').optional(),
  sessions: z.boolean().optional(),
  warmup: posNum.nonnegative('must be >= 0').optional(),
  endpoint: z.enum(['completions', 'chat']).optional(),
  prompt: z.enum(['tokens', 'text']).optional(),
  apiKey: optStr,
  header: z.array(z.string()).optional(),
  extraBody: optStr,
  timeoutConnect: posNum.nonnegative('must be >= 0 (0: no limit)').optional(),
  timeoutFirstToken: posNum.nonnegative('must be >= 0 (0: no limit)').optional(),
  timeoutBetweenTokens: posNum.nonnegative('must be >= 0 (0: no limit)').optional(),
  timeoutTotal: posNum.nonnegative('must be >= 0 (0: no limit)').optional(),
  maxErrorRate: posNum.min(0, 'must be in [0, 1]').max(1, 'must be in [0, 1]').optional(),
  grace: posNum.nonnegative('must be >= 0').optional(),
  twin: z.boolean().optional(),
  distortionBound: posNum.positive('must be > 0').max(10, 'must be a fraction, e.g. 0.05 for 5%').optional(),
  json: z.boolean().optional(),
});

const FLAG: Record<string, string> = {
  timeScale: '--time-scale',
  maxRequests: '--max-requests',
  apiKey: '--api-key',
  extraBody: '--extra-body',
  timeoutConnect: '--timeout-connect',
  timeoutFirstToken: '--timeout-first-token',
  timeoutBetweenTokens: '--timeout-between-tokens',
  timeoutTotal: '--timeout-total',
  maxErrorRate: '--max-error-rate',
  distortionBound: '--distortion-bound',
};
const flagOf = (key: string): string => FLAG[key] ?? `--${key}`;

/** yargs gives a repeated scalar flag as an array; keep one value or report it. */
function single(argv: Record<string, unknown>, key: string, problems: string[]): unknown {
  const v = argv[key];
  if (Array.isArray(v) && !['tag', 'header'].includes(key)) {
    problems.push(`${flagOf(key)}: given ${v.length} times; give it once`);
    return v[v.length - 1];
  }
  return v;
}

function asArray(v: unknown): unknown {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

/** Validate flags and environment into frozen ReplayOptions; throws one ConfigError listing every problem. */
export function resolveReplayOptions(argv: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ReplayOptions {
  const problems: string[] = [];
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(Raw.shape)) {
    const v = single(argv, key, problems);
    if (v === undefined || v === null) continue;
    raw[key] = key === 'tag' || key === 'header' ? asArray(v) : v;
  }
  const parsed = Raw.safeParse(raw);
  let r: Partial<z.infer<typeof Raw>>;
  if (parsed.success) r = parsed.data;
  else {
    const bad = new Set<string>();
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '');
      bad.add(key);
      problems.push(`${flagOf(key)}: ${issue.message}`);
    }
    // Keep checking the flags that were fine, so every problem is reported at once.
    r = Object.fromEntries(Object.entries(raw).filter(([k]) => !bad.has(k))) as Partial<z.infer<typeof Raw>>;
  }

  let transforms: TraceTransforms = {};
  let open: { format?: string; lenient: boolean } = { lenient: false };
  try {
    transforms = parseTraceTransforms(argv);
  } catch (e) {
    problems.push((e as Error).message);
  }
  try {
    open = parseTraceOpenOptions(argv);
  } catch (e) {
    problems.push((e as Error).message);
  }

  // Load shape.
  let shape: LoadShape = { kind: 'trace' };
  if (r.rate !== undefined && r.concurrency !== undefined) {
    problems.push('--rate and --concurrency: give one (open loop at a rate, or closed loop with N in flight)');
  } else if (r.rate !== undefined) {
    const arrivals = r.arrivals ?? DEFAULTS.arrivals;
    try {
      parseArrivalKind(arrivals, '--arrivals');
    } catch (e) {
      problems.push((e as Error).message);
    }
    shape = { kind: 'rate', rate: r.rate, arrivals };
    if (r.duration === undefined && r.maxRequests === undefined)
      problems.push('--rate: needs --duration S or --max-requests N (a rate run has no natural end)');
  } else if (r.concurrency !== undefined) {
    shape = { kind: 'closed', concurrency: r.concurrency };
  }
  if (r.arrivals !== undefined && r.rate === undefined) problems.push('--arrivals: only applies with --rate');
  if (r.sessions === true && shape.kind !== 'trace') {
    problems.push(
      `--sessions: not with ${shape.kind === 'rate' ? '--rate' : '--concurrency'}: sessions start on the trace's schedule (make a session trace with \`trace synth --sessions\`)`,
    );
  }

  // URL.
  let url: string | undefined;
  if (r.url !== undefined) {
    try {
      const u = new URL(r.url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`scheme ${u.protocol}`);
      url = u.href;
    } catch (e) {
      problems.push(`--url: not an http(s) URL: '${r.url}' (${(e as Error).message})`);
    }
  }

  // Telemetry, prices and the target preset (src/telemetry).
  const tel = parseTelemetryFlags(argv, url !== undefined || r.url !== undefined, problems);

  // Tags and headers.
  const tags: Record<string, string> = {};
  for (const t of r.tag ?? []) {
    const i = t.indexOf('=');
    if (i <= 0) problems.push(`--tag: expected KEY=VALUE, got '${t}'`);
    else tags[t.slice(0, i).trim()] = t.slice(i + 1).trim();
  }
  const headers: Record<string, string> = {};
  for (const h of r.header ?? []) {
    const i = h.indexOf(':');
    const k = i > 0 ? h.slice(0, i).trim() : '';
    if (i <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) problems.push(`--header: expected 'Name: value', got '${h}'`);
    else headers[k.toLowerCase()] = h.slice(i + 1).trim();
  }
  const apiKey = r.apiKey ?? (env.SPLITBENCH_API_KEY !== undefined && env.SPLITBENCH_API_KEY !== '' ? env.SPLITBENCH_API_KEY : undefined);

  let extraBody: Record<string, unknown> | undefined;
  if (r.extraBody !== undefined) {
    try {
      const v: unknown = JSON.parse(r.extraBody);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
      extraBody = v as Record<string, unknown>;
    } catch (e) {
      problems.push(`--extra-body: expected a JSON object, e.g. '{"temperature":0}' (${(e as Error).message})`);
    }
  }

  const endpoint = r.endpoint ?? DEFAULTS.endpoint;
  if (endpoint === 'chat' && r.prompt === 'tokens') problems.push('--prompt tokens: the chat endpoint takes text; use --endpoint completions or --prompt text');
  const prompt: PromptMode = r.prompt ?? (endpoint === 'chat' ? 'text' : 'tokens');
  if (r.warmup !== undefined && r.duration !== undefined && r.warmup >= r.duration)
    problems.push(`--warmup: ${r.warmup} s leaves nothing of --duration ${r.duration} s to measure`);

  // The store: checked before anything is read or sent (src/store/target.ts).
  const dbWhy = storeTargetProblem(r.db ?? (raw.db === undefined ? DEFAULT_DB : String(raw.db)));
  if (dbWhy) problems.push(`--db: ${dbWhy}`);
  if (r.timeScale === 'auto' && url !== undefined) {
    problems.push('--time-scale auto: calibrates the bundled reference backend; a --url target runs at its own time scale (give it as a number)');
  }
  if (r.timeScale === 'auto' && r.twin === false) problems.push('--time-scale auto: judges each scale by the twin check; drop --no-twin');

  if (problems.length > 0) {
    throw new ConfigError(problems.length === 1 ? problems[0]! : `${problems.length} problems: ${problems.join('; ')}`, {
      hint: 'run `splitbench replay --help` for the flags',
    });
  }
  const seed = transforms.seed ?? DEFAULTS.seed;
  return Object.freeze({
    trace: r.trace!,
    traceFormat: open.format,
    lenient: open.lenient,
    transforms,
    url,
    deployment: r.deployment ?? (url === undefined ? DEFAULTS.deployment : undefined),
    model: r.model,
    timeScale: typeof r.timeScale === 'number' ? r.timeScale : DEFAULTS.timeScale,
    ...(r.timeScale === 'auto' ? { timeScaleAuto: true } : {}),
    db: r.db ?? DEFAULT_DB,
    name: r.name,
    tags: Object.freeze(tags),
    shape,
    seed,
    durationS: r.duration,
    maxRequests: r.maxRequests,
    ...(r.sessions === true ? { sessions: true } : {}),
    warmupS: r.warmup ?? DEFAULTS.warmupS,
    endpoint,
    prompt,
    apiKey,
    headers: Object.freeze(headers),
    extraBody,
    timeouts: Object.freeze({
      connectS: r.timeoutConnect ?? DEFAULTS.timeoutConnectS,
      firstTokenS: r.timeoutFirstToken ?? DEFAULTS.timeoutFirstTokenS,
      betweenTokensS: r.timeoutBetweenTokens ?? DEFAULTS.timeoutBetweenTokensS,
      totalS: r.timeoutTotal ?? DEFAULTS.timeoutTotalS,
    }),
    maxErrorRate: r.maxErrorRate,
    minErrorSample: DEFAULTS.minErrorSample,
    graceS: r.grace ?? DEFAULTS.graceS,
    lagFlagS: DEFAULTS.lagFlagS,
    twin: r.twin ?? true,
    distortionBound: r.distortionBound ?? DEFAULTS.distortionBound,
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
