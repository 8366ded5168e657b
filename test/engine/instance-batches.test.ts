/**
 * The instance keeps batch membership from one iteration to the next; these runs check every batch against
 * what a scan of the running requests gives, through admissions, removals, preemptions, transfers in and
 * out (during an iteration too), and batches cut by the size and token limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Instance, Seq, SeqMode, SeqState } from '../../src/engine/instance.js';
import { seededRandom } from '../../src/engine/schedulers.js';

function run(seed: number, limits: { maxBatchSize: number; maxBatchTokens: number }, capacityTokens: number): { preempted: number; cut: number } {
  const rnd = seededRandom(seed);
  const bt = 16;
  const inst = new Instance<null>('i', capacityTokens, { ...limits, blockTokens: bt });
  const all: Seq<null>[] = [];
  const held: Seq<null>[] = [];
  let age = 0;
  let preempted = 0;
  let cut = 0;
  const limit = Math.min(limits.maxBatchSize, limits.maxBatchTokens);
  for (let it = 0; it < 3000; it++) {
    const r = rnd();
    if (r < 0.25) {
      const mode = rnd() < 0.2 ? SeqMode.prefillOnly : SeqMode.full;
      const s = new Seq<null>(`r${age}`, age++, mode, 1 + Math.floor(rnd() * 120), 1 + Math.floor(rnd() * 60), null);
      all.push(s);
      inst.admit(s);
    } else if (r < 0.3) {
      // A request arriving with its KV (a transfer), when memory allows.
      const prompt = 1 + Math.floor(rnd() * 100);
      if (inst.reserve(prompt)) {
        const s = new Seq<null>(`t${age}`, age++, SeqMode.decodeOnly, prompt, 2 + Math.floor(rnd() * 40), null);
        s.generated = 1;
        s.computed = prompt;
        all.push(s);
        inst.admitDecoded(s);
      }
    } else if (r < 0.33 && all.length > 0) {
      inst.remove(all[Math.floor(rnd() * all.length)]!);
    } else if (r < 0.38 && held.length > 0) {
      inst.releaseHeld(held.shift()!);
    }
    // What a scan gives: the running decodes in age order, up to the limits.
    const decodesBefore = all.filter((s) => s.state === SeqState.running && s.computed >= s.target).sort((a, b) => a.age - b.age);
    const b = inst.nextBatch();
    if (!b) continue;
    preempted += b.preempted.length;
    const decodes = all.filter((s) => s.state === SeqState.running && s.computed >= s.target).sort((a, b) => a.age - b.age);
    if (b.preempted.length === 0) assert.deepEqual(decodes, decodesBefore, `iteration ${it}: no preemption, same decodes`);
    const expected = decodes.slice(0, limit);
    if (decodes.length > limit) cut++;
    assert.equal(b.decodes, expected.length, `iteration ${it}: decodes`);
    assert.equal(b.size, b.decodes + b.chunkSeqs.length, `iteration ${it}: size`);
    assert.equal(
      b.decodeContextTokens,
      expected.reduce((n, s) => n + s.computed + 1, 0),
      `iteration ${it}: context tokens`,
    );
    for (const s of expected) assert.ok(s.blocks * bt >= s.computed + 1, `iteration ${it}: ${s.id} has a block for its next token`);
    // A transfer landing during the iteration (the batch is in use).
    if (rnd() < 0.2) {
      const prompt = 1 + Math.floor(rnd() * 100);
      if (inst.reserve(prompt)) {
        const s = new Seq<null>(
          `m${age}`,
          rnd() < 0.3 ? Math.floor(rnd() * age) + 0.25 + rnd() * 0.5 : age++,
          SeqMode.decodeOnly,
          prompt,
          2 + Math.floor(rnd() * 40),
          null,
        );
        s.generated = 1;
        s.computed = prompt;
        all.push(s);
        inst.admitDecoded(s);
      }
    }
    const res = inst.onIterationEnd();
    const emitted = res.emitted.slice(0, res.emittedCount);
    assert.deepEqual(
      emitted.filter((s) => s.chunk === 0),
      expected,
      `iteration ${it}: every decode of the batch emitted, in order`,
    );
    held.push(...res.prefilled);
    let used = 0;
    for (const s of all) {
      if (s.state === SeqState.running || s.state === SeqState.held) {
        assert.equal(s.blocks, Math.ceil(s.computed / bt), `iteration ${it}: ${s.id} holds the blocks of its context`);
        used += s.blocks;
      } else assert.equal(s.blocks, 0);
    }
    // Reserved transfers are admitted at once here, so every block in use belongs to a request.
    assert.equal(inst.freeBlocks + used, inst.capacityBlocks, `iteration ${it}: blocks accounted for`);
  }
  return { preempted, cut };
}

test('batches kept from one iteration to the next are the ones a scan forms (memory-bound: preemptions)', () => {
  let preempted = 0;
  for (const seed of [1, 2, 3, 4]) preempted += run(seed, { maxBatchSize: 512, maxBatchTokens: 2048 }, 40 * 16).preempted;
  assert.ok(preempted > 0, 'the runs preempt');
});

test('batches kept from one iteration to the next are the ones a scan forms (cut by the size and token limits)', () => {
  let cut = 0;
  for (const seed of [5, 6]) cut += run(seed, { maxBatchSize: 4, maxBatchTokens: 64 }, 4000 * 16).cut;
  for (const seed of [7, 8]) cut += run(seed, { maxBatchSize: 64, maxBatchTokens: 5 }, 4000 * 16).cut;
  assert.ok(cut > 0, 'some batches are cut');
});
