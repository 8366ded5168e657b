/**
 * Request sources for the simulator and sweeps, built on the trace layer (readers, transforms, arrival
 * processes, size samplers): a trace as it is, or a synthetic open loop at a rate whose sizes are drawn
 * from the trace.
 */
import {
  applyTransforms,
  arrivalProcess,
  createRng,
  openTrace,
  sizeSampler,
  type RequestSpec,
  type SizeSampler,
  type TraceSource,
  type TraceTransforms,
} from '../trace/index.js';

/** How synthetic requests draw their sizes from the trace: one row's pair, or prompt and output independently (SplitwiseSim's generator). */
export type SizeDraw = 'joint' | 'independent';

export interface TraceInput {
  readonly trace: string;
  readonly format?: string | undefined;
  readonly lenient?: boolean;
  readonly transforms?: TraceTransforms;
}

/** Open a trace with its transforms applied. */
export function traceRequests(t: TraceInput): { source: TraceSource; requests: AsyncIterable<RequestSpec> } {
  const source = openTrace(t.trace, { ...(t.format ? { format: t.format } : {}), lenient: t.lenient ?? false });
  return { source, requests: applyTransforms(source, t.transforms ?? {}) };
}

export interface RateLoad {
  readonly rate: number;
  /** Arrival process name: poisson (default), gamma:CV, constant, uniform. */
  readonly arrivals?: string;
  /** Stop at this arrival time (seconds). */
  readonly durationS?: number;
  /** Stop after this many requests. */
  readonly maxRequests?: number;
  readonly seed: number;
  readonly draw?: SizeDraw;
}

/**
 * A synthetic open loop: arrivals from the trace layer's arrival process at `rate`, sizes from `sampler`.
 * With `draw: 'joint'` and the same seed it yields exactly the requests `replay --rate` sends (ids `r<i>`).
 */
export function* rateRequests(sampler: SizeSampler, load: RateLoad): Generator<RequestSpec> {
  const rngA = createRng(load.seed);
  const rngS = createRng(load.seed + 1);
  const joint = (load.draw ?? 'joint') === 'joint';
  const end = load.durationS ?? Infinity;
  const max = load.maxRequests ?? Infinity;
  let i = 0;
  for (const t of arrivalProcess(load.arrivals ?? 'poisson', load.rate, rngA)) {
    if (t >= end || i >= max) return;
    const s = joint ? sampler.sampleJoint(rngS) : sampler.sample(rngS);
    yield { id: `r${i}`, arrival: t, promptTokens: s.promptTokens, outputTokens: s.outputTokens };
    i++;
  }
}

/** Read a trace once into a size sampler (bounded memory: a reservoir beyond one million rows). */
export async function traceSampler(t: TraceInput, seed: number): Promise<{ sampler: SizeSampler; source: TraceSource }> {
  const { source, requests } = traceRequests(t);
  return { sampler: await sizeSampler(requests, { seed }), source };
}
