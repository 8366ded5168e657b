/**
 * The price table (workloads/prices.yaml): USD per machine-hour by machine type, USD per GPU-hour by GPU type,
 * USD per kWh; every entry with its source, date and kind. Overrides from the command line (`--price
 * NAME=USD_PER_HOUR`, `--price-kwh USD`) replace an entry's price and mark its source as 'user'.
 */
import fs from 'node:fs';
import path from 'node:path';
import { yaml } from '../config/yaml.js';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { WORKLOADS_DIR } from '../paths.js';
import { bundledSnapshot } from '../config/snapshot.js';

export const DEFAULT_PRICES_FILE: string = path.join(WORKLOADS_DIR, 'prices.yaml');

export const PRICE_KINDS = ['paper-assumption', 'on-demand', 'reserved', 'spot', 'capacity-block', 'assumption', 'user'] as const;
export type PriceKind = (typeof PRICE_KINDS)[number];

const provenance = {
  source: z.string().min(1),
  date: z.union([z.string(), z.number(), z.date()]).transform((d) => (d instanceof Date ? d.toISOString().slice(0, 10) : String(d))),
  kind: z.enum(PRICE_KINDS),
};
const alternative = z.object({ usdPerHour: z.number().positive(), ...provenance }).strict();
const machineSchema = z
  .object({
    usdPerHour: z.number().positive(),
    gpus: z.number().int().positive(),
    gpu: z.string().min(1).optional(),
    ...provenance,
    alternatives: z.array(alternative).optional(),
  })
  .strict();
const gpuSchema = z
  .object({ usdPerHour: z.number().positive(), match: z.array(z.string().min(1)).default([]), ...provenance, alternatives: z.array(alternative).optional() })
  .strict();
const fileSchema = z
  .object({
    machines: z.record(machineSchema).default({}),
    gpus: z.record(gpuSchema).default({}),
    electricity: z.object({ usdPerKwh: z.number().nonnegative(), ...provenance }).strict(),
  })
  .strict();

export interface Price {
  /** USD per hour of one unit (a machine, or one GPU). */
  readonly usdPerHour: number;
  readonly source: string;
  readonly date: string;
  readonly kind: PriceKind;
}

export interface MachinePrice extends Price {
  readonly gpus: number;
  readonly gpu?: string;
}

export interface GpuPrice extends Price {
  readonly match: readonly string[];
}

/** A resolved price for something that was sampled or emulated. */
export interface ResolvedPrice extends Price {
  /** The table key it was found under ('dgx-h100', 'h100-80gb'). */
  readonly name: string;
  /** USD per hour of the thing asked about (a machine of `gpus` GPUs, or one GPU). */
  readonly usdPerHourTotal: number;
}

export class PriceTable {
  readonly file: string;
  readonly machines: ReadonlyMap<string, MachinePrice>;
  readonly gpus: ReadonlyMap<string, GpuPrice>;
  readonly electricity: Price & { readonly usdPerKwh: number };

  constructor(file: string, machines: Map<string, MachinePrice>, gpus: Map<string, GpuPrice>, electricity: Price & { usdPerKwh: number }) {
    this.file = file;
    this.machines = machines;
    this.gpus = gpus;
    this.electricity = electricity;
  }

  /**
   * Overrides `NAME=USD` (NAME: a machine or GPU type; unknown names become new machine types of one unit) and
   * `usdPerKwh`. Returns a new table.
   */
  withOverrides(overrides: readonly string[], usdPerKwh?: number, flag = '--price'): PriceTable {
    const machines = new Map(this.machines);
    const gpus = new Map(this.gpus);
    for (const o of overrides) {
      const eq = o.indexOf('=');
      const name = eq > 0 ? o.slice(0, eq).trim() : '';
      const v = eq > 0 ? Number(o.slice(eq + 1).trim()) : NaN;
      if (!name || !Number.isFinite(v) || v < 0 || o.slice(eq + 1).trim() === '') {
        throw new ConfigError(`expected NAME=USD_PER_HOUR (e.g. dgx-h100=38 or h100-80gb=2.5), got '${o}'`, { path: flag });
      }
      const user = { usdPerHour: v, source: `${flag} ${o}`, date: new Date().toISOString().slice(0, 10), kind: 'user' as const };
      const m = machines.get(name);
      const g = gpus.get(name);
      if (m) machines.set(name, { ...user, gpus: m.gpus, ...(m.gpu ? { gpu: m.gpu } : {}) });
      if (g) gpus.set(name, { ...user, match: g.match });
      if (!m && !g) machines.set(name, { ...user, gpus: 1 });
    }
    const electricity =
      usdPerKwh === undefined
        ? this.electricity
        : { usdPerKwh, usdPerHour: 0, source: `--price-kwh ${usdPerKwh}`, date: new Date().toISOString().slice(0, 10), kind: 'user' as const };
    return new PriceTable(this.file, machines, gpus, electricity);
  }

  /**
   * The price of a machine type with `gpus` GPUs (default: the machine entry as a whole): the machine entry; else a GPU entry by key (× gpus); else a GPU
   * entry whose `match` is a substring of `type` (a driver-reported GPU name like 'NVIDIA H100 80GB HBM3').
   */
  resolve(type: string, gpus?: number): ResolvedPrice | undefined {
    const m = this.machines.get(type);
    if (m)
      return { ...strip(m), name: type, usdPerHourTotal: gpus === undefined || gpus <= 0 || m.gpus === gpus ? m.usdPerHour : (m.usdPerHour / m.gpus) * gpus };
    const direct = this.gpus.get(type);
    const g = direct ? { name: type, price: direct } : this.matchGpu(type);
    if (g) return { ...strip(g.price), name: g.name, usdPerHourTotal: g.price.usdPerHour * Math.max(1, gpus ?? 1) };
    return undefined;
  }

  /** The price of ONE GPU of a machine or GPU type (a machine type's price divided by its GPUs). */
  perGpu(type: string): ResolvedPrice | undefined {
    const m = this.machines.get(type);
    if (m) return { ...strip(m), name: type, usdPerHourTotal: m.usdPerHour / m.gpus };
    return this.resolve(type, 1);
  }

  private matchGpu(name: string): { name: string; price: GpuPrice } | undefined {
    const lower = name.toLowerCase();
    // Longest match first ('A100' must not win over 'A40' for 'A40', nor H100 for 'H100 NVL' entries if listed).
    let best: { name: string; price: GpuPrice; len: number } | undefined;
    for (const [key, g] of this.gpus) {
      for (const m of g.match) {
        if (lower.includes(m.toLowerCase()) && (!best || m.length > best.len)) best = { name: key, price: g, len: m.length };
      }
    }
    return best;
  }
}

function strip(p: Price): Price {
  return { usdPerHour: p.usdPerHour, source: p.source, date: p.date, kind: p.kind };
}

const cache = new Map<string, PriceTable>();

/**
 * Read and validate a price file (default workloads/prices.yaml, from the bundled snapshot when there is one);
 * errors name the file, line and field.
 */
export function loadPrices(file: string = DEFAULT_PRICES_FILE): PriceTable {
  const key = path.resolve(file);
  const hit = cache.get(key);
  if (hit) return hit;
  // The bundled file from the bundled snapshot (src/config/snapshot.ts), checked when it was made.
  const bundled = key === path.resolve(DEFAULT_PRICES_FILE) ? bundledSnapshot()?.prices : undefined;
  if (bundled) {
    const table = priceTable(file, bundled as PriceFileData);
    cache.set(key, table);
    return table;
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the price file: ${(e as Error).message}`, { path: file });
  }
  const table = parsePrices(text, file);
  cache.set(key, table);
  return table;
}

export function parsePrices(text: string, file: string): PriceTable {
  return priceTable(file, readPriceFile(text, file));
}

/** The checked contents of a price file (what the bundled snapshot holds for workloads/prices.yaml). */
export type PriceFileData = z.infer<typeof fileSchema>;

/** A price file's YAML text, validated; errors name the file, line and field. */
export function readPriceFile(text: string, file: string): PriceFileData {
  const lc = new (yaml().LineCounter)();
  const doc = yaml().parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigError(`${file}:${lc.linePos(e.pos[0]).line}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const lineOf = (p: readonly PropertyKey[]): number => {
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n) as (string | number)[], true);
      if (yaml().isNode(node) && node.range) return lc.linePos(node.range[0]).line;
    }
    return 1;
  };
  const r = fileSchema.safeParse(doc.toJS() ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    const extra = i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : '';
    throw new ConfigError(`${file}:${lineOf(i.path)}: ${i.path.join('.') || '(top level)'}: ${i.message}${extra}`);
  }
  return r.data;
}

function priceTable(file: string, d: PriceFileData): PriceTable {
  const machines = new Map<string, MachinePrice>();
  for (const [k, v] of Object.entries(d.machines))
    machines.set(k, { usdPerHour: v.usdPerHour, gpus: v.gpus, ...(v.gpu ? { gpu: v.gpu } : {}), source: v.source, date: v.date, kind: v.kind });
  const gpus = new Map<string, GpuPrice>();
  for (const [k, v] of Object.entries(d.gpus)) gpus.set(k, { usdPerHour: v.usdPerHour, match: v.match, source: v.source, date: v.date, kind: v.kind });
  const e = d.electricity;
  return new PriceTable(file, machines, gpus, { usdPerKwh: e.usdPerKwh, usdPerHour: 0, source: e.source, date: e.date, kind: e.kind });
}
