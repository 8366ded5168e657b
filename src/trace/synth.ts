/**
 * Synthetic traces: request sizes sampled from a real trace (prompt and output independently, as SplitwiseSim's
 * generator does; see sizes.ts) and arrivals from a named process (random.ts), for `duration` seconds.
 * One seed drives everything, so the same inputs and seed give byte-identical files.
 */
import { ConfigError } from '../errors.js';
import { openTrace, type OpenTraceOptions } from './open.js';
import { arrivalProcess, createRng, parseArrivalKind } from './random.js';
import { sizeSampler } from './sizes.js';
import type { RequestSpec } from './types.js';
import { writeTrace } from './writers.js';

export interface SynthOptions {
  /** The trace whose sizes are sampled. */
  readonly like: string;
  readonly likeOpen?: OpenTraceOptions;
  /** Mean requests per second. */
  readonly rate: number;
  readonly durationS: number;
  /** poisson (default), gamma:CV, constant, uniform. */
  readonly arrivals?: string;
  readonly seed?: number;
  /** Output format (default azure). */
  readonly format?: string;
  readonly out: string;
}

/** The synthetic stream itself (sizes sampler built first), for callers that do not need a file. */
export async function synthesize(o: Omit<SynthOptions, 'out' | 'format'>): Promise<{ requests: AsyncIterable<RequestSpec>; sourceSkipped: number; sourceRows: number }> {
  if (!(o.rate > 0) || !Number.isFinite(o.rate)) throw new ConfigError(`must be a positive number of requests per second, got ${o.rate}`, { path: '--rate' });
  if (!(o.durationS > 0) || !Number.isFinite(o.durationS)) throw new ConfigError(`must be a positive number of seconds, got ${o.durationS}`, { path: '--duration' });
  const kind = o.arrivals ?? 'poisson';
  parseArrivalKind(kind);
  const seed = o.seed ?? 0;
  const src = openTrace(o.like, o.likeOpen);
  const sampler = await sizeSampler(src, { seed });
  const sourceSkipped = src.skipped();
  const requests: AsyncIterable<RequestSpec> = {
    async *[Symbol.asyncIterator]() {
      const arrivalRng = createRng(seed);
      const sizeRng = createRng(seed + 1);
      let i = 0;
      for (const t of arrivalProcess(kind, o.rate, arrivalRng)) {
        if (t >= o.durationS) return;
        const s = sampler.sample(sizeRng);
        yield { id: String(i++), arrival: t, promptTokens: s.promptTokens, outputTokens: s.outputTokens };
      }
    },
  };
  return { requests, sourceSkipped, sourceRows: sampler.count };
}

export async function synthesizeTrace(o: SynthOptions): Promise<{ written: number; sourceSkipped: number; out: string; format: string }> {
  const format = o.format ?? 'azure';
  const { requests, sourceSkipped } = await synthesize(o);
  const written = await writeTrace(requests, format, o.out);
  return { written, sourceSkipped, out: o.out, format };
}
