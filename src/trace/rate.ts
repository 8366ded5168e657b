/**
 * The one seeded rate generator: a synthetic open loop at a mean rate, arrivals from a named process
 * (random.ts), sizes drawn from a trace's rows (sizes.ts). `replay --rate`, `sim --rate`, `sweep` (simulated
 * and `--live`), `provision`, `experiment` and `trace synth` all draw their requests here, so one seed gives
 * the same requests everywhere.
 *
 * Seeds: the size sampler's reservoir and the arrival gaps use `seed`, the size draws `seed + 1`. Request
 * ids are `r0`, `r1`, … in arrival order.
 */
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { openTrace, type TraceSource } from './open.js';
import { arrivalProcess, createRng, parseArrivalKind } from './random.js';
import { RESERVOIR_ROWS, sizeSampler, sizeSamplerFromArrays, sizeSamplerFromBatches, type SizeSampler } from './sizes.js';
import { applyTransforms, type TraceTransforms } from './transforms.js';
import type { RequestSpec } from './types.js';

/** How a request draws its sizes from the trace: one row's pair (the default), or prompt and output independently (SplitwiseSim's generator). */
export type SizeDraw = 'joint' | 'independent';

/** Default arrival process of a rate load. */
export const DEFAULT_ARRIVALS = 'poisson';

export interface RateLoad {
  /** Mean requests per second. */
  readonly rate: number;
  /** Arrival process name: poisson (default), gamma:CV, constant, uniform. */
  readonly arrivals?: string;
  /** Stop before the first arrival at or after this time (seconds). */
  readonly durationS?: number;
  /** Stop after this many requests. */
  readonly maxRequests?: number;
  readonly seed: number;
  /** Default joint. */
  readonly draw?: SizeDraw;
}

/** Checks a rate load's numbers and arrival process (`unit`: what arrives, for the message); errors name the flag. */
export function checkRateLoad(load: RateLoad, unit = 'requests'): void {
  if (!(load.rate > 0) || !Number.isFinite(load.rate))
    throw new ConfigError(`must be a positive number of ${unit} per second, got ${load.rate}`, { path: '--rate' });
  if (load.durationS !== undefined && (!(load.durationS > 0) || !Number.isFinite(load.durationS)))
    throw new ConfigError(`must be a positive number of seconds, got ${load.durationS}`, { path: '--duration' });
  if (load.maxRequests !== undefined && (!Number.isSafeInteger(load.maxRequests) || load.maxRequests < 1))
    throw new ConfigError(`must be a whole number of requests ≥ 1, got ${load.maxRequests}`, { path: '--max-requests' });
  parseArrivalKind(load.arrivals ?? DEFAULT_ARRIVALS);
}

/**
 * The arrival times of a rate load (seconds, ascending): the process named by `arrivals`, its gaps drawn
 * from `seed`, cut at the duration or the request cap. The one seeded arrival stream: `rateRequests` puts
 * sizes on it, `trace synth --sessions` starts its sessions on it (a session cap is the load's `maxRequests`).
 * `unit` names what arrives, for the errors.
 */
export function* rateArrivals(load: RateLoad, unit = 'requests'): Generator<number> {
  checkRateLoad(load, unit);
  const end = load.durationS ?? Infinity;
  const max = load.maxRequests ?? Infinity;
  let i = 0;
  for (const t of arrivalProcess(load.arrivals ?? DEFAULT_ARRIVALS, load.rate, createRng(load.seed))) {
    if (t >= end || i >= max) return;
    yield t;
    i++;
  }
}

/**
 * The requests of a rate load, sizes from `sampler` (built from the trace's rows with the load's seed:
 * `rateSampler`), in arrival order. Infinite unless the load has a duration or a request cap.
 */
export function* rateRequests(sampler: SizeSampler, load: RateLoad): Generator<RequestSpec> {
  const sizeRng = createRng(load.seed + 1);
  const joint = (load.draw ?? 'joint') === 'joint';
  let i = 0;
  for (const t of rateArrivals(load)) {
    const s = joint ? sampler.sampleJoint(sizeRng) : sampler.sample(sizeRng);
    yield { id: `r${i}`, arrival: t, promptTokens: s.promptTokens, outputTokens: s.outputTokens };
    i++;
  }
}

/** Read the trace's rows once into the size sampler a rate load with `seed` draws from (a reservoir beyond one million rows). */
export function rateSampler(rows: AsyncIterable<RequestSpec> | Iterable<RequestSpec>, seed: number): Promise<SizeSampler> {
  return sizeSampler(rows, { seed });
}

/** A trace as the commands name it: path or bundled name, reader options and transforms. */
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

/**
 * The sizes of a trace file known without reading it: its rows' prompt and output sizes in file order as
 * `format` reads them, or undefined. The sim's commands pass the bundled snapshot's (src/config/snapshot.ts
 * `bundledTraceSizes`, which checks the file's hash): this folder depends on no other.
 */
export type KnownSizes = (file: string, format: string) => { readonly prompts: readonly number[]; readonly outputs: readonly number[] } | undefined;

/**
 * Read a trace (transforms applied) once into the size sampler of rate loads seeded `seed`. An untransformed
 * trace whose sizes `known` gives is not read: the same rows in the same order give the same sampler (under
 * the reservoir's million rows it holds every row in order and the seed draws nothing), without parsing the CSV.
 */
export async function traceSampler(t: TraceInput, seed: number, known?: KnownSizes): Promise<{ sampler: SizeSampler; source: TraceSource }> {
  const { source, requests } = traceRequests(t);
  if (requests !== source) return { sampler: await rateSampler(requests, seed), source };
  const bundled = known?.(path.resolve(source.path), source.format);
  if (bundled !== undefined && bundled.prompts.length <= RESERVOIR_ROWS && bundled.outputs.length === bundled.prompts.length)
    return { sampler: sizeSamplerFromArrays(Uint32Array.from(bundled.prompts), Uint32Array.from(bundled.outputs)), source };
  // Untransformed, the rows are read in the file's batches (the same rows in the same order).
  return { sampler: await sizeSamplerFromBatches(source.batches(), { seed }), source };
}
