/**
 * What the engine's clusters (realistic, cluster.ts; SplitwiseSim-compatible, compat/cluster.ts) share: the
 * requests in flight by id, the machine list, the scheduler's counters, request checks and the one way a
 * request fails (`onFailed` on the clock, never a throw from `submit`).
 */
import type { Cluster, EngineRequest, MachineBookings, MachineInfo, RequestObserver, SubmitHandle } from './api.js';
import { EventRank, type Clock } from './clock.js';
import type { PoolName, SchedMachine } from './schedulers.js';
import type { MachineSpec } from './specs.js';

/** A machine as the store and `/metrics` list it. */
export function machineInfo(id: string, pool: PoolName, spec: MachineSpec): MachineInfo {
  return Object.freeze({ id, type: spec.name, pool, gpus: spec.gpus, pricePerHour: spec.pricePerHour, tdpW: spec.tdpW, idleW: spec.idleW });
}

/** The scheduler's counters of `machines`, less the memory each held before any placement (`base`). */
export function bookingsOf(machines: readonly SchedMachine[], base: (m: SchedMachine) => number = () => 0): MachineBookings[] {
  return machines.map((m) => ({ machine: m.id, pendingTokens: m.pendingTokens, reservedBytes: m.schedMemory - base(m) }));
}

/** Why a request cannot be taken (sizes; with `live`, the ids in flight: a duplicate id), or undefined. */
export function requestProblem(r: EngineRequest, live?: ReadonlyMap<string, unknown>): string | undefined {
  if (!Number.isInteger(r.promptTokens) || r.promptTokens < 1) return `promptTokens must be an integer ≥ 1 (got ${r.promptTokens})`;
  if (!Number.isInteger(r.outputTokens) || r.outputTokens < 1) return `outputTokens must be an integer ≥ 1 (got ${r.outputTokens})`;
  if (live?.has(r.id)) return `request id '${r.id}' is already in flight`;
  return undefined;
}

/** Fail a request on the clock at the current instant (after `submit` returns); cancelling first silences it. */
export function failLater(clock: Clock, observer: RequestObserver, reason: string): SubmitHandle {
  let cancelled = false;
  clock.at(
    clock.now(),
    () => {
      if (!cancelled) observer.onFailed(reason, clock.now());
    },
    EventRank.internal,
  );
  return { cancel: () => void (cancelled = true) };
}

/** The requests in flight by id and the machine list, as the `Cluster` contract reports them. */
export abstract class ClusterBase<R> implements Pick<Cluster, 'machines' | 'inFlight' | 'inFlightIds'> {
  protected readonly live = new Map<string, R>();
  protected abstract readonly infos: readonly MachineInfo[];

  machines(): readonly MachineInfo[] {
    return this.infos;
  }

  inFlight(): number {
    return this.live.size;
  }

  inFlightIds(): readonly string[] {
    return [...this.live.keys()];
  }
}
