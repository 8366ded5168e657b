import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import type { BatchShape, EngineRequest, PerfModel, RequestBreakdown, RequestObserver } from '../../src/engine/api.js';
import type { EngineCatalog } from '../../src/engine/cluster.js';
import type { MachineSpec, ModelSpec } from '../../src/engine/specs.js';
import { seededRandom } from '../../src/engine/schedulers.js';

/** prefill = a + b·tokens (+ c when decodes ride along), decode-only = c: exact expected latencies. */
export class ConstantPerfModel implements PerfModel {
  readonly name = 'constant-test';
  constructor(
    readonly a: number,
    readonly b: number,
    readonly c: number,
  ) {}
  iterationTime(s: BatchShape): number {
    let p = 0;
    for (const x of s.promptTokens) p += x;
    return (s.promptTokens.length > 0 ? this.a + this.b * p : 0) + (s.decodes > 0 ? this.c : 0);
  }
  prefillTime(tokens: number): number {
    return this.a + this.b * tokens;
  }
  decodeTime(): number {
    return this.c;
  }
}

/** A tiny model: KV bytes per token = 2 × hidden (1 layer, MHA, 1-byte elements). */
export function tinyModel(hidden = 1000, weightsBytes = 0): ModelSpec {
  return { name: 'tiny', layers: 1, hidden, heads: 1, kvHeads: 1, dtypeBytes: 1, weightsBytes };
}

export function tinyMachine(name: string, memBytes: number, interconnectGbps = 0.8, kvResidueS = 0.005): MachineSpec {
  return { name, gpus: 1, hbmBytesPerGpu: memBytes, interconnectGbps, kvResidueS, pricePerHour: 1, tdpW: 1000, idleW: 100 };
}

export function catalogOf(machines: MachineSpec[], models: ModelSpec[]): EngineCatalog {
  return {
    machine: (n) => machines.find((m) => m.name === n),
    model: (n) => models.find((m) => m.name === n),
    machineNames: () => machines.map((m) => m.name),
    modelNames: () => models.map((m) => m.name),
  };
}

export interface Record {
  id: string;
  tokens: { n: number; t: number }[];
  done?: { bd: RequestBreakdown; t: number };
  failed?: { reason: string; t: number };
}

export function recorder(id: string, into: Map<string, Record>): RequestObserver {
  const rec: Record = { id, tokens: [] };
  into.set(id, rec);
  return {
    onTokens: (n, t) => void rec.tokens.push({ n, t }),
    onDone: (bd, t) => void (rec.done = { bd, t }),
    onFailed: (reason, t) => void (rec.failed = { reason, t }),
  };
}

export function req(id: string, promptTokens: number, outputTokens: number): EngineRequest {
  return { id, promptTokens, outputTokens };
}

export function near(actual: number | undefined, expected: number, msg?: string, eps = 1e-9): void {
  if (actual === undefined || !(Math.abs(actual - expected) <= eps)) {
    throw new Error(`${msg ?? 'value'}: expected ${expected}, got ${actual}`);
  }
}

/** The ConfigError `f` throws (fails the test when it throws something else or nothing). */
export function configErrorOf(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  throw new Error('expected a ConfigError');
}

/** Poisson arrivals at `rate` req/s for `seconds` (seeded), ids 0, 1, …, sizes from `size`. */
export function poisson(
  rate: number,
  seconds: number,
  seed: number,
  size: (rnd: () => number) => { p: number; o: number },
): { id: string; at: number; p: number; o: number }[] {
  const rnd = seededRandom(seed);
  const out: { id: string; at: number; p: number; o: number }[] = [];
  let t = 0;
  for (let i = 0; ; i++) {
    t += -Math.log(1 - rnd()) / rate;
    if (t >= seconds) break;
    out.push({ id: String(i), at: t, ...size(rnd) });
  }
  return out;
}
