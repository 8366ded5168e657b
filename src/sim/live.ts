/**
 * `sweep --live`: each offered rate runs as a replay (`replay --rate R --seed S`) against the reference
 * backend, i.e. the same requests the simulated sweep feeds the engine (src/trace/rate.ts), through the
 * same search. The replay library gets typed, frozen options built here with the replay's own defaults.
 */
import { ConfigError } from '../errors.js';
import { runReplay } from '../load/run.js';
import { DEFAULTS as REPLAY_DEFAULTS, type ReplayOptions } from '../load/options.js';
import { storeTargetProblem } from '../store/target.js';
import { parseTelemetryFlags, type RunTelemetryOptions } from '../telemetry/run.js';
import { checkRateLoad, DEFAULT_ARRIVALS } from '../trace/index.js';
import type { RateContext, RatePoint, RateRunner, RateRunnerFactory, SweepOptions } from './sweep.js';

export type LiveRateRunnerOptions = Pick<SweepOptions, 'db' | 'trace' | 'traceFormat' | 'lenient' | 'transforms' | 'model' | 'timeScale'>;

/**
 * The replay options of one live rate: open loop at `p.rate` (Poisson) for the context's duration and seed,
 * against the reference backend started with the point's deployment; everything else the replay's defaults.
 */
export function liveReplayOptions(o: LiveRateRunnerOptions, ctx: Pick<RateContext, 'durationS' | 'seed'>, p: RatePoint): ReplayOptions {
  checkRateLoad({ rate: p.rate, durationS: ctx.durationS, seed: ctx.seed });
  if (!(o.timeScale > 0) || !Number.isFinite(o.timeScale)) throw new ConfigError(`must be a positive number, got ${o.timeScale}`, { path: '--time-scale' });
  const dbWhy = storeTargetProblem(o.db);
  if (dbWhy) throw new ConfigError(dbWhy, { path: '--db' });
  return Object.freeze({
    trace: o.trace,
    traceFormat: o.traceFormat,
    lenient: o.lenient,
    transforms: Object.freeze({ ...o.transforms, seed: ctx.seed }),
    url: undefined,
    deployment: p.deploymentLabel,
    model: o.model,
    timeScale: o.timeScale,
    db: o.db,
    name: p.name,
    tags: Object.freeze({ ...p.tags }),
    shape: Object.freeze({ kind: 'rate', rate: p.rate, arrivals: DEFAULT_ARRIVALS }),
    seed: ctx.seed,
    durationS: ctx.durationS,
    maxRequests: undefined,
    warmupS: REPLAY_DEFAULTS.warmupS,
    endpoint: REPLAY_DEFAULTS.endpoint,
    prompt: 'tokens',
    apiKey: undefined,
    headers: Object.freeze({}),
    extraBody: undefined,
    timeouts: Object.freeze({
      connectS: REPLAY_DEFAULTS.timeoutConnectS,
      firstTokenS: REPLAY_DEFAULTS.timeoutFirstTokenS,
      betweenTokensS: REPLAY_DEFAULTS.timeoutBetweenTokensS,
      totalS: REPLAY_DEFAULTS.timeoutTotalS,
    }),
    maxErrorRate: undefined,
    minErrorSample: REPLAY_DEFAULTS.minErrorSample,
    graceS: REPLAY_DEFAULTS.graceS,
    lagFlagS: REPLAY_DEFAULTS.lagFlagS,
    twin: true,
    distortionBound: REPLAY_DEFAULTS.distortionBound,
    json: true,
    // No telemetry flags against the bundled backend: its own power model, as `replay` records it.
    telemetry: telemetryDefaults(),
    target: undefined,
  } satisfies ReplayOptions);
}

function telemetryDefaults(): RunTelemetryOptions {
  const problems: string[] = [];
  const { telemetry } = parseTelemetryFlags({}, false, problems);
  if (problems.length > 0) throw new ConfigError(problems.join('; '), { path: '--live' });
  return telemetry;
}

/** The live RateRunner maker: each rate a replay through the replay library (src/load). */
export function liveRateRunner(o: LiveRateRunnerOptions): RateRunnerFactory {
  return (ctx): RateRunner => ({
    async run(p) {
      const r = await runReplay(liveReplayOptions(o, ctx, p), { progress: false, log: () => undefined });
      return { runId: r.summary.runId };
    },
  });
}
