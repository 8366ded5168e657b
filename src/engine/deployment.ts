/**
 * Deployment descriptors: which machines, in which pools, running which model, with which scheduler
 * and instance limits. The YAML is read and validated at the edge (src/config/deployment.ts, zod) into a frozen
 * `Deployment`; errors name the file, line and field path. Bundled descriptors live in `workloads/deployments/<name>.yaml`.
 *
 * ```yaml
 * name: splitwise-ha
 * kind: split                  # monolithic (one mixed pool) | split (prompt + token pools)
 * model: bloom-176b
 * perfModel: profile           # auto (default) | profile | roofline | constant
 * scheduler: splitwise-mixed-pool
 * pools:
 *   prompt: { machine: dgx-h100, count: 3 }
 *   token: { machine: dgx-a100, count: 2, instance: { maxBatchSize: 256 } }
 * instance: { maxBatchTokens: 2048, maxBatchSize: 512, blockTokens: 16, maxPreemptions: 4 }
 * interconnect: { layerwiseMinPromptTokens: 512 }   # bandwidthGbps / residueMs override the catalog
 * promptMaxPendingTokens: 8192
 * prefixCache: false           # true: every machine keeps a prefix cache of 512-token blocks (not in the compatible mode)
 * ```
 */
import type { ProfileIndexEntry } from './perf/profile.js';
import type { PoolName } from './schedulers.js';

/** 'auto': the bundled profile of (model, machine) when there is one, else the calibrated roofline. */
export const PERF_MODEL_KINDS = ['auto', 'profile', 'roofline', 'constant'] as const;

/**
 * Upper bounds of a deployment's numbers (docs/engine.md, "Cluster, schedulers, deployments"). Each is far beyond any
 * cluster the tool models (the Splitwise paper's largest has 70 machines) and keeps what the engine allocates
 * per machine, batch and request to a few hundred MB, so an absurd value is a validation error naming its
 * field instead of a heap exhaustion minutes later.
 */
export const DEPLOYMENT_BOUNDS = Object.freeze({
  /** Machines in one pool, and in all pools together (each costs ~5 KB and a share of every event). */
  machines: 10_000,
  maxBatchTokens: 1_048_576,
  maxBatchSize: 65_536,
  blockTokens: 4096,
  maxPreemptions: 1_000_000,
  promptMaxPendingTokens: 1_000_000_000,
  layerwiseMinPromptTokens: 100_000_000,
  bandwidthGbps: 1_000_000,
  residueMs: 60_000,
});
export interface PoolLimits {
  readonly maxBatchTokens: number;
  readonly maxBatchSize: number;
  readonly blockTokens: number;
  /** Compatible mode: selections a task waits before it jumps the queue (SplitwiseSim `max_preemptions`). */
  readonly maxPreemptions: number;
}

export interface PoolSpec {
  readonly role: PoolName;
  readonly machine: string;
  readonly count: number;
  readonly limits: PoolLimits;
}

export interface Deployment {
  readonly name: string;
  /** File it was read from ('' when built in code). */
  readonly source: string;
  readonly description: string;
  readonly kind: 'monolithic' | 'split';
  readonly model: string;
  readonly perfModel: (typeof PERF_MODEL_KINDS)[number];
  /** The deployment's `profileFile`, read and validated (the `profile` model then uses it for every machine). */
  readonly profile?: ProfileIndexEntry;
  readonly scheduler: string;
  /** Pools in order prompt, token, mixed (absent or empty pools left out). */
  readonly pools: readonly PoolSpec[];
  readonly interconnect: {
    readonly bandwidthGbps?: number;
    readonly layerwiseMinPromptTokens: number;
    readonly residueMs?: number;
  };
  readonly promptMaxPendingTokens: number;
  /** Machines keep a prefix cache (instance.ts, prefix-cache.ts); false unless the deployment enables it. */
  readonly prefixCache: boolean;
  /**
   * Where each name the catalog resolves later came from, for errors found then (an unknown or too large
   * model or machine): `model` and `pools.<role>.machine` → `file:line: field`, or the flag that overrode it.
   * Absent on a Deployment built by hand: errors then name the source and the field.
   */
  readonly origins?: Readonly<Record<string, string>>;
}

/** `file:line: field` (or the overriding flag) of a deployment field, for error messages. */
export function originOf(dep: Pick<Deployment, 'origins' | 'source' | 'name'>, field: string): string {
  return dep.origins?.[field] ?? `${dep.source || dep.name}: ${field}`;
}

export interface DeploymentOverrides {
  readonly model?: string;
  readonly scheduler?: string;
  readonly perfModel?: string;
  /** Machine counts per pool. */
  readonly counts?: Partial<Record<PoolName, number>>;
  /** Machine type per pool. */
  readonly machines?: Partial<Record<PoolName, string>>;
}
