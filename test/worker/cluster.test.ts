/**
 * The router and its worker processes (real llama.cpp on the tiny model): the phase-split path returns
 * the monolithic path's tokens through processes and the loopback KV transfer, the breakdown reports a
 * KV transfer that grows with the prompt, and a killed token worker fails only its own requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RealCluster, type TokenIdObserver } from '../../src/worker/cluster.js';
import type { RequestBreakdown } from '../../src/engine/index.js';
import { cleanup, tinyModel } from './helpers.js';

interface Outcome {
  ids: number[];
  calls: number;
  breakdown?: RequestBreakdown;
  failed?: string;
}

function run(c: RealCluster, promptTokens: number, outputTokens: number, onTokens?: (n: number) => void): Promise<Outcome> {
  return new Promise((resolve) => {
    const o: Outcome = { ids: [], calls: 0 };
    const obs: TokenIdObserver = {
      onTokenIds: (ids) => void o.ids.push(...ids),
      onTokens: (n) => {
        o.calls++;
        onTokens?.(n);
      },
      onDone: (b) => resolve({ ...o, breakdown: b }),
      onFailed: (reason) => resolve({ ...o, failed: reason }),
    };
    c.submit({ id: `t${promptTokens}-${outputTokens}`, promptTokens, outputTokens }, obs);
  });
}

describe('real cluster (worker processes, tiny model, 1 thread each)', () => {
  let mono: RealCluster;
  let split: RealCluster;
  before(async () => {
    const modelFile = tinyModel();
    [mono, split] = await Promise.all([
      RealCluster.start({ modelFile, deployment: 'mono', workers: 1, slots: 4, contextSize: 1024, gpu: 'none' }),
      RealCluster.start({
        modelFile,
        deployment: 'split',
        promptWorkers: 1,
        tokenWorkers: 2,
        slots: 4,
        contextSize: 1024,
        gpu: 'none',
        scheduler: 'round-robin',
      }),
    ]);
  });
  after(async () => {
    await mono?.close();
    await split?.close();
    cleanup();
  });

  it('phase split returns the monolithic tokens (same batch shape: one request alone)', async () => {
    const m = await run(mono, 120, 40);
    const s = await run(split, 120, 40);
    assert.equal(m.failed, undefined);
    assert.equal(s.failed, undefined);
    assert.equal(m.ids.length, 40);
    assert.deepEqual(s.ids, m.ids);
    assert.equal(m.breakdown!.kvTransfer, 0);
    assert.equal(m.breakdown!.promptMachine, 'mixed-0');
    assert.equal(m.breakdown!.tokenMachine, 'mixed-0');
    assert.equal(s.breakdown!.promptMachine, 'prompt-0');
    assert.match(s.breakdown!.tokenMachine, /^token-[01]$/);
    assert.equal(s.breakdown!.pool, 'prompt');
    assert.ok(s.breakdown!.kvTransfer > 0);
    // The second-token wait is KV transfer + decode wait (glossary in docs/metrics.md): the transfer is part of it, the rest is >= 0.
    assert.ok(s.breakdown!.decodeWait >= 0, `decode wait beyond the transfer ${s.breakdown!.decodeWait} s`);
    assert.equal(m.calls, 40, 'one callback per token');
  });

  it('exact output lengths, including one-token requests (no KV shipped)', async () => {
    const outs = await Promise.all([run(split, 10, 1), run(split, 33, 2), run(split, 200, 17), run(mono, 5, 1)]);
    assert.deepEqual(
      outs.map((o) => o.ids.length),
      [1, 2, 17, 1],
    );
    assert.equal(outs[0]!.breakdown!.kvTransfer, 0);
    assert.equal(outs[0]!.breakdown!.tokenMachine, 'prompt-0');
    assert.ok(outs[1]!.breakdown!.kvTransfer > 0);
  });

  it('the KV transfer time grows with the prompt', async () => {
    const small = [];
    const big = [];
    for (let i = 0; i < 3; i++) {
      small.push((await run(split, 16, 3)).breakdown!.kvTransfer);
      big.push((await run(split, 900, 3)).breakdown!.kvTransfer);
    }
    const med = (a: number[]): number => a.sort((x, y) => x - y)[1]!;
    assert.ok(med(big) > med(small), `900-token transfers (${big}) should take longer than 16-token ones (${small})`);
  });

  it("rejects a request larger than the workers' context, and keeps serving", async () => {
    const o = await run(split, 1000, 100);
    assert.match(o.failed!, /more than the workers' context of 1024/);
    assert.equal((await run(split, 8, 4)).ids.length, 4);
  });

  it('a killed token worker fails its in-flight requests; the other token worker keeps serving', async () => {
    const pids = split.workerPids();
    const victim = pids.get('token-1')!;
    // Round-robin over two token workers: these four alternate token-0, token-1.
    let killed = false;
    const outs = Promise.all(
      [0, 1, 2, 3].map(() =>
        run(split, 50, 400, () => {
          if (!killed) {
            killed = true;
            setTimeout(() => process.kill(victim, 'SIGKILL'), 20);
          }
        }),
      ),
    );
    const results = await outs;
    const failed = results.filter((r) => r.failed !== undefined);
    const ok = results.filter((r) => r.failed === undefined);
    assert.ok(failed.length >= 1, 'requests on the killed worker fail');
    for (const f of failed) assert.match(f.failed!, /token-1/);
    for (const r of ok) {
      assert.equal(r.ids.length, 400);
      assert.equal(r.breakdown!.tokenMachine, 'token-0');
    }
    assert.equal(split.inFlight(), 0);
    for (const b of split.bookings())
      assert.deepEqual([b.pendingTokens, b.reservedBytes], [0, 0], `${b.machine}: the failed placements gave back their bookings`);
    assert.ok(!split.workerPids().has('token-1'));
    // New requests go to the remaining token worker.
    const next = await Promise.all([run(split, 30, 5), run(split, 31, 5)]);
    for (const r of next) {
      assert.equal(r.failed, undefined);
      assert.equal(r.breakdown!.tokenMachine, 'token-0');
    }
    const snap = split.snapshot().find((s) => s.id === 'token-1')!;
    assert.equal(snap.kvCapacityTokens, 0);
  });
});
