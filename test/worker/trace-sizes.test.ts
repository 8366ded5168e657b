/** The size transforms added to the trace layer for the real-inference mode: --scale-sizes, --max-prompt, --max-output. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFlags } from '../../src/flagspec.js';
import { applyTransforms, hasTransforms, TRACE_FLAGS, traceOptions } from '../../src/trace/index.js';
import type { RequestSpec } from '../../src/trace/types.js';

async function collect(src: AsyncIterable<RequestSpec>): Promise<RequestSpec[]> {
  const out: RequestSpec[] = [];
  for await (const r of src) out.push(r);
  return out;
}

const trace: RequestSpec[] = [
  { id: 'a', arrival: 0, promptTokens: 1000, outputTokens: 200 },
  { id: 'b', arrival: 1, promptTokens: 3, outputTokens: 1 },
  { id: 'c', arrival: 2, promptTokens: 8000, outputTokens: 700 },
];
const src = {
  async *[Symbol.asyncIterator]() {
    yield* trace;
  },
};

describe('trace size transforms', () => {
  it('scales sizes (rounded, at least 1) and then caps them', async () => {
    const t = { scaleSizes: 0.1, maxPrompt: 500, maxOutput: 64 };
    assert.ok(hasTransforms(t));
    const out = await collect(applyTransforms(src, t));
    assert.deepEqual(
      out.map((r) => [r.promptTokens, r.outputTokens]),
      [
        [100, 20],
        [1, 1],
        [500, 64],
      ],
    );
    assert.deepEqual(
      out.map((r) => r.arrival),
      [0, 1, 2],
    );
  });

  it('caps alone leave smaller requests as they are', async () => {
    const out = await collect(applyTransforms(src, { maxPrompt: 2000 }));
    assert.deepEqual(
      out.map((r) => r.promptTokens),
      [1000, 3, 2000],
    );
    assert.deepEqual(
      out.map((r) => r.outputTokens),
      [200, 1, 700],
    );
  });

  it('parses the flags and names a bad one', () => {
    const transforms = (argv: Record<string, unknown>) => traceOptions(readFlags('trace', TRACE_FLAGS, argv)).transforms;
    assert.deepEqual(transforms({ 'scale-sizes': 0.25, 'max-prompt': 900, 'max-output': '50' }), { scaleSizes: 0.25, maxPrompt: 900, maxOutput: 50 });
    assert.throws(() => transforms({ 'scale-sizes': 0 }), /--scale-sizes: must be > 0/);
    assert.throws(() => transforms({ 'max-prompt': 1.5 }), /--max-prompt: must be a positive integer/);
    assert.throws(() => transforms({ 'max-output': 'x' }), /--max-output: expected a number/);
  });
});
