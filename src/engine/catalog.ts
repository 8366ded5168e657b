/**
 * Hardware, machine and model catalogs as the engine reads them: the entry types and the `Catalog` of lookups.
 * The YAML files (`workloads/catalog/`) are read and validated at the edge (src/config/catalog.ts) and the loaded
 * `Catalog` is handed in.
 *
 * Also the size helpers every part of the engine shares: KV bytes per token (GQA-aware; the
 * SplitwiseSim-compatible MHA formula with `compat`), weight bytes, and KV capacity of a machine in tokens.
 */
import { ConfigError } from '../errors.js';
import type { EngineCatalog } from './cluster.js';
import type { MachineSpec as EngineMachineSpec, ModelSpec as EngineModelSpec } from './specs.js';

/** Numeric fields by name (the catalog files' units are in the names: W, S, Bytes, Gbps, per second). */
type Numbers<K extends string> = { readonly [P in K]: number };
type OptionalNumbers<K extends string> = { readonly [P in K]?: number | undefined };

/**
 * A GPU type (hardware.yaml): peak FLOP/s, HBM bytes and bytes/s, links, watts; `product` is the name the driver
 * reports (DCGM's `modelName`, e.g. "NVIDIA H100 80GB HBM3"); `rooflineFrom`, the type whose roofline factors it uses.
 */
export type HardwareSpec = Numbers<
  'peakBf16Flops' | 'hbmBandwidth' | 'hbmBytes' | 'scaleUpBandwidth' | 'infinibandGbps' | 'tdpW' | 'idleW' | 'promptW' | 'tokenW'
> &
  OptionalNumbers<'powerCapW' | 'capPrefillSlowdown'> & {
    readonly name: string;
    readonly vendor: string;
    readonly product?: string | undefined;
    readonly rooflineFrom?: string | undefined;
    readonly source: string;
  };

/** A model's shapes and sizes (models.yaml); `compat`: SplitwiseSim's sizes of it (the compatible mode). */
export type CatalogModel = Numbers<
  'layers' | 'hidden' | 'heads' | 'kvHeads' | 'headDim' | 'intermediate' | 'vocab' | 'parameters' | 'bytesPerParam' | 'bytesPerKv' | 'maxContextTokens'
> &
  OptionalNumbers<'activeParameters' | 'experts' | 'expertsPerToken'> & {
    readonly name: string;
    readonly compat?: { readonly weightBytes: number; readonly heads: number } | undefined;
    readonly source: string;
  };

/**
 * A machine type (machines.yaml) with its hardware entry resolved (`hw`): `gpus` bounds its tensor-parallel degree;
 * `infinibandGbps` is the KV-transfer link (the machine's value, else the hardware's); `kvResidueS` the
 * non-overlapped residue of a layer-wise KV transfer (paper: ~8 ms A100, ~5 ms H100).
 */
export type CatalogMachine = Numbers<'gpus' | 'pricePerHour' | 'powerUnits' | 'ratedW' | 'idleW' | 'infinibandGbps' | 'powerFactor' | 'kvResidueS'> & {
  readonly name: string;
  readonly hardware: string;
  readonly hw: HardwareSpec;
  readonly priceSource: string;
  readonly source?: string | undefined;
};

function unknownName(kind: string, name: string, known: readonly string[]): ConfigError {
  return new ConfigError(`unknown ${kind} "${name}"; known: ${known.join(', ')}`);
}

/** The loaded catalogs. Lookups throw a ConfigError listing the known names on a miss. */
export class Catalog {
  /** Where it was read from (a label: the engine reads no files). */
  readonly dir: string;
  private readonly hw: ReadonlyMap<string, HardwareSpec>;
  private readonly mc: ReadonlyMap<string, CatalogMachine>;
  private readonly md: ReadonlyMap<string, CatalogModel>;
  private readonly aliases: ReadonlyMap<string, string>;

  constructor(
    dir: string,
    hardware: Map<string, HardwareSpec>,
    machines: Map<string, CatalogMachine>,
    models: Map<string, CatalogModel>,
    machineAliases: Map<string, string> = new Map(),
  ) {
    this.dir = dir;
    this.hw = hardware;
    this.mc = machines;
    this.md = models;
    this.aliases = machineAliases;
  }

  hardware(name: string): HardwareSpec {
    const h = this.hw.get(name);
    if (!h) throw unknownName('hardware', name, this.hardwareNames());
    return h;
  }
  /** A machine by name or alias (e.g. SplitwiseSim's `dgx-h100-pcap` for `dgx-h100-cap`). */
  machine(name: string): CatalogMachine {
    const m = this.mc.get(name) ?? this.mc.get(this.aliases.get(name) ?? '');
    if (!m) throw unknownName('machine', name, this.machineNames());
    return m;
  }
  model(name: string): CatalogModel {
    const m = this.md.get(name);
    if (!m) throw unknownName('model', name, this.modelNames());
    return m;
  }
  hardwareNames(): string[] {
    return [...this.hw.keys()];
  }
  machineNames(): string[] {
    return [...this.mc.keys()];
  }
  hasMachine(name: string): boolean {
    return this.mc.has(name) || this.aliases.has(name);
  }
  hasModel(name: string): boolean {
    return this.md.has(name);
  }
  hasHardware(name: string): boolean {
    return this.hw.has(name);
  }
  modelNames(): string[] {
    return [...this.md.keys()];
  }
}

export interface SizeOptions {
  /** SplitwiseSim-compatible sizes (MHA KV formula, its weight sizes, 80 GiB per GPU, no reserve). */
  readonly compat?: boolean;
}

/**
 * KV-cache bytes per token of context, whole model (what a KV transfer ships).
 * Realistic: 2 (K and V) x layers x kvHeads x headDim x bytesPerKv (GQA-aware).
 * compat: SplitwiseSim's 2 x hidden x layers x 2 B (MHA, fp16), e.g. BLOOM-176B 4,014,080 B.
 */
export function modelKvBytesPerToken(model: CatalogModel, opts: SizeOptions = {}): number {
  if (opts.compat) return 2 * model.hidden * model.layers * 2;
  return 2 * model.layers * model.kvHeads * model.headDim * model.bytesPerKv;
}

/** Weight bytes of the whole model: parameters x bytesPerParam; compat: SplitwiseSim's size when it has one. */
export function modelWeightBytes(model: CatalogModel, opts: SizeOptions = {}): number {
  if (opts.compat && model.compat) return model.compat.weightBytes;
  return model.parameters * model.bytesPerParam;
}

/**
 * KV bytes per token held by one instance of `tp` GPUs. With GQA and kvHeads < tp each GPU keeps a copy of at
 * least one KV head, so the instance holds tp x ceil(kvHeads / tp) heads' worth instead of kvHeads.
 */
export function kvBytesPerTokenInstance(model: CatalogModel, tp: number, opts: SizeOptions = {}): number {
  if (opts.compat) return modelKvBytesPerToken(model, opts);
  const headsPerGpu = Math.ceil(model.kvHeads / tp);
  return 2 * model.layers * headsPerGpu * tp * model.headDim * model.bytesPerKv;
}

export interface CapacityOptions extends SizeOptions {
  /** GPUs of one instance (tensor-parallel degree); default: all of the machine's. */
  readonly tp?: number;
  /** Fraction of GPU memory the server may use (vLLM's gpu_memory_utilization); default 0.9; ignored with compat. */
  readonly memoryUtilization?: number;
}

/**
 * Tokens of KV cache one instance can hold: (usable memory − weights) / KV bytes per token, floored.
 * compat: SplitwiseSim's (gpus x 85,899,345,920 B − its weight size) / its KV size (BLOOM on a DGX: 89,234).
 * Throws a ConfigError when the weights do not fit.
 */
export function kvCapacityTokens(model: CatalogModel, machine: CatalogMachine, opts: CapacityOptions = {}): number {
  const tp = opts.tp ?? machine.gpus;
  if (!Number.isInteger(tp) || tp < 1 || tp > machine.gpus) {
    throw new ConfigError(`tensor-parallel degree ${tp} must be an integer from 1 to ${machine.gpus} for ${machine.name}`, { path: 'tp' });
  }
  const util = opts.compat ? 1 : (opts.memoryUtilization ?? 0.9);
  const memory = tp * machine.hw.hbmBytes * util;
  const weights = modelWeightBytes(model, opts);
  const free = memory - weights;
  if (free <= 0) {
    throw new ConfigError(
      `${model.name} (${(weights / 1e9).toFixed(1)} GB of weights) does not fit on ${machine.name} at TP${tp} (${(memory / 1e9).toFixed(1)} GB usable)`,
      { hint: 'pick a machine with more GPU memory, or a smaller model' },
    );
  }
  return Math.floor(free / kvBytesPerTokenInstance(model, tp, opts));
}

/**
 * This catalog in the shape the cluster reads (`EngineCatalog` of cluster.ts), so a deployment can use every
 * catalog machine and model: `createCluster(dep, { catalog: engineCatalog(loaded), ... })`. With `compat`, model weights
 * are SplitwiseSim's sizes (329e9 / 135e9 B) where the model has them.
 */
export function engineCatalog(catalog: Catalog, opts: SizeOptions = {}): EngineCatalog {
  const machineSpec = (m: CatalogMachine): EngineMachineSpec => ({
    name: m.name,
    gpus: m.gpus,
    hbmBytesPerGpu: m.hw.hbmBytes,
    interconnectGbps: m.infinibandGbps,
    kvResidueS: m.kvResidueS,
    pricePerHour: m.pricePerHour,
    tdpW: m.ratedW,
    idleW: m.idleW,
  });
  const modelSpec = (m: CatalogModel): EngineModelSpec => ({
    name: m.name,
    layers: m.layers,
    hidden: m.hidden,
    heads: m.heads,
    kvHeads: m.kvHeads,
    dtypeBytes: m.bytesPerKv,
    weightsBytes: modelWeightBytes(m, opts),
  });
  return {
    machine: (n) => (catalog.hasMachine(n) ? machineSpec(catalog.machine(n)) : undefined),
    model: (n) => (catalog.hasModel(n) ? modelSpec(catalog.model(n)) : undefined),
    machineNames: () => catalog.machineNames(),
    modelNames: () => catalog.modelNames(),
  };
}
