/**
 * `sweep --live`: each offered rate runs as a replay (`replay --rate R --seed S`) against the reference
 * backend, i.e. the same requests the simulated sweep feeds the engine, through the same search.
 */
import type { TraceTransforms } from '../trace/index.js';
import type { RateRunner } from './sweep.js';

export interface LiveRateRunnerOptions {
  readonly db: string;
  readonly trace: string;
  readonly traceFormat?: string | undefined;
  readonly lenient: boolean;
  readonly transforms: TraceTransforms;
  readonly deployment: string;
  readonly model?: string | undefined;
  readonly durationS: number;
  readonly seed: number;
  readonly timeScale: number;
}

export function liveRateRunner(o: LiveRateRunnerOptions): RateRunner {
  return {
    async run(rate, meta) {
      const load = await import('../load/index.js');
      const w = o.transforms.window;
      const argv: Record<string, unknown> = {
        trace: o.trace,
        ...(o.traceFormat ? { format: o.traceFormat } : {}),
        ...(o.lenient ? { lenient: true } : {}),
        ...(w ? { window: `${w[0]}:${Number.isFinite(w[1]) ? w[1] : ''}` } : {}),
        ...(o.transforms.speedup ? { speedup: o.transforms.speedup } : {}),
        ...(o.transforms.limit ? { limit: o.transforms.limit } : {}),
        ...(o.transforms.sample ? { sample: o.transforms.sample } : {}),
        seed: o.seed,
        rate,
        arrivals: 'poisson',
        duration: o.durationS,
        deployment: o.deployment,
        ...(o.model ? { model: o.model } : {}),
        timeScale: o.timeScale,
        db: o.db,
        name: meta.name,
        tag: Object.entries(meta.tags).map(([k, v]) => `${k}=${v}`),
        json: true,
      };
      const opts = load.resolveReplayOptions(argv);
      const r = await load.runReplay(opts, { progress: false, log: () => undefined });
      return { runId: r.summary.runId };
    },
  };
}
