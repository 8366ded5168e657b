/**
 * The compatible cluster runs its next internal event inline when the virtual clock has nothing due by
 * then (`Clock.advance`), instead of scheduling one clock callback per event. That must not change
 * anything: the same run on a clock without `advance` (one callback per event, as on a real clock) gives
 * the same log of every callback, token, completion, transfer and periodic snapshot, in the same order,
 * with other clock events (a 1 s sampler, cancels, arrivals on the clock) interleaved the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Clock, EventRank, VirtualClock } from '../../src/engine/clock.js';
import { createCluster } from '../../src/engine/cluster.js';
import { defineDeployment, loadEngineData } from '../../src/config/index.js';
import { poisson } from './helpers.js';

const data = loadEngineData({ splitwise: true });

interface Req {
  readonly id: string;
  readonly at: number;
  readonly p: number;
  readonly o: number;
}

const convLike = (rnd: () => number) => ({ p: 50 + Math.floor(rnd() * rnd() * 4000), o: 1 + Math.floor(rnd() * 450) });

/** The run's full log; `inline`: the VirtualClock itself, else a clock that only has `now` and `at`. */
function run(spec: object, reqs: readonly Req[], queued: boolean, inline: boolean): string[] {
  const vc = new VirtualClock();
  const clock: Clock = inline ? vc : { now: () => vc.now(), at: (t, f, r) => vc.at(t, f, r) };
  const log: string[] = [];
  const cluster = createCluster(defineDeployment(spec as Parameters<typeof defineDeployment>[0]), {
    clock,
    data,
    compat: 'splitwise',
    events: {
      iterationStart: (e) => log.push(`start ${vc.now()} ${JSON.stringify(e)}`),
      iterationEnd: (e) => log.push(`end ${vc.now()} ${JSON.stringify(e)}`),
      kvTransferStart: (e) => log.push(`kv+ ${JSON.stringify(e)}`),
      kvTransferEnd: (e) => log.push(`kv- ${JSON.stringify(e)}`),
    },
  });
  const submit = (r: Req, i: number): void => {
    const h = cluster.submit(
      { id: r.id, promptTokens: r.p, outputTokens: r.o },
      {
        onTokens: (n, t) => log.push(`tok ${r.id} ${n} ${t} ${vc.now()}`),
        onDone: (b, t) => log.push(`done ${r.id} ${t} ${JSON.stringify(b)}`),
        onFailed: (why, t) => log.push(`fail ${r.id} ${why} ${t}`),
      },
    );
    // Some requests are cancelled a little later, from the clock.
    if (i % 11 === 5) clock.at(vc.now() + 0.25, () => h.cancel(), EventRank.internal);
  };
  if (queued) {
    const queue = cluster.queueArrivals!((i) => submit(reqs[i]!, i));
    for (const r of reqs) queue(r.at);
  } else
    reqs.forEach((r, i) => {
      clock.at(r.at, () => submit(r, i), EventRank.arrival);
    });
  const tick = (): void => {
    log.push(`tick ${vc.now()} ${JSON.stringify(cluster.snapshot())}`);
    if (vc.pending() > 0) clock.at(vc.now() + 1, tick, EventRank.sample);
  };
  clock.at(0, tick, EventRank.sample);
  while (vc.step()) {
    /* run */
  }
  log.push(`end of run ${vc.now()} never ${cluster.inFlightIds!().join(',')}`);
  return log;
}

const cases: [string, object, Req[]][] = [
  ['overloaded baseline', { kind: 'monolithic', scheduler: 'jsq-tokens', pools: { mixed: { machine: 'dgx-a100', count: 3 } } }, poisson(60, 25, 1, convLike)],
  [
    'split cluster that borrows both ways',
    { kind: 'split', scheduler: 'splitwise-mixed-pool', pools: { prompt: { machine: 'dgx-h100', count: 2 }, token: { machine: 'dgx-h100', count: 6 } } },
    poisson(40, 15, 2, convLike),
  ],
  [
    'KV pressure with transfer retries',
    { kind: 'split', scheduler: 'splitwise-mixed-pool', pools: { prompt: { machine: 'dgx-a100', count: 1 }, token: { machine: 'dgx-a100', count: 1 } } },
    Array.from({ length: 30 }, (_, i) => ({ id: String(i), at: i * 0.5, p: 5500 + ((i * 389) % 1000), o: 2500 + ((i * 577) % 1000) })),
  ],
];

for (const [name, spec, reqs] of cases) {
  test(`inline drain changes nothing: ${name}`, () => {
    for (const queued of [true, false]) {
      const inline = run(spec, reqs, queued, true);
      const callbacks = run(spec, reqs, queued, false);
      assert.ok(inline.length > 200, `${name}: a real run (${inline.length} log lines)`);
      assert.ok(
        inline.some((l) => l.startsWith('done')),
        `${name}: requests complete`,
      );
      assert.deepEqual(inline, callbacks, `${name} (${queued ? 'queued arrivals' : 'arrivals on the clock'})`);
    }
  });
}
