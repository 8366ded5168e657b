/**
 * The in-process inference engine on the tiny generated model: exact output lengths, continuous
 * batching, and the phase-split exactness property (prefill here, state bytes, decode there = the
 * monolithic path's tokens), plus the proof that the state bytes are used.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cancel, InferenceEngine } from '../../src/worker/engine.js';
import { cleanup, prompt, tinyModel } from './helpers.js';

const opts = (modelFile: string) => ({ modelFile, slots: 4, contextSize: 512, threads: 1, gpu: 'none' as const });

describe('inference engine (tiny model, CPU, 1 thread)', () => {
  let mono: InferenceEngine;
  let prefiller: InferenceEngine;
  let decoder: InferenceEngine;
  before(async () => {
    const file = tinyModel();
    mono = await InferenceEngine.open(opts(file));
    prefiller = await InferenceEngine.open(opts(file));
    decoder = await InferenceEngine.open(opts(file));
  });
  after(async () => {
    await mono?.close();
    await prefiller?.close();
    await decoder?.close();
    cleanup();
  });

  const collect = async (f: (sink: { onToken(id: number): void }) => Promise<unknown>): Promise<number[]> => {
    const ids: number[] = [];
    await f({ onToken: (id) => void ids.push(id) });
    return ids;
  };

  it('produces exactly the asked number of tokens, greedily (same prompt, same tokens)', async () => {
    const p = prompt(60);
    const a = await collect((s) => mono.generate(p, 40, s));
    const b = await collect((s) => mono.generate(p, 40, s));
    assert.equal(a.length, 40);
    assert.deepEqual(a, b);
    assert.ok(new Set(a).size > 5, `the model's output depends on its context, got ${a.join(',')}`);
  });

  it('phase split: prefill on one engine, state bytes, decode on another = the monolithic tokens', async () => {
    const p = prompt(90, 3);
    const expected = await collect((s) => mono.generate(p, 30, s));
    const pre = await prefiller.prefill(p, { onToken: () => {} });
    assert.equal(pre.firstToken, expected[0]);
    assert.ok(pre.state.length > 90 * 1000, `state of ${pre.state.length} bytes for 90 tokens`);
    let loadS = -1;
    const rest = await collect((s) => decoder.decodeFrom(pre.state, p.length, pre.firstToken, 30, { ...s, onLoaded: (x) => (loadS = x) }));
    assert.deepEqual([pre.firstToken, ...rest], expected);
    assert.ok(loadS >= 0);
  });

  it("the KV bytes are really used: decoding without them (or with another prompt's) differs", async () => {
    const p = prompt(90, 3);
    const expected = await collect((s) => mono.generate(p, 30, s));
    // Without the state: the first token alone as the context.
    const bare = await collect((s) => decoder.generate([expected[0]!], 29, s));
    assert.notDeepEqual(bare, expected.slice(1));
    // Another prompt's state of the same length, continued from the right first token.
    const other = await prefiller.prefill(prompt(90, 4), { onToken: () => {} });
    const wrong = await collect((s) => decoder.decodeFrom(other.state, 90, expected[0]!, 30, s));
    assert.notDeepEqual(wrong, expected.slice(1));
  });

  it('state size is linear in the prompt length (about 2 KB per token for the tiny model)', async () => {
    const a = await prefiller.prefill(prompt(50), { onToken: () => {} });
    const b = await prefiller.prefill(prompt(250), { onToken: () => {} });
    const perToken = (b.state.length - a.state.length) / 200;
    assert.ok(perToken > 1900 && perToken < 2300, `bytes per token ${perToken}`);
  });

  it('batches concurrent requests and keeps each one exact', async () => {
    const ps = [prompt(40, 1), prompt(70, 2), prompt(20, 5)];
    const alone = [];
    for (const p of ps) alone.push(await collect((s) => mono.generate(p, 12, s)));
    const together = await Promise.all(ps.map((p) => collect((s) => mono.generate(p, 12, s))));
    for (const t of together) assert.equal(t.length, 12);
    // Greedy argmax over a batched decode can differ in the last bits from an unbatched one; lengths are exact
    // and the first token (computed from the prompt alone) must agree.
    for (let i = 0; i < ps.length; i++) assert.equal(together[i]![0], alone[i]![0]);
  });

  it('queues a request that does not fit the KV budget until another ends', async () => {
    const small = await InferenceEngine.open({ ...opts(tinyModel()), slots: 2, kvTokens: 300 });
    try {
      const order: string[] = [];
      let na = 0;
      const a = small.generate(prompt(150), 100, { onStart: () => order.push('a'), onToken: () => void (++na === 100 && order.push('a-last')) });
      const b = small.generate(prompt(100), 10, { onStart: () => order.push('b'), onToken: () => {} });
      await Promise.all([a, b]);
      // 250 + 110 KV tokens do not fit in 300: b starts only after a's last token.
      assert.deepEqual(order, ['a', 'a-last', 'b']);
      await assert.rejects(small.generate(prompt(200), 200, { onToken: () => {} }), /needs 400 KV tokens/);
    } finally {
      await small.close();
    }
  });

  it('a cancelled request stops and frees its sequence', async () => {
    const c = new Cancel();
    let n = 0;
    const run = mono.generate(
      prompt(30),
      200,
      {
        onToken: () => {
          if (++n === 3) c.cancel();
        },
      },
      c,
    );
    await assert.rejects(run, /cancelled/);
    assert.ok(n < 200);
    const after = await collect((s) => mono.generate(prompt(30), 5, s));
    assert.equal(after.length, 5);
  });
});
