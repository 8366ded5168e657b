/**
 * Request sizes drawn from a real trace. Like SplitwiseSim's trace generator, prompt and output sizes are
 * sampled **independently**, each i.i.d. with replacement from the trace's own values (so the marginal
 * distributions match the trace, but any correlation between a request's prompt and output length is not kept);
 * `sampleJoint` keeps pairs together instead. Traces with more than `maxSamples` rows are reduced to a
 * uniform reservoir of that many rows first (default 1,000,000), so memory stays bounded.
 */
import { createRng, type Rng } from './random.js';
import type { RequestSpec } from './types.js';

export interface SizeSample {
  readonly promptTokens: number;
  readonly outputTokens: number;
}

export interface SizeSampler {
  /** Rows the sampler draws from (after reservoir reduction). */
  readonly count: number;
  /** Prompt and output drawn independently (SplitwiseSim's way). */
  sample(rng: Rng): SizeSample;
  /** Prompt and output of one trace row, drawn together. */
  sampleJoint(rng: Rng): SizeSample;
}

export function sizeSamplerFromArrays(prompts: ArrayLike<number>, outputs: ArrayLike<number>): SizeSampler {
  const n = prompts.length;
  if (n === 0 || outputs.length !== n) throw new RangeError('sizeSampler needs at least one request');
  return {
    count: n,
    sample: (rng) => ({ promptTokens: prompts[rng.int(n)]!, outputTokens: outputs[rng.int(n)]! }),
    sampleJoint: (rng) => {
      const i = rng.int(n);
      return { promptTokens: prompts[i]!, outputTokens: outputs[i]! };
    },
  };
}

/** The sampler's reservoir, fed one row at a time (the same rows in the same order give the same sampler). */
class Reservoir {
  private prompts: Uint32Array;
  private outputs: Uint32Array;
  private seen = 0;
  private readonly rng: Rng;
  constructor(
    private readonly cap: number,
    seed: number,
  ) {
    this.prompts = new Uint32Array(Math.min(cap, 65536));
    this.outputs = new Uint32Array(this.prompts.length);
    this.rng = createRng(seed);
  }
  add(r: RequestSpec): void {
    let slot = this.seen;
    if (this.seen >= this.cap) {
      slot = this.rng.int(this.seen + 1); // reservoir sampling (Algorithm R)
      if (slot >= this.cap) {
        this.seen++;
        return;
      }
    } else if (this.seen >= this.prompts.length) {
      const np = new Uint32Array(Math.min(this.cap, this.prompts.length * 2));
      np.set(this.prompts);
      this.prompts = np;
      const no = new Uint32Array(np.length);
      no.set(this.outputs);
      this.outputs = no;
    }
    this.prompts[slot] = r.promptTokens;
    this.outputs[slot] = r.outputTokens;
    this.seen++;
  }
  sampler(): SizeSampler {
    const n = Math.min(this.seen, this.cap);
    if (n === 0) throw new RangeError('sizeSampler: the trace has no requests');
    return sizeSamplerFromArrays(this.prompts.subarray(0, n), this.outputs.subarray(0, n));
  }
}

/** Rows a sampler keeps by default (a uniform reservoir of this many beyond it). */
export const RESERVOIR_ROWS = 1_000_000;

export interface SizeSamplerOptions {
  readonly maxSamples?: number;
  readonly seed?: number;
}

/** Reads `requests` once and returns a sampler over their sizes. */
export async function sizeSampler(requests: AsyncIterable<RequestSpec> | Iterable<RequestSpec>, opts: SizeSamplerOptions = {}): Promise<SizeSampler> {
  const res = new Reservoir(opts.maxSamples ?? RESERVOIR_ROWS, opts.seed ?? 0);
  for await (const r of requests as AsyncIterable<RequestSpec>) res.add(r);
  return res.sampler();
}

/** sizeSampler over the same rows in batches (a trace's `batches()`: no promise per row). */
export async function sizeSamplerFromBatches(batches: AsyncIterable<readonly RequestSpec[]>, opts: SizeSamplerOptions = {}): Promise<SizeSampler> {
  const res = new Reservoir(opts.maxSamples ?? RESERVOIR_ROWS, opts.seed ?? 0);
  for await (const batch of batches) for (const r of batch) res.add(r);
  return res.sampler();
}
