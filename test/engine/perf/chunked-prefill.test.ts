/**
 * Chunked prefill in the realistic engine: a chunk at offset o of n tokens costs at least what the model's
 * prefill curve says the prefix o + n costs beyond the prefix o (perf/interp.ts chunkedIterationTime), so a
 * long prompt split into 2,048-token chunks on an idle machine takes the model's unchunked prefill time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../../src/engine/clock.js';
import { createCluster } from '../../../src/engine/cluster.js';
import { createPerfModel } from '../../../src/engine/perf/registry.js';
import type { BatchShape } from '../../../src/engine/api.js';
import { defineDeployment, loadEngineData } from '../../../src/config/index.js';

const data = loadEngineData();

const KINDS = ['profile', 'roofline'] as const;

/** Time to first token of one request alone on one DGX-H100 running BLOOM-176B (chunks of 2,048 tokens). */
function ttftAlone(kind: string, promptTokens: number): { ttft: number; iterations: number } {
  const clock = new VirtualClock();
  let iterations = 0;
  const cluster = createCluster(
    defineDeployment({
      kind: 'monolithic',
      model: 'bloom-176b',
      perfModel: kind,
      scheduler: 'jsq-tokens',
      pools: { mixed: { machine: 'dgx-h100', count: 1 } },
    } as Parameters<typeof defineDeployment>[0]),
    { clock, data, events: { iterationStart: () => void iterations++ } },
  );
  let first = NaN;
  clock.at(0, () => {
    cluster.submit(
      { id: 'r', promptTokens, outputTokens: 2 },
      {
        onTokens: (_n, t) => {
          if (first !== first) first = t;
        },
        onDone: () => {},
        onFailed: (reason) => assert.fail(reason),
      },
    );
  });
  clock.run();
  return { ttft: first, iterations };
}

for (const kind of KINDS) {
  test(`${kind}: 4,096 and 8,192 tokens in 2,048-token chunks on an idle DGX-H100 take the unchunked prefill time (1%)`, () => {
    const pm = createPerfModel({ kind, model: 'bloom-176b', machine: 'dgx-h100', data });
    for (const n of [4096, 8192]) {
      const { ttft, iterations } = ttftAlone(kind, n);
      // The prompt's chunks plus nothing else: n / 2048 prefill iterations before the first token.
      assert.equal(iterations >= n / 2048, true, `${n}: ${iterations} iterations`);
      const want = pm.prefillTime(n);
      const err = Math.abs(ttft - want) / want;
      assert.ok(
        err <= 0.01,
        `${kind} ${n} tokens: chunked ${(ttft * 1000).toFixed(1)} ms vs unchunked ${(want * 1000).toFixed(1)} ms (${(100 * err).toFixed(2)}%)`,
      );
      // Costed as fresh 2,048-token prompts (ignoring the context already cached) it is cheaper: by 22% and 29% on the profile, where
      // prefill is superlinear in the prompt; on the roofline (quadratic attention only) by less.
      const fresh = (n / 2048) * pm.prefillTime(2048);
      assert.ok(fresh < want, `${kind} ${n}: fresh-chunk cost ${fresh} is not below the unchunked ${want}`);
      if (kind === 'profile') assert.ok(fresh < 0.8 * want, `profile ${n}: fresh-chunk cost ${fresh} vs ${want}`);
    }
  });

  test(`${kind}: whole prompts and first chunks cost what they did; a continued chunk pays its prefix`, () => {
    const pm = createPerfModel({ kind, model: 'bloom-176b', machine: 'dgx-h100', data });
    const plain: BatchShape = { promptTokens: [1500, 548], decodes: 0, decodeContextTokens: 0 };
    assert.equal(pm.iterationTime({ ...plain, promptOffsets: [0, 0] }), pm.iterationTime(plain));
    const mixed: BatchShape = { promptTokens: [2000], decodes: 48, decodeContextTokens: 48 * 1500 };
    assert.equal(pm.iterationTime({ ...mixed, promptOffsets: [0] }), pm.iterationTime(mixed));
    // Prefill only: chunk of 2,048 at offset 6,144 costs prefill(8192) − prefill(6144).
    const cont = pm.iterationTime({ promptTokens: [2048], promptOffsets: [6144], decodes: 0, decodeContextTokens: 0 });
    const inc = pm.prefillTime(8192) - pm.prefillTime(6144);
    assert.ok(Math.abs(cont - Math.max(inc, pm.prefillTime(2048))) < 1e-12, `${cont} vs ${inc}`);
    assert.ok(cont > pm.prefillTime(2048));
    // Mixed: the same chunk beside 48 decodes costs at least the decodes' iteration plus the increment.
    const m = pm.iterationTime({ promptTokens: [2000], promptOffsets: [6144], decodes: 48, decodeContextTokens: 48 * 1500 });
    const floor = pm.iterationTime({ promptTokens: [], decodes: 48, decodeContextTokens: 48 * 1500 }) + pm.prefillTime(8144) - pm.prefillTime(6144);
    assert.ok(m >= floor - 1e-12, `mixed ${m} < ${floor}`);
    assert.ok(m >= pm.iterationTime(mixed) - 1e-12);
    assert.ok(m > pm.iterationTime(mixed), 'a continued chunk in a mixed batch costs more than a fresh one');
  });
}
