/**
 * The slowdown reference: what one request takes alone on an uncontended machine (default one DGX-A100), the
 * denominator of Splitwise-style slowdowns.
 *
 * - 'realistic' (default): the machine's default performance model (its bundled profile, else the roofline):
 *   ttft = prefillTime(prompt); then output − 1 decode iterations of batch 1, the i-th (i = 1..output−1) at context
 *   prompt + i; tpot = their mean; e2e = ttft + their sum. With one output token, tpot is the decode time the next
 *   token would take (context prompt + 1), so a TPOT slowdown stays defined, and e2e = ttft.
 * - 'splitwise': SplitwiseSim's plotting-code baseline (the Splitwise notes, 2.6), with its quirk kept:
 *   ttft = prompt predictor(prompt) on the machine's hardware at TP8 (a100-80gb by default); tpot = token predictor
 *   evaluated at x = prompt (not the batch size); e2e = ttft + tpot x (output − 1).
 */
import { ConfigError } from '../../errors.js';
import type { PerfModel } from '../api.js';
import type { EngineData } from '../data.js';
import { createPerfModel, defaultPerfModelKind } from './registry.js';
import { splitwisePredictors } from './splitwise.js';

export interface ReferenceLatencyOptions {
  readonly model: string;
  /** Reference machine (default 'dgx-a100'). */
  readonly machine?: string;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly mode?: 'realistic' | 'splitwise';
  /** The loaded catalogs and profiles. */
  readonly data: EngineData;
}

export interface ReferenceLatency {
  /** Seconds. */
  readonly ttft: number;
  readonly tpot: number;
  readonly e2e: number;
}

const modelCache = new WeakMap<EngineData['catalog'], Map<string, PerfModel>>();

function referenceModel(model: string, machine: string, data: EngineData): PerfModel {
  const key = `${data.profiles.dir}|${model}|${machine}`;
  let cache = modelCache.get(data.catalog);
  if (!cache) modelCache.set(data.catalog, (cache = new Map()));
  let m = cache.get(key);
  if (!m) {
    m = createPerfModel({ kind: defaultPerfModelKind(data, model, machine), model, machine, data });
    cache.set(key, m);
  }
  return m;
}

export function referenceLatency(o: ReferenceLatencyOptions): ReferenceLatency {
  const machine = o.machine ?? 'dgx-a100';
  if (!(Number.isInteger(o.promptTokens) && o.promptTokens >= 1))
    throw new ConfigError(`must be an integer >= 1, got ${o.promptTokens}`, { path: 'promptTokens' });
  if (!(Number.isInteger(o.outputTokens) && o.outputTokens >= 1))
    throw new ConfigError(`must be an integer >= 1, got ${o.outputTokens}`, { path: 'outputTokens' });
  const mode = o.mode ?? 'realistic';
  if (mode === 'splitwise') {
    const hw = o.data.catalog.machine(machine).hw.name;
    const p = splitwisePredictors(o.data.profiles, o.model, hw, 8);
    const ttft = p.prompt(o.promptTokens);
    const tpot = p.token(o.promptTokens);
    return { ttft, tpot, e2e: ttft + tpot * (o.outputTokens - 1) };
  }
  if (mode !== 'realistic') throw new ConfigError(`unknown reference mode "${String(mode)}"; known: realistic, splitwise`, { path: 'mode' });
  const pm = referenceModel(o.model, machine, o.data);
  const ttft = pm.prefillTime(o.promptTokens);
  if (o.outputTokens === 1) {
    return { ttft, tpot: pm.decodeTime(1, o.promptTokens + 1), e2e: ttft };
  }
  const sum = decodeSum(pm, o.promptTokens, o.outputTokens - 1);
  return { ttft, tpot: sum / (o.outputTokens - 1), e2e: ttft + sum };
}

/** Per reference model and prompt size, the running sums of its batch-1 decode times (index k: k decodes). */
const decodeSums = new WeakMap<PerfModel, Map<number, { sums: Float64Array; n: number }>>();

/**
 * Σ_{i=1..k} decodeTime(1, prompt + i), added in that order (the same double as the plain loop): the running
 * sums of a prompt size are kept and extended, so requests of one prompt size share them.
 */
function decodeSum(pm: PerfModel, prompt: number, k: number): number {
  let byPrompt = decodeSums.get(pm);
  if (!byPrompt) decodeSums.set(pm, (byPrompt = new Map()));
  let e = byPrompt.get(prompt);
  if (!e) byPrompt.set(prompt, (e = { sums: new Float64Array(k + 1), n: 0 }));
  if (k > e.n) {
    if (k >= e.sums.length) {
      const grown = new Float64Array(Math.max(k + 1, e.sums.length + (e.sums.length >> 1)));
      grown.set(e.sums.subarray(0, e.n + 1));
      e.sums = grown;
    }
    const s = e.sums;
    let sum = s[e.n]!;
    for (let i = e.n + 1; i <= k; i++) {
      sum += pm.decodeTime(1, prompt + i);
      s[i] = sum;
    }
    e.n = k;
  }
  return e.sums[k]!;
}
