/**
 * What the engine needs to know about a machine type and a model, and the KV-cache arithmetic built on
 * it. The full catalogs (hardware, machines, models, prices) live in the catalog module; the engine
 * only reads these fields (the catalog module's `engineCatalog()` provides them).
 */

export interface MachineSpec {
  /** Catalog name, e.g. 'dgx-h100'. */
  readonly name: string;
  readonly gpus: number;
  /** HBM bytes per GPU. */
  readonly hbmBytesPerGpu: number;
  /** Machine-to-machine interconnect (InfiniBand), Gb/s. */
  readonly interconnectGbps: number;
  /** Non-overlapped residue of a layer-wise KV transfer, seconds (paper: ~8 ms A100, ~5 ms H100). */
  readonly kvResidueS: number;
  readonly pricePerHour: number;
  readonly tdpW: number;
  readonly idleW: number;
}

export interface ModelSpec {
  readonly name: string;
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  /** KV heads (GQA); equals `heads` for multi-head attention. */
  readonly kvHeads: number;
  /** Bytes per KV element (2 for fp16/bf16). */
  readonly dtypeBytes: number;
  /** Weights bytes (the whole model, all GPUs together). */
  readonly weightsBytes: number;
}

/** SplitwiseSim's per-GPU memory (80 GiB) and its per-DGX capacity. */
export const SPLITWISE_GPU_MEMORY_BYTES = 85_899_345_920;
/** SplitwiseSim's KV transfer bandwidth: 200 GiB/s, for every design. */
export const SPLITWISE_TRANSFER_BYTES_PER_S = 200 * 1024 ** 3;

/**
 * KV-cache bytes per token. Default (realistic): 2 (K and V) × layers × kvHeads × headDim × dtype —
 * GQA-aware. Compatible mode: SplitwiseSim's MHA formula 2 × hidden × layers × dtype (BLOOM: 4,014,080 B).
 */
export function kvBytesPerToken(model: ModelSpec, compat = false): number {
  if (compat) return 2 * model.hidden * model.layers * model.dtypeBytes;
  const headDim = model.hidden / model.heads;
  return 2 * model.layers * model.kvHeads * headDim * model.dtypeBytes;
}

/** Machine memory (all GPUs); compatible mode: 8 × 85,899,345,920 B whatever the GPU count. */
export function machineMemoryBytes(machine: MachineSpec, compat = false): number {
  return compat ? 8 * SPLITWISE_GPU_MEMORY_BYTES : machine.gpus * machine.hbmBytesPerGpu;
}

/** KV capacity of one machine holding one copy of the model: memory − weights (≥ 0). */
export function kvCapacityBytes(machine: MachineSpec, model: ModelSpec, compat = false): number {
  return Math.max(0, machineMemoryBytes(machine, compat) - model.weightsBytes);
}

/** Interconnect bytes per second between two machines (the slower NIC). */
export function transferBytesPerS(a: MachineSpec, b: MachineSpec): number {
  return (Math.min(a.interconnectGbps, b.interconnectGbps) * 1e9) / 8;
}
