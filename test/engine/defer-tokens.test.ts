/**
 * `deferTokens` (ClusterOptions): the realistic cluster tells a request's tokens late, from its machines'
 * iteration logs, instead of at every iteration's end. Every request must hear exactly what an eager cluster
 * tells it, token by token and in order, before its end: on one machine and across a KV transfer, with
 * preemptions, through iteration logs that fill many times over, with observers that have `onTokenTimes` and
 * observers that have only `onTokens`, and up to a cancel (nothing after it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock, EventRank } from '../../src/engine/clock.js';
import { createCluster } from '../../src/engine/cluster.js';
import type { RequestObserver, SubmitHandle } from '../../src/engine/api.js';
import { seededRandom } from '../../src/engine/schedulers.js';
import { defineDeployment } from '../../src/config/index.js';
import { ConstantPerfModel, catalogOf, tinyMachine, tinyModel } from './helpers.js';

const perf = new ConstantPerfModel(0.1, 0.001, 0.02);
// A small KV memory (preemptions under load) and an ample one.
const catalog = catalogOf([tinyMachine('small', 3e7), tinyMachine('big', 1e12)], [tinyModel()]);

interface Heard {
  tokens: number[];
  events: string[];
}

interface Load {
  readonly id: string;
  readonly at: number;
  readonly p: number;
  readonly o: number;
  /** Cancel this many seconds after arrival. */
  readonly cancelAfter?: number;
}

function run(spec: Parameters<typeof defineDeployment>[0], load: readonly Load[], deferTokens: boolean): Map<string, Heard> {
  const clock = new VirtualClock();
  const cluster = createCluster(defineDeployment(spec), { clock, catalog, perfModel: perf, deferTokens });
  const heard = new Map<string, Heard>();
  for (const [i, l] of load.entries()) {
    const h: Heard = { tokens: [], events: [] };
    heard.set(l.id, h);
    let cancelled = false;
    const onTokens = (n: number, t: number): void => {
      assert.ok(!cancelled, `${l.id}: a token after its cancel`);
      for (let k = 0; k < n; k++) h.tokens.push(t);
    };
    const obs: RequestObserver = {
      onTokens,
      onDone: (bd, t) => void h.events.push(`done ${t} after ${h.tokens.length}, ${bd.preemptions} preemptions`),
      onFailed: (reason, t) => void h.events.push(`failed ${t} ${reason}`),
    };
    // Every other request has the bulk form too.
    if (i % 2 === 0)
      (obs as { onTokenTimes?: RequestObserver['onTokenTimes'] }).onTokenTimes = (times, from, to) => {
        for (let k = from; k < to; k++) onTokens(1, times[k]!);
      };
    clock.at(
      l.at,
      () => {
        const handle: SubmitHandle = cluster.submit({ id: l.id, promptTokens: l.p, outputTokens: l.o }, obs);
        if (l.cancelAfter !== undefined)
          clock.at(
            l.at + l.cancelAfter,
            () => {
              handle.cancel();
              cancelled = true;
              h.events.push(`cancelled after ${h.tokens.length}`);
            },
            EventRank.arrival,
          );
      },
      EventRank.arrival,
    );
  }
  clock.run();
  return heard;
}

function load(n: number, seed: number, rate: number): Load[] {
  const rnd = seededRandom(seed);
  const out: Load[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += -Math.log(1 - rnd()) / rate;
    const o = rnd() < 0.1 ? 1500 + Math.floor(rnd() * 1500) : 1 + Math.floor(rnd() * 200);
    out.push({ id: `r${i}`, at: t, p: 1 + Math.floor(rnd() * 800), o, ...(i % 17 === 5 ? { cancelAfter: 1 + rnd() * 30 } : {}) });
  }
  return out;
}

const cases = [
  ['one machine, with preemptions', { kind: 'monolithic' as const, model: 'tiny', pools: { mixed: { machine: 'small', count: 1 } } }],
  [
    'prompt and token pools (KV transfers)',
    {
      kind: 'split' as const,
      model: 'tiny',
      scheduler: 'splitwise-mixed-pool',
      pools: { prompt: { machine: 'big', count: 2 }, token: { machine: 'small', count: 1 } },
    },
  ],
] as const;

for (const [what, spec] of cases) {
  test(`deferTokens tells every request what an eager cluster does: ${what}`, () => {
    const l = load(300, 11, 4);
    const eager = run(spec, l, false);
    const late = run(spec, l, true);
    let tokens = 0;
    for (const { id } of l) {
      assert.deepStrictEqual(late.get(id), eager.get(id), id);
      tokens += eager.get(id)!.tokens.length;
    }
    // Long requests run many more iterations than one log holds (1,024), and some requests were cancelled mid-run.
    assert.ok(Math.max(...l.map((x) => eager.get(x.id)!.tokens.length)) > 1500);
    assert.ok(tokens > 20_000);
    assert.ok(l.some((x) => eager.get(x.id)!.events.some((e) => e.startsWith('cancelled after')) && eager.get(x.id)!.tokens.length > 0));
    if (spec.kind === 'monolithic')
      assert.ok(
        l.some((x) => eager.get(x.id)!.events.some((e) => /, [1-9]\d* preemptions/.test(e))),
        'some were preempted',
      );
  });
}

test('deferTokens: an observer that cancels other requests while its tokens are told late hears no stale times', () => {
  // One machine, 13 requests of 3,000 tokens: they are told their tokens when the machine's log fills. At the
  // first such telling r4 cancels r0..r3, which were told just before it: the list being told shrinks under it,
  // and the requests after r4 must still be told before the log starts over.
  const spec = { kind: 'monolithic' as const, model: 'tiny', pools: { mixed: { machine: 'big', count: 1 } } };
  const runOnce = (deferTokens: boolean) => {
    const clock = new VirtualClock();
    const cluster = createCluster(defineDeployment(spec), { clock, catalog, perfModel: perf, deferTokens });
    const got = new Map<string, number[]>();
    const handles = new Map<string, SubmitHandle>();
    let cancelledAt = NaN;
    const observe = (id: string): RequestObserver => {
      const times: number[] = [];
      got.set(id, times);
      return {
        onTokens: (n, t) => {
          for (let k = 0; k < n; k++) times.push(t);
        },
        onTokenTimes: (ts, from, to) => {
          for (let k = from; k < to; k++) times.push(ts[k]!);
          if (id === 'r4' && cancelledAt !== cancelledAt && times.length > 500) {
            cancelledAt = clock.now();
            for (let i = 0; i < 4; i++) handles.get(`r${i}`)!.cancel();
          }
        },
        onDone: () => {},
        onFailed: () => {},
      };
    };
    for (let i = 0; i <= 12; i++) {
      const id = `r${i}`;
      clock.at(i * 0.5, () => void handles.set(id, cluster.submit({ id, promptTokens: 50, outputTokens: 3000 }, observe(id))), EventRank.arrival);
    }
    clock.run();
    return { got, cancelledAt };
  };
  const late = runOnce(true);
  const eager = runOnce(false);
  assert.ok(late.cancelledAt === late.cancelledAt, 'r4 cancelled the others from its late telling');
  for (let i = 0; i <= 12; i++) {
    const id = `r${i}`;
    const times = late.got.get(id)!;
    const full = eager.got.get(id)!;
    if (i < 4) {
      // What it heard is what it had produced by then: a prefix of its full token times, none later.
      assert.ok(times.length < 3000, `${id} was cancelled mid-run`);
      assert.ok(times.at(-1)! <= late.cancelledAt, id);
      assert.deepStrictEqual(times, full.slice(0, times.length), id);
    } else if (i > 4) {
      // The others ran on beside fewer requests: their times differ from the eager run's, but every one is a
      // token's (one each, in order, all 3,000).
      assert.equal(times.length, 3000, id);
      for (let k = 1; k < times.length; k++) assert.ok(times[k]! > times[k - 1]!, `${id}: token ${k} not after token ${k - 1}`);
    }
  }
});
