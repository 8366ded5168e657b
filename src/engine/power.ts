/**
 * Power model: watts of one machine by what it is doing, and energy integration.
 *
 * Per GPU (hardware catalog: idleW, promptW, tokenW, powerCapW; A100 63/400/250 W and H100 75/700/380 W are
 * SplitwiseSim's power-model constants, the Splitwise notes 2.5; other GPUs are scaled from the H100's ratios):
 *   idle      idleW
 *   decode    tokenW, flat: decode is memory-bound and its power barely moves with batch size (paper section 3.6)
 *   prefill   tokenW + (promptW − tokenW) x min(1, T / 2048), T = prompt tokens in the batch: prompt power rises
 *             with the batch and saturates near TDP at the 2048-token throughput knee (paper sections 3.4, 3.6)
 *   mixed     as prefill with T = prompt tokens + decodes (never below tokenW)
 *   then capped at powerCapW (the capped H100: 350 W; prefill drops from 700 W, decode from 380 W barely moves,
 *   while the performance model slows prefill x1.3 and leaves decode alone).
 * Per machine: idleW(machine, GPUs included: DGX-A100 1500 W, DGX-H100 2800 W) + gpus x (GPU watts − GPU idleW),
 * at most ratedW (the capped DGX-H100: 0.7 x 10200 = 7140 W).
 */
import type { Catalog, CatalogMachine } from './catalog.js';

export type PowerPhase = 'idle' | 'prefill' | 'decode' | 'mixed';

export interface PowerState {
  readonly phase: PowerPhase;
  /** Prompt tokens in the running batch. */
  readonly batchPromptTokens: number;
  /** Decode requests in the running batch. */
  readonly decodes: number;
}

/** Prompt tokens at which prefill power saturates (the prompt-throughput knee). */
export const PREFILL_POWER_SATURATION_TOKENS = 2048;

export interface PowerModel {
  readonly machine: CatalogMachine;
  /** Machine watts when idle. */
  readonly idleW: number;
  /** Machine watts ceiling (rated power, or the capped rating). */
  readonly maxW: number;
  /** Watts of one GPU in this state (after its cap). */
  gpuWatts(state: PowerState): number;
  /** Watts of the whole machine in this state. */
  watts(state: PowerState): number;
}

export function powerModel(m: CatalogMachine): PowerModel {
  const hw = m.hw;
  const cap = hw.powerCapW ?? Infinity;
  const gpuWatts = (s: PowerState): number => {
    let w: number;
    switch (s.phase) {
      case 'idle':
        w = hw.idleW;
        break;
      case 'decode':
        w = s.decodes > 0 ? hw.tokenW : hw.idleW;
        break;
      case 'prefill':
      case 'mixed': {
        const t = Math.max(0, s.batchPromptTokens) + (s.phase === 'mixed' ? Math.max(0, s.decodes) : 0);
        w = hw.tokenW + (hw.promptW - hw.tokenW) * Math.min(1, t / PREFILL_POWER_SATURATION_TOKENS);
        break;
      }
      default:
        throw new RangeError(`unknown power phase ${String((s as { phase: unknown }).phase)}`);
    }
    return Math.min(w, cap);
  };
  return {
    machine: m,
    idleW: m.idleW,
    maxW: m.ratedW,
    gpuWatts,
    watts: (s) => Math.min(m.ratedW, m.idleW + m.gpus * (gpuWatts(s) - Math.min(hw.idleW, cap))),
  };
}

/**
 * Energy of a piecewise-constant power signal: each sample's watts hold until the next sample's time (zero-order
 * hold), the last one until `end`. Samples must be in time order. Joules.
 */
export function energyJoules(samples: readonly { readonly time: number; readonly watts: number }[], end: number): number {
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const next = i + 1 < samples.length ? samples[i + 1]!.time : end;
    if (next < s.time) throw new RangeError(`power samples out of time order at index ${i + 1}`);
    j += s.watts * (next - s.time);
  }
  return j;
}

/** Running energy integral of one machine: call `set(time, watts)` at every power change. */
export class EnergyMeter {
  private lastTime: number;
  private lastWatts: number;
  private total = 0;
  constructor(startTime: number, watts: number) {
    this.lastTime = startTime;
    this.lastWatts = watts;
  }
  set(time: number, watts: number): void {
    if (time < this.lastTime) throw new RangeError(`EnergyMeter time went backwards (${time} < ${this.lastTime})`);
    this.total += this.lastWatts * (time - this.lastTime);
    this.lastTime = time;
    this.lastWatts = watts;
  }
  /** Joules from the start up to `time` (≥ the last change). */
  joules(time: number = this.lastTime): number {
    if (time < this.lastTime) throw new RangeError(`EnergyMeter time went backwards (${time} < ${this.lastTime})`);
    return this.total + this.lastWatts * (time - this.lastTime);
  }
  get watts(): number {
    return this.lastWatts;
  }
}

/** A machine's state as the cluster reports it (`MachinePowerState` of cluster.ts). */
export interface EnginePowerState {
  readonly phase: 'prompt' | 'decode' | 'mixed' | 'idle';
  readonly batchSize: number;
  /** Prompt tokens + decodes in the current iteration. */
  readonly batchTokens: number;
}

/**
 * This power model as the cluster's `power` option: `createCluster(dep, { power: enginePower(catalog), ... })`.
 * Machines are looked up by name (or alias) in the catalog.
 */
export function enginePower(catalog: Catalog): (machine: { readonly name: string }, state: EnginePowerState) => number {
  const models = new Map<string, PowerModel>();
  return (machine, state) => {
    let pm = models.get(machine.name);
    if (!pm) models.set(machine.name, (pm = powerModel(catalog.machine(machine.name))));
    switch (state.phase) {
      case 'idle':
        return pm.watts({ phase: 'idle', batchPromptTokens: 0, decodes: 0 });
      case 'decode':
        return pm.watts({ phase: 'decode', batchPromptTokens: 0, decodes: state.batchSize });
      case 'prompt':
        return pm.watts({ phase: 'prefill', batchPromptTokens: state.batchTokens, decodes: 0 });
      default:
        return pm.watts({ phase: 'mixed', batchPromptTokens: state.batchTokens, decodes: 0 });
    }
  };
}
