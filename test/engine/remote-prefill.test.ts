/**
 * `Cluster.submitPrefilled` (a request prefilled in another process, vLLM's disaggregated serving): the
 * prefill endpoint's cluster plus the decode endpoint's reproduce the one-process split cluster's timing for
 * an idle deployment: the same first-token time, the same KV transfer (layer-wise overlapped or serialized),
 * the same decode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock, createCluster, type Cluster, type RequestBreakdown } from '../../src/engine/index.js';
import { roleDeployment } from '../../src/server/backend.js';
import { loadDeployment, loadEngineData } from '../../src/config/index.js';

const data = loadEngineData();

interface Seen {
  tokens: number[];
  b?: RequestBreakdown;
  end?: number;
  failed?: string;
}

function observe(out: Seen) {
  return {
    onTokens: (n: number, t: number) => {
      for (let i = 0; i < n; i++) out.tokens.push(t);
    },
    onDone: (b: RequestBreakdown, t: number) => {
      out.b = b;
      out.end = t;
    },
    onFailed: (r: string) => void (out.failed = r),
  };
}

function build(dep: ReturnType<typeof loadDeployment>): { clock: VirtualClock; cluster: Cluster } {
  const clock = new VirtualClock();
  return { clock, cluster: createCluster(dep, { clock, data }) };
}

for (const prompt of [200, 3000]) {
  test(`prompt ${prompt}: prefill endpoint + decode endpoint = the one-process split cluster (idle)`, () => {
    const dep = loadDeployment('splitwise-hh');
    const output = 12;
    const one = build(dep);
    const ref: Seen = { tokens: [] };
    one.cluster.submit({ id: 'r', promptTokens: prompt, outputTokens: output }, observe(ref));
    one.clock.run();
    assert.equal(ref.failed, undefined);

    const pre = build(roleDeployment(dep, 'prefill'));
    const p: Seen = { tokens: [] };
    pre.cluster.submit({ id: 'r', promptTokens: prompt, outputTokens: 1 }, observe(p));
    pre.clock.run();
    assert.equal(p.tokens.length, 1);
    assert.ok(Math.abs(p.tokens[0]! - ref.tokens[0]!) < 1e-9, 'first token at the same time');

    const dec = build(roleDeployment(dep, 'decode'));
    const d: Seen = { tokens: [] };
    dec.cluster.submitPrefilled!({ id: 'r', promptTokens: prompt, outputTokens: output }, observe(d), {
      fromMachine: 'dgx-h100',
      prefillSeconds: p.b!.prefill,
      promptMachine: 'P/mixed-0',
    });
    dec.clock.run();
    assert.equal(d.failed, undefined);
    assert.equal(d.tokens.length, output);
    assert.equal(d.tokens[0], 0, 'the first token is reported on arrival');
    assert.ok(Math.abs(d.b!.kvTransfer - ref.b!.kvTransfer) < 1e-9, `transfer ${d.b!.kvTransfer} vs ${ref.b!.kvTransfer}`);
    assert.ok(d.b!.kvTransfer > 0);
    assert.ok(Math.abs(d.b!.decode - ref.b!.decode) < 1e-9, `decode ${d.b!.decode} vs ${ref.b!.decode}`);
    // Shifted by the prefill (the decode endpoint's clock starts at its arrival), the token times agree.
    const shift = ref.tokens[0]!;
    d.tokens.forEach((t, i) => {
      assert.ok(Math.abs(t + shift - ref.tokens[i]!) < 1e-9, `token ${i}: ${t + shift} vs ${ref.tokens[i]}`);
    });
    assert.equal(d.b!.prefill, 0);
    assert.equal(d.b!.promptMachine, 'P/mixed-0');
    assert.equal(dec.cluster.inFlight(), 0);
  });
}

test('submitPrefilled: an unknown prompt machine type fails the request, naming it; cancel frees the machine', () => {
  const dec = build(roleDeployment(loadDeployment('splitwise-hh'), 'decode'));
  const bad: Seen = { tokens: [] };
  dec.cluster.submitPrefilled!({ id: 'x', promptTokens: 10, outputTokens: 4 }, observe(bad), { fromMachine: 'no-such-machine' });
  const c: Seen = { tokens: [] };
  const h = dec.cluster.submitPrefilled!({ id: 'y', promptTokens: 4000, outputTokens: 50 }, observe(c), { fromMachine: 'dgx-h100' });
  dec.clock.run(0.0001);
  h.cancel();
  dec.clock.run();
  assert.match(bad.failed!, /unknown prompt machine type 'no-such-machine'/);
  assert.equal(c.b, undefined);
  assert.equal(dec.cluster.inFlight(), 0);
  const snap = dec.cluster.snapshot()[0]!;
  assert.equal(snap.kvUsedTokens, 0);
  assert.equal(snap.runningRequests + snap.queuedRequests, 0);
});
