import { ConfigError } from '../../errors.js';
import type { BatchShape, PerfModel } from '../api.js';

export interface ConstantParams {
  /** Seconds of any iteration that holds prompt tokens (a). */
  readonly prefillBaseS: number;
  /** Seconds per prompt token (b). */
  readonly prefillPerTokenS: number;
  /** Seconds of a decode iteration, whatever its batch or context (c). */
  readonly decodeS: number;
}

export const DEFAULT_CONSTANT: ConstantParams = { prefillBaseS: 0.05, prefillPerTokenS: 0.0001, decodeS: 0.02 };

/**
 * The `constant` performance model (for tests, where expected latencies must be exact):
 * prompts only: a + b·P; decodes only: c; mixed: a + b·P + c (the decodes ride along at their own cost).
 */
export class ConstantPerfModel implements PerfModel {
  readonly name: string;
  readonly params: ConstantParams;
  constructor(params: ConstantParams = DEFAULT_CONSTANT) {
    for (const [k, v] of Object.entries(params)) {
      if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0))
        throw new ConfigError(`must be a finite number >= 0, got ${String(v)}`, { path: `constant.${k}` });
    }
    this.params = { ...params };
    this.name = `constant:${params.prefillBaseS}+${params.prefillPerTokenS}/tok,${params.decodeS}`;
  }
  prefillTime(tokens: number): number {
    return this.params.prefillBaseS + this.params.prefillPerTokenS * tokens;
  }
  decodeTime(batchSize: number, _contextTokens: number): number {
    return batchSize > 0 ? this.params.decodeS : 0;
  }
  iterationTime(batch: BatchShape): number {
    let P = 0;
    for (const p of batch.promptTokens) P += p;
    const t = P > 0 ? this.prefillTime(P) : 0;
    return t + (batch.decodes > 0 ? this.params.decodeS : 0);
  }
}
