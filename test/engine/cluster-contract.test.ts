/**
 * One contract, three `Cluster` implementations: the realistic engine, the SplitwiseSim-compatible engine (both
 * on a virtual clock) and the worker router (real worker processes on the tiny generated model, wall clock),
 * each monolithic and phase-split. The contract: `submit` never throws; a request it cannot take fails through
 * `onFailed`, after `submit` returns; a request gets exactly its output tokens, one-token requests included;
 * a cancelled request hears nothing more; cancel frees its KV memory; once nothing is in flight, every
 * counter the scheduler's placements booked is back at zero (finished, failed and cancelled requests alike).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock, EventRank } from '../../src/engine/clock.js';
import { createCluster } from '../../src/engine/cluster.js';

import type { Cluster, EngineRequest, SubmitHandle } from '../../src/engine/api.js';
import type { CompatPredictors } from '../../src/engine/predictors.js';
import type { ModelSpec } from '../../src/engine/specs.js';
import { RealCluster } from '../../src/worker/cluster.js';
import { ConstantPerfModel, catalogOf, tinyMachine, tinyModel } from './helpers.js';
import { cleanup, tinyModel as tinyModelFile } from '../worker/helpers.js';
import { defineDeployment } from '../../src/config/index.js';

interface Harness {
  readonly cluster: Cluster;
  /** Run `fn` as the clock's next arrival (virtual) or now (wall clock). */
  enter(fn: () => void): void;
  /** Run `fn` soon, from outside any cluster callback. */
  defer(fn: () => void): void;
  /** Let everything in flight run out. */
  settle(pending: Promise<unknown>): Promise<void>;
  /** Cancel frees the request's KV at once (the compatible engine keeps a cancelled request running, muted, to keep its state exact: its KV is freed when that run ends). */
  readonly freesAtCancel: boolean;
  close(): Promise<void>;
}

function virtual(make: (clock: VirtualClock) => Cluster, freesAtCancel: boolean): Harness {
  const clock = new VirtualClock();
  const cluster = make(clock);
  return {
    cluster,
    enter: (fn) => void clock.at(clock.now(), fn, EventRank.arrival),
    defer: (fn) => void clock.at(clock.now(), fn, EventRank.arrival),
    settle: async () => {
      clock.run();
    },
    freesAtCancel,
    close: async () => {},
  };
}

const perf = new ConstantPerfModel(0.01, 0.0001, 0.002);
const realisticCatalog = catalogOf([tinyMachine('m', 1e9)], [tinyModel()]);
const compatPred: CompatPredictors = { promptTime: (x) => 0.01 + 0.0001 * x, tokenTime: () => 0.002 };
/** Compat KV: 2 MB a token; room for 100,000 tokens beside the weights. */
function compatModel(): ModelSpec {
  const cap = 8 * 85_899_345_920;
  return { name: 'tiny', layers: 1, hidden: 1_000_000, heads: 1, kvHeads: 1, dtypeBytes: 1, weightsBytes: cap - 100_000 * 2_000_000 };
}
const compatCatalog = catalogOf([tinyMachine('m', 1)], [compatModel()]);
const mono = { kind: 'monolithic' as const, model: 'tiny', scheduler: 'jsq-tokens', pools: { mixed: { machine: 'm', count: 2 } } };
const split = (scheduler: string) => ({
  kind: 'split' as const,
  model: 'tiny',
  scheduler,
  pools: { prompt: { machine: 'm', count: 1 }, token: { machine: 'm', count: 1 } },
});

const worker = (deployment: 'mono' | 'split') => async (): Promise<Harness> => {
  const cluster = await RealCluster.start({
    modelFile: tinyModelFile(),
    deployment,
    ...(deployment === 'mono' ? { workers: 1 } : { promptWorkers: 1, tokenWorkers: 1 }),
    slots: 4,
    contextSize: 256,
    gpu: 'none',
  });
  return {
    cluster,
    enter: (fn) => fn(),
    defer: (fn) => void setImmediate(fn),
    settle: async (pending) => void (await pending),
    freesAtCancel: true,
    close: () => cluster.close(),
  };
};

const HARNESSES: readonly [string, () => Promise<Harness>][] = [
  ['realistic, monolithic', async () => virtual((clock) => createCluster(defineDeployment(mono), { clock, catalog: realisticCatalog, perfModel: perf }), true)],
  [
    'realistic, phase-split',
    async () => virtual((clock) => createCluster(defineDeployment(split('jsq-tokens')), { clock, catalog: realisticCatalog, perfModel: perf }), true),
  ],
  [
    'compat, monolithic',
    async () =>
      virtual((clock) => createCluster(defineDeployment(mono), { clock, catalog: compatCatalog, compat: 'splitwise', predictors: () => compatPred }), false),
  ],
  [
    'compat, phase-split',
    async () =>
      virtual(
        (clock) =>
          createCluster(defineDeployment(split('splitwise-mixed-pool')), { clock, catalog: compatCatalog, compat: 'splitwise', predictors: () => compatPred }),
        false,
      ),
  ],
  ['worker router, monolithic', worker('mono')],
  ['worker router, phase-split', worker('split')],
];

interface Spec {
  readonly id: string;
  readonly prompt: number;
  readonly output: number;
  /** Cancel right after `submit` returns (0) or after this many tokens (from outside the callback). */
  readonly cancelAfter?: number;
  /** With `cancelAfter` > 0: cancel from inside the token callback itself. */
  readonly inline?: boolean;
}

interface Outcome {
  readonly spec: Spec;
  tokens: number;
  done: number;
  failed: string[];
  threw: unknown;
  /** onFailed before `submit` returned. */
  failedInline: boolean;
  cancelled: boolean;
  /** Callbacks after cancel. */
  late: number;
  /** Total KV tokens in use right after the cancel. */
  kvAfterCancel?: number;
}

function kvUsed(c: Cluster): number {
  return c.snapshot().reduce((s, m) => s + m.kvUsedTokens, 0);
}

/** Nothing in flight, nothing booked by placements, no KV in use. */
function assertIdle(c: Cluster, when: string): void {
  assert.equal(c.inFlight(), 0, `in flight ${when}`);
  for (const b of c.bookings!()) assert.deepEqual([b.pendingTokens, b.reservedBytes], [0, 0], `${b.machine} ${when}: pending tokens, reserved bytes`);
  assert.equal(kvUsed(c), 0, `KV tokens in use ${when}`);
}

/** Submit every spec (in one arrival instant), drive cancels, let everything run out. */
async function drive(h: Harness, specs: readonly Spec[]): Promise<Outcome[]> {
  const ends: Promise<void>[] = [];
  const outs = specs.map((spec) => {
    const o: Outcome = { spec, tokens: 0, done: 0, failed: [], threw: undefined, failedInline: false, cancelled: false, late: 0 };
    let handle: SubmitHandle | undefined;
    let returned = false;
    let end!: () => void;
    ends.push(new Promise<void>((resolve) => (end = resolve)));
    const cancel = (): void => {
      if (o.cancelled || o.done > 0 || o.failed.length > 0) return;
      o.cancelled = true;
      handle!.cancel();
      o.kvAfterCancel = kvUsed(h.cluster);
      end();
    };
    h.enter(() => {
      const r: EngineRequest = { id: spec.id, promptTokens: spec.prompt, outputTokens: spec.output };
      try {
        handle = h.cluster.submit(r, {
          onTokens: (n) => {
            if (o.cancelled) o.late++;
            o.tokens += n;
            if (spec.cancelAfter !== undefined && spec.cancelAfter > 0 && o.tokens >= spec.cancelAfter) {
              if (spec.inline) cancel();
              else h.defer(cancel);
            }
          },
          onDone: () => {
            if (o.cancelled) o.late++;
            o.done++;
            end();
          },
          onFailed: (reason) => {
            if (o.cancelled) o.late++;
            if (!returned) o.failedInline = true;
            o.failed.push(reason);
            end();
          },
        });
      } catch (e) {
        o.threw = e;
        end();
      }
      returned = true;
      if (spec.cancelAfter === 0) cancel();
    });
    return o;
  });
  await h.settle(Promise.all(ends));
  return outs;
}

for (const [name, make] of HARNESSES) {
  describe(`Cluster contract: ${name}`, () => {
    let h: Harness;
    before(async () => {
      h = await make();
    });
    after(async () => {
      await h?.close();
    });

    it('submit never throws: bad requests fail through onFailed, after submit returns', async () => {
      const outs = await drive(h, [
        { id: 'no-prompt', prompt: 0, output: 4 },
        { id: 'no-output', prompt: 10, output: 0 },
        { id: 'fraction', prompt: 2.5, output: 3 },
      ]);
      for (const o of outs) {
        assert.equal(o.threw, undefined, `${o.spec.id} threw`);
        assert.equal(o.failedInline, false, `${o.spec.id} failed inside submit`);
        assert.equal(o.failed.length, 1, `${o.spec.id}: one onFailed`);
        assert.deepEqual([o.tokens, o.done], [0, 0], o.spec.id);
      }
      assert.match(outs[0]!.failed[0]!, /promptTokens must be an integer ≥ 1/);
      assert.match(outs[1]!.failed[0]!, /outputTokens must be an integer ≥ 1/);
      assert.match(outs[2]!.failed[0]!, /promptTokens must be an integer ≥ 1/);
      assertIdle(h.cluster, 'after failed requests');
    });

    it('one-token requests complete with exactly one token', async () => {
      const outs = await drive(h, [
        { id: 'one-a', prompt: 12, output: 1 },
        { id: 'one-b', prompt: 40, output: 1 },
      ]);
      for (const o of outs) assert.deepEqual([o.tokens, o.done, o.failed], [1, 1, []], o.spec.id);
      assertIdle(h.cluster, 'after one-token requests');
    });

    it("while a request decodes, only its token phase is booked (the prompt machine's share went back)", async () => {
      let seen: ReturnType<NonNullable<Cluster['bookings']>> | undefined;
      let tokens = 0;
      await new Promise<void>((resolve, reject) => {
        h.enter(() =>
          h.cluster.submit(
            { id: 'decoding', promptTokens: 30, outputTokens: 40 },
            {
              onTokens: (n) => {
                tokens += n;
                if (tokens >= 2 && !seen) seen = h.cluster.bookings!();
              },
              onDone: () => resolve(),
              onFailed: (reason) => reject(new Error(reason)),
            },
          ),
        );
        void h.settle(Promise.resolve());
      });
      assert.ok(seen);
      assert.equal(
        seen.reduce((s, b) => s + b.pendingTokens, 0),
        1,
        'pending: the one token phase',
      );
      const prompt = seen.find((b) => b.machine === 'prompt-0');
      if (prompt) assert.deepEqual([prompt.pendingTokens, prompt.reservedBytes], [0, 0], 'the prompt machine after the KV left');
      assert.equal(seen.filter((b) => b.reservedBytes > 0).length, 1, 'KV reserved on the token machine only');
      assertIdle(h.cluster, 'after it finished');
    });

    it('cancel frees the KV memory and silences the request', async () => {
      for (const inline of [false, true]) {
        const [o] = await drive(h, [{ id: `cancel-mid-${inline}`, prompt: 60, output: 120, cancelAfter: 1, inline }]);
        const how = inline ? 'cancelled from its token callback' : 'cancelled from outside';
        assert.ok(o!.cancelled, `${how}: before it ended`);
        assert.equal(o!.late, 0, `${how}: no callback after cancel`);
        if (h.freesAtCancel) assert.equal(o!.kvAfterCancel, 0, `${how}: KV free right after cancel`);
        assertIdle(h.cluster, `once the cluster settles (${how})`);
      }
    });

    it('counters return to zero after a mix of finished, failed and cancelled requests', async () => {
      const outs = await drive(h, [
        { id: 'a', prompt: 20, output: 5 },
        { id: 'b', prompt: 30, output: 1 },
        { id: 'c', prompt: 25, output: 8, cancelAfter: 0 },
        { id: 'd', prompt: 40, output: 60, cancelAfter: 1 },
        { id: 'e', prompt: 0, output: 4 },
        { id: 'f', prompt: 50, output: 6 },
        { id: 'g', prompt: 15, output: 2 },
        { id: 'h', prompt: 35, output: 30, cancelAfter: 2, inline: true },
      ]);
      const by = new Map(outs.map((o) => [o.spec.id, o]));
      for (const id of ['a', 'b', 'f', 'g']) {
        const o = by.get(id)!;
        assert.deepEqual([o.tokens, o.done, o.failed], [o.spec.output, 1, []], id);
      }
      for (const id of ['c', 'd', 'h']) assert.deepEqual([by.get(id)!.cancelled, by.get(id)!.late, by.get(id)!.done], [true, 0, 0], id);
      assert.equal(by.get('e')!.failed.length, 1);
      for (const o of outs) assert.equal(o.threw, undefined, o.spec.id);
      assertIdle(h.cluster, 'after the mix');
      // And it keeps serving.
      const [again] = await drive(h, [{ id: 'after', prompt: 10, output: 3 }]);
      assert.deepEqual([again!.tokens, again!.done], [3, 1]);
      assertIdle(h.cluster, 'after the next request');
    });
  });
}

after(() => cleanup());
