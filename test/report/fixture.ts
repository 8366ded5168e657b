/**
 * Test fixtures for reports: a temp results store holding constructed monolithic and phase-split runs
 * (deterministic PRNG), written through the store's own writer so derived columns follow the schema.
 * The shapes follow the Splitwise story: at equal load the monolithic pool's TTFT has a longer tail (prompts
 * wait behind mixed batches) and its token gaps spike when a prefill joins the batch; the split design
 * pays a small KV transfer instead.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../src/store/index.js';
import { seededRandom } from '../../src/engine/index.js';

/** The engine's mulberry32 PRNG, re-exported for the report fixtures. */
export const mulberry32 = seededRandom;

export interface RunSpec {
  readonly name: string;
  readonly design: 'mono' | 'split';
  readonly rate: number;
  readonly n: number;
  readonly seed: number;
  readonly deployment?: string;
  /** Record power, timeline samples, machines with prices and SLO verdicts (default true). */
  readonly extras?: boolean;
  /** Scale every latency (to make "different data"). */
  readonly latencyScale?: number;
  /** Run kind (default sim); live runs get a lag histogram. */
  readonly kind?: 'live' | 'sim';
  /** The run's stored options (default { design }): equal options + deployment make runs one sweep. */
  readonly options?: Record<string, unknown>;
}

export function addRun(store: Store, spec: RunSpec): number {
  const rnd = mulberry32(spec.seed);
  const exp = (mean: number): number => -Math.log(1 - rnd()) * mean;
  const logn = (median: number, sigma: number): number => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd()));
  const k = spec.latencyScale ?? 1;
  const load = spec.rate / 10;
  const mono = spec.design === 'mono';
  const w = store.createRun({
    name: spec.name,
    kind: spec.kind ?? 'sim',
    deployment: spec.deployment ?? (mono ? 'mono-a100' : 'splitwise-ha'),
    offeredRate: spec.rate,
    options: spec.options ?? { design: spec.design },
  });
  let t = 0;
  let lastEnd = 0;
  const pools = mono ? ['mixed'] : ['prompt', 'token'];
  for (let i = 0; i < spec.n; i++) {
    t += exp(1 / spec.rate);
    const prompt = Math.max(8, Math.round(logn(900, 0.8)));
    const output = Math.max(2, Math.round(logn(60, 0.7)));
    const lag = exp(0.0004);
    const send = t + lag;
    const queue = k * (mono ? exp(0.03 * load) + (rnd() < 0.12 * load ? exp(0.6 * load) : 0) : exp(0.02 * load));
    const prefill = k * (0.015 + prompt * 4e-5);
    const kv = mono ? 0 : k * (0.004 + prompt * 1.5e-6);
    // The breakdown adds up (docs/metrics.md "Metric glossary"): TTFT = queue + prefill; the second token waits kv + decode wait.
    const ttft = queue + prefill;
    const failed = mono && rnd() < 0.01;
    const chunks: { t: number; tokens: number }[] = [{ t: ttft, tokens: 1 }];
    let ct = ttft;
    let decodeWait = 0;
    for (let j = 1; j < output && !failed; j++) {
      let gap = k * (mono ? 0.03 : 0.028) * (0.9 + 0.2 * rnd());
      if (mono && rnd() < 0.06 * load) gap += k * (0.02 + 0.1 * rnd());
      if (j === 1) decodeWait = gap;
      ct += gap + (j === 1 ? kv : 0);
      chunks.push({ t: ct, tokens: 1 });
    }
    const second = chunks[1]?.t ?? ttft;
    const end = send + ct;
    lastEnd = Math.max(lastEnd, end);
    w.addRequest({
      seq: i,
      traceId: String(i),
      arrival: t,
      promptTokens: prompt,
      outputTokens: output,
      scheduled: t,
      send,
      firstToken: send + ttft,
      end: failed ? send + ttft : end,
      status: failed ? 'error' : 'ok',
      ...(failed ? { errorCode: 'SB_HTTP', error: 'HTTP 503', httpStatus: 503 } : {}),
      tokensReceived: failed ? 1 : output,
      chunks: failed ? chunks.slice(0, 1) : chunks,
      breakdown: { queue, prefill, kvTransfer: failed ? 0 : kv, decodeWait: failed ? 0 : decodeWait, decode: failed ? 0 : ct - second },
      pool: pools[0]!,
      promptMachine: `${pools[0]}-0`,
      tokenMachine: `${pools[pools.length - 1]}-0`,
    });
  }
  if (spec.extras ?? true) {
    const machines = mono
      ? [0, 1, 2, 3].map((m) => ({ machineId: `mixed-${m}`, machineType: 'dgx-a100', pool: 'mixed', pricePerHour: 17.6, tdpW: 6500, idleW: 1500 }))
      : [
          { machineId: 'prompt-0', machineType: 'dgx-h100', pool: 'prompt', pricePerHour: 38, tdpW: 10200, idleW: 2200 },
          { machineId: 'prompt-1', machineType: 'dgx-h100', pool: 'prompt', pricePerHour: 38, tdpW: 10200, idleW: 2200 },
          { machineId: 'token-0', machineType: 'dgx-a100', pool: 'token', pricePerHour: 17.6, tdpW: 6500, idleW: 1500 },
          { machineId: 'token-1', machineType: 'dgx-a100', pool: 'token', pricePerHour: 17.6, tdpW: 6500, idleW: 1500 },
        ];
    w.addMachines(machines);
    for (let s = 0; s <= Math.ceil(lastEnd); s++) {
      for (const m of machines) {
        const busy = Math.min(1, (load / 4) * (0.7 + 0.6 * rnd()));
        w.addPowerSample({
          t: s,
          machineId: m.machineId,
          role: m.pool,
          source: 'model',
          watts: m.idleW + (m.tdpW - m.idleW) * busy * (m.pool === 'token' ? 0.6 : 0.9),
        });
      }
      for (const p of pools)
        w.addTimelineSample({ t: s, source: 'engine', role: p, name: 'queue_depth', value: Math.round(exp(mono ? 2 * load : 0.8 * load)) });
    }
  }
  w.finish('completed');
  if (spec.extras ?? true) {
    store.addSloResults(w.runId, [
      {
        evaluatedAt: '2024-01-01T00:00:00.000Z',
        sloFile: 'fixture-slo.yaml',
        rule: 'ttft.p99 <= 2s',
        metric: 'ttft.p99',
        value: mono ? 2.4 * k : 0.6 * k,
        limitValue: 2,
        op: '<=',
        passed: mono ? 2.4 * k <= 2 : 0.6 * k <= 2,
      },
      {
        evaluatedAt: '2024-01-01T00:00:00.000Z',
        sloFile: 'fixture-slo.yaml',
        rule: 'tbt.p99 <= 100ms',
        metric: 'tbt.p99',
        value: mono ? 0.12 * k : 0.031 * k,
        limitValue: 0.1,
        op: '<=',
        passed: (mono ? 0.12 * k : 0.031 * k) <= 0.1,
      },
      {
        evaluatedAt: '2024-01-01T00:00:00.000Z',
        sloFile: 'fixture-slo.yaml',
        rule: 'error_rate <= 0.5%',
        metric: 'error_rate',
        value: mono ? 0.01 : 0,
        limitValue: 0.005,
        op: '<=',
        passed: !mono,
      },
    ]);
  }
  return w.runId;
}

export function tempDir(prefix = 'splitbench-report-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A store with `specs` written into it; returns its path. */
export function makeStore(dir: string, specs: readonly RunSpec[], file = 'results.db'): string {
  const p = path.join(dir, file);
  const store = openStore(p);
  try {
    for (const s of specs) addRun(store, s);
  } finally {
    store.close();
  }
  return p;
}

/** The two-run comparison most tests use: monolithic vs phase-split at equal load. */
export const TWO_RUNS: readonly RunSpec[] = [
  { name: 'mono-20', design: 'mono', rate: 20, n: 300, seed: 1 },
  { name: 'split-20', design: 'split', rate: 20, n: 300, seed: 2 },
];

/** A small sweep of both designs, for the load charts. */
export const SWEEP: readonly RunSpec[] = [10, 20, 30].flatMap((rate, i) => [
  { name: `sweep-mono-${rate}`, design: 'mono' as const, rate, n: 150, seed: 10 + i, extras: false },
  { name: `sweep-split-${rate}`, design: 'split' as const, rate, n: 150, seed: 20 + i, extras: false },
]);
