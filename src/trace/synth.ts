/**
 * Synthetic traces: the rate generator's requests (rate.ts: arrivals from a named process, each request's
 * prompt and output drawn together from one row of a real trace) for `duration` seconds, and multi-turn
 * session traces. One seed drives everything, so the same inputs and seed give byte-identical files, and a
 * rate trace holds the requests `sim --rate` and `replay --rate` run with that seed.
 */
import { ConfigError } from '../errors.js';
import { openTrace, type OpenTraceOptions } from './open.js';
import { createRng, type Rng } from './random.js';
import { checkRateLoad, DEFAULT_ARRIVALS, rateArrivals, rateRequests, rateSampler, type RateLoad } from './rate.js';
import { SESSION_BLOCK_TOKENS } from './sessions.js';
import type { SizeSampler } from './sizes.js';
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

/**
 * The synthetic stream itself (sizes sampler built first), for callers that do not need a file: the rate
 * generator's requests (rate.ts), the same ones `sim --rate` and `replay --rate` run for that seed.
 */
export async function synthesize(
  o: Omit<SynthOptions, 'out' | 'format'>,
): Promise<{ requests: AsyncIterable<RequestSpec>; sourceSkipped: number; sourceRows: number }> {
  const { load, sampler, sourceSkipped } = await synthInput(o);
  const requests: AsyncIterable<RequestSpec> = {
    async *[Symbol.asyncIterator]() {
      yield* rateRequests(sampler, load);
    },
  };
  return { requests, sourceSkipped, sourceRows: sampler.count };
}

/** The checked rate load of a synthesis (`unit`: what arrives, for the errors) and the size sampler over the `like` trace. */
async function synthInput(
  o: Pick<SynthOptions, 'like' | 'likeOpen' | 'rate' | 'arrivals' | 'seed'> & { readonly durationS?: number | undefined },
  unit = 'requests',
  check: () => void = () => undefined,
): Promise<{ load: RateLoad; sampler: SizeSampler; sourceSkipped: number }> {
  const load: RateLoad = {
    rate: o.rate,
    arrivals: o.arrivals ?? DEFAULT_ARRIVALS,
    seed: o.seed ?? 0,
    ...(o.durationS === undefined ? {} : { durationS: o.durationS }),
  };
  checkRateLoad(load, unit);
  check();
  const src = openTrace(o.like, o.likeOpen);
  const sampler = await rateSampler(src, load.seed);
  return { load, sampler, sourceSkipped: src.skipped() };
}

export async function synthesizeTrace(o: SynthOptions): Promise<{ written: number; sourceSkipped: number; out: string; format: string }> {
  const format = o.format ?? 'azure';
  const { requests, sourceSkipped } = await synthesize(o);
  const written = await writeTrace(requests, format, o.out);
  return { written, sourceSkipped, out: o.out, format };
}

/** `trace synth --sessions`: the shape of the multi-turn sessions (docs/traces.md "Sessions"). */
export interface SessionSynthOptions {
  /** Number of sessions. */
  readonly sessions: number;
  /** Mean turns per session (geometric on 1, 2, …; 1: single-turn sessions). */
  readonly turnsMean: number;
  /** Mean think time between an answer and the next turn (exponential), seconds. */
  readonly thinkMeanS: number;
  /** Mean new user tokens a later turn adds (geometric on 1, 2, …). */
  readonly userTokensMean: number;
}

/** Defaults of `trace synth --sessions` (docs/traces.md "Sessions"). */
export const SESSION_SYNTH_DEFAULTS = Object.freeze({ turnsMean: 4, thinkMeanS: 10, userTokensMean: 128 });

/** A geometric variate on {1, 2, …} with the given mean (≥ 1), by inversion. */
export function geometricAtLeastOne(rng: Rng, mean: number): number {
  if (mean <= 1) return 1;
  const q = 1 - 1 / mean; // P(n > k) = q^k
  let u = rng.next();
  while (u === 0) u = rng.next();
  return 1 + Math.floor(Math.log(u) / Math.log(q));
}

/**
 * A multi-turn session trace: sessions start on the rate generator's arrivals (rate.ts `rateArrivals`, `rate`
 * sessions per second: the same instants as the first requests of a rate load with that seed); each has
 * a geometric number of turns (mean `turnsMean`); turn 0's prompt and every turn's output are sampled from
 * the `like` trace (independently); turn k + 1's prompt is turn k's prompt + output + a geometric number of
 * new user tokens (mean `userTokensMean`); each turn is stored at the previous turn's arrival plus an
 * exponential think time (mean `thinkMeanS`), so a session replay (`--sessions`) releases it that long after
 * the previous answer ends. Each session's prompt is one stream of 512-token hash blocks (fresh ids, in
 * session order), each turn carrying its first ⌈prompt / 512⌉: turns share their session's prefix.
 * Rows come out in arrival order (ties: session, then turn). Seeds: arrivals `seed`, sizes `seed + 1`,
 * session shape `seed + 2`. Memory: the whole trace (it is sorted by arrival).
 */
export async function synthesizeSessions(
  o: Omit<SynthOptions, 'out' | 'format' | 'durationS'> & { readonly durationS?: number } & SessionSynthOptions,
): Promise<{ requests: RequestSpec[]; sourceSkipped: number; sourceRows: number }> {
  const { load, sampler, sourceSkipped } = await synthInput(o, 'sessions', () => {
    if (!Number.isSafeInteger(o.sessions) || o.sessions < 1)
      throw new ConfigError(`must be a whole number of sessions ≥ 1, got ${o.sessions}`, { path: '--sessions' });
    if (!(o.turnsMean >= 1) || !Number.isFinite(o.turnsMean))
      throw new ConfigError(`must be a mean number of turns ≥ 1, got ${o.turnsMean}`, { path: '--turns' });
    if (!(o.thinkMeanS >= 0) || !Number.isFinite(o.thinkMeanS))
      throw new ConfigError(`must be a non-negative number of seconds, got ${o.thinkMeanS}`, { path: '--think' });
    if (!(o.userTokensMean >= 1) || !Number.isFinite(o.userTokensMean))
      throw new ConfigError(`must be a mean number of tokens ≥ 1, got ${o.userTokensMean}`, { path: '--user-tokens' });
  });
  const seed = load.seed;
  const sizeRng = createRng(seed + 1);
  const shapeRng = createRng(seed + 2);
  const rows: { spec: RequestSpec; s: number; k: number }[] = [];
  let nextBlock = 0;
  let s = 0;
  for (const start of rateArrivals({ ...load, maxRequests: o.sessions }, 'sessions')) {
    const turns = geometricAtLeastOne(shapeRng, o.turnsMean);
    const blocks: number[] = [];
    let t = start;
    let prompt = 0;
    let output = 0;
    for (let k = 0; k < turns; k++) {
      const size = sampler.sample(sizeRng);
      if (k === 0) prompt = size.promptTokens;
      else {
        t += o.thinkMeanS > 0 ? shapeRng.exponential(1 / o.thinkMeanS) : 0;
        prompt = prompt + output + geometricAtLeastOne(shapeRng, o.userTokensMean);
      }
      output = size.outputTokens;
      const n = Math.ceil(prompt / SESSION_BLOCK_TOKENS);
      while (blocks.length < n) blocks.push(nextBlock++);
      rows.push({ spec: { id: `s${s}-${k}`, arrival: t, promptTokens: prompt, outputTokens: output, sessionId: `s${s}`, hashIds: blocks.slice(0, n) }, s, k });
    }
    s++;
  }
  rows.sort((a, b) => a.spec.arrival - b.spec.arrival || a.s - b.s || a.k - b.k);
  return { requests: rows.map((r) => r.spec), sourceSkipped, sourceRows: sampler.count };
}

/** `synthesizeSessions` written to a file (Mooncake JSONL: the format that keeps session ids and hash blocks). */
export async function synthesizeSessionTrace(
  o: Omit<SynthOptions, 'durationS'> & { readonly durationS?: number } & SessionSynthOptions,
): Promise<{ written: number; sessions: number; sourceSkipped: number; out: string; format: string }> {
  const format = o.format ?? 'mooncake';
  if (format !== 'mooncake')
    throw new ConfigError(`session traces are written as mooncake (the format that keeps session ids and prefix blocks), not '${format}'`, {
      path: '--format',
    });
  const { requests, sourceSkipped } = await synthesizeSessions(o);
  const sessions = new Set(requests.map((r) => r.sessionId)).size;
  const written = await writeTrace(
    (async function* () {
      yield* requests;
    })(),
    format,
    o.out,
  );
  return { written, sessions, sourceSkipped, out: o.out, format };
}
