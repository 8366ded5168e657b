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

/** Reads `requests` once and returns a sampler over their sizes. */
export async function sizeSampler(
  requests: AsyncIterable<RequestSpec> | Iterable<RequestSpec>,
  opts: { maxSamples?: number; seed?: number } = {},
): Promise<SizeSampler> {
  const cap = opts.maxSamples ?? 1_000_000;
  let prompts = new Uint32Array(Math.min(cap, 65536));
  let outputs = new Uint32Array(prompts.length);
  let seen = 0;
  const rng = createRng(opts.seed ?? 0);
  for await (const r of requests as AsyncIterable<RequestSpec>) {
    let slot = seen;
    if (seen >= cap) {
      slot = rng.int(seen + 1); // reservoir sampling (Algorithm R)
      if (slot >= cap) {
        seen++;
        continue;
      }
    } else if (seen >= prompts.length) {
      const np = new Uint32Array(Math.min(cap, prompts.length * 2));
      np.set(prompts);
      prompts = np;
      const no = new Uint32Array(np.length);
      no.set(outputs);
      outputs = no;
    }
    prompts[slot] = r.promptTokens;
    outputs[slot] = r.outputTokens;
    seen++;
  }
  const n = Math.min(seen, cap);
  if (n === 0) throw new RangeError('sizeSampler: the trace has no requests');
  return sizeSamplerFromArrays(prompts.subarray(0, n), outputs.subarray(0, n));
}
