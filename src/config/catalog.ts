/**
 * Reading the hardware, machine and model catalogs: YAML data under `workloads/catalog/` (hardware.yaml,
 * machines.yaml, models.yaml), validated on load with zod into the engine's `Catalog`. A bad field is a
 * ConfigError naming file, line and field path.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Document, LineCounter } from 'yaml';
import { yaml } from './yaml.js';
import { z } from 'zod';
import { Catalog, type CatalogMachine, type CatalogModel, type HardwareSpec } from '../engine/index.js';
import { ConfigError } from '../errors.js';
import { WORKLOADS_DIR } from '../paths.js';
import { bundledSnapshot } from './snapshot.js';

/** Default catalog folder (bundled with the package). */
export const DEFAULT_CATALOG_DIR: string = path.join(WORKLOADS_DIR, 'catalog');

/** Most GPUs one machine (one tensor-parallel instance) may have. */
export const MAX_MACHINE_GPUS = 1024;

const positive = z.number().finite().positive();
function nameKeyEarly() {
  return z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'names are lower-case letters, digits, ".", "_" and "-"');
}
const nonNegative = z.number().finite().nonnegative();

const HardwareSchema = z
  .object({
    vendor: z.string().min(1),
    peakBf16Flops: positive,
    hbmBandwidth: positive,
    hbmBytes: positive,
    scaleUpBandwidth: positive,
    infinibandGbps: positive,
    tdpW: positive,
    idleW: nonNegative,
    promptW: positive,
    tokenW: positive,
    powerCapW: positive.optional(),
    capPrefillSlowdown: z.number().finite().min(1).optional(),
    /** Product name as the driver reports it (DCGM's `modelName`), e.g. "NVIDIA H100 80GB HBM3". */
    product: z.string().min(1).optional(),
    rooflineFrom: z.string().min(1).optional(),
    source: z.string().min(1),
  })
  .strict();

const MachineSchema = z
  .object({
    hardware: z.string().min(1),
    // Tensor-parallel degree of one instance: 1024 is past any scale-up domain built (NVL72: 72 GPUs).
    gpus: z.number().int().positive().max(MAX_MACHINE_GPUS, `must be at most ${MAX_MACHINE_GPUS} (the bound for a machine's GPUs)`),
    pricePerHour: nonNegative,
    priceSource: z.string().min(1),
    powerUnits: positive,
    ratedW: positive,
    idleW: nonNegative,
    powerFactor: z.number().finite().positive().max(1).optional(),
    infinibandGbps: positive.optional(),
    /** Non-overlapped residue of a layer-wise KV transfer, seconds (paper: ~8 ms A100, ~5 ms H100). */
    kvResidueS: nonNegative,
    /** Other names this machine is known by (e.g. SplitwiseSim's). */
    aliases: z.array(nameKeyEarly()).optional(),
    source: z.string().min(1).optional(),
  })
  .strict();

const ModelSchema = z
  .object({
    layers: z.number().int().positive(),
    hidden: z.number().int().positive(),
    heads: z.number().int().positive(),
    kvHeads: z.number().int().positive(),
    headDim: z.number().int().positive(),
    intermediate: z.number().int().positive(),
    vocab: z.number().int().positive(),
    parameters: positive,
    activeParameters: positive.optional(),
    experts: z.number().int().positive().optional(),
    expertsPerToken: z.number().int().positive().optional(),
    bytesPerParam: positive,
    bytesPerKv: positive,
    maxContextTokens: z.number().int().positive(),
    compat: z.object({ weightBytes: positive, heads: z.number().int().positive() }).strict().optional(),
    source: z.string().min(1),
  })
  .strict();

const nameKey = nameKeyEarly();
const HardwareFile = z.object({ hardware: z.record(nameKey, HardwareSchema) }).strict();
const MachineFile = z.object({ machines: z.record(nameKey, MachineSchema) }).strict();
const ModelFile = z.object({ models: z.record(nameKey, ModelSchema) }).strict();

/**
 * Parse a YAML text and validate it with a zod schema. Errors name `file:line` and the field path, using the YAML
 * parser's positions; all problems are reported in one message (one per line after the first).
 */
export function parseYamlFile<S extends z.ZodTypeAny>(file: string, text: string, schema: S): z.infer<S> {
  const lineCounter = new (yaml().LineCounter)();
  const doc = yaml().parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lineCounter.linePos(e.pos[0]);
    throw new ConfigError(`invalid YAML: ${e.message.split('\n')[0]}`, { path: `${file}:${pos.line}` });
  }
  const result = schema.safeParse(doc.toJS());
  if (result.success) return result.data as z.infer<S>;
  const problems = result.error.issues.map((issue) => {
    const line = lineOf(doc, lineCounter, issue.path);
    const field = issue.path.join('.') || '(document)';
    const detail = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
    return `${file}:${line}: ${field}: ${detail}`;
  });
  const first = problems[0]!;
  const err = new ConfigError(problems.length > 1 ? `${first}\n${problems.slice(1).join('\n')}` : first, {
    hint: 'fix the field named above (units are in the field names; see the comments at the top of the file)',
  });
  throw err;
}

function lineOf(doc: Document, lc: LineCounter, p: readonly PropertyKey[]): number {
  for (let n = p.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(p.slice(0, n) as (string | number)[], true);
    if (yaml().isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return 1;
}

/** One catalog file: its path, its validated contents and (for an error's line) its text. */
interface CatalogFile<T> {
  readonly file: string;
  readonly data: T;
  readonly text: () => string;
}

function readYaml<S extends z.ZodTypeAny>(dir: string, base: string, schema: S): CatalogFile<z.infer<S>> {
  const file = path.join(dir, base);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read catalog file: ${(e as Error).message}`, { path: file, cause: e });
  }
  return { file, data: parseYamlFile(file, text, schema), text: () => text };
}

type CatalogFiles = {
  readonly hardware: CatalogFile<z.infer<typeof HardwareFile>>;
  readonly machines: CatalogFile<z.infer<typeof MachineFile>>;
  readonly models: CatalogFile<z.infer<typeof ModelFile>>;
};

/** The three catalog files of `dir`, read and validated (what the bundled snapshot holds for the bundled folder). */
export function readCatalogFiles(dir: string): CatalogFiles {
  return {
    hardware: readYaml(dir, 'hardware.yaml', HardwareFile),
    machines: readYaml(dir, 'machines.yaml', MachineFile),
    models: readYaml(dir, 'models.yaml', ModelFile),
  };
}

/** The bundled folder's files from the snapshot (src/config/snapshot.ts), validated when it was made. */
function snapshotFiles(dir: string): CatalogFiles | undefined {
  const snap = bundledSnapshot()?.catalog;
  if (snap === undefined) return undefined;
  const one = <T>(base: string, data: T): CatalogFile<T> => {
    const file = path.join(dir, base);
    return { file, data, text: () => fs.readFileSync(file, 'utf8') };
  };
  return {
    hardware: one('hardware.yaml', { hardware: snap.hardware } as z.infer<typeof HardwareFile>),
    machines: one('machines.yaml', { machines: snap.machines } as z.infer<typeof MachineFile>),
    models: one('models.yaml', { models: snap.models } as z.infer<typeof ModelFile>),
  };
}

const cache = new Map<string, Catalog>();

/**
 * Load (once per folder, then cached) and validate the catalogs in `dir` (default: the bundled ones, from the
 * bundled snapshot when there is one).
 */
export function loadCatalog(dir: string = DEFAULT_CATALOG_DIR): Catalog {
  const key = path.resolve(dir);
  const hit = cache.get(key);
  if (hit) return hit;
  const files = (key === path.resolve(DEFAULT_CATALOG_DIR) ? snapshotFiles(dir) : undefined) ?? readCatalogFiles(dir);
  const { hardware: hwFile, machines: mcFile, models: mdFile } = files;

  const hardware = new Map<string, HardwareSpec>();
  for (const [name, h] of Object.entries(hwFile.data.hardware)) hardware.set(name, { ...h, name });
  for (const h of hardware.values()) {
    if (h.rooflineFrom !== undefined && !hardware.has(h.rooflineFrom)) {
      throw crossRefError(hwFile, ['hardware', h.name, 'rooflineFrom'], `unknown hardware "${h.rooflineFrom}"; known: ${[...hardware.keys()].join(', ')}`);
    }
  }
  const machines = new Map<string, CatalogMachine>();
  const machineAliases = new Map<string, string>();
  for (const [name, m] of Object.entries(mcFile.data.machines)) {
    for (const a of m.aliases ?? []) {
      if (mcFile.data.machines[a] !== undefined || machineAliases.has(a)) {
        throw crossRefError(mcFile, ['machines', name, 'aliases'], `alias "${a}" is already a machine name or alias`);
      }
      machineAliases.set(a, name);
    }
    const hw = hardware.get(m.hardware);
    if (!hw) {
      throw crossRefError(mcFile, ['machines', name, 'hardware'], `unknown hardware "${m.hardware}"; known: ${[...hardware.keys()].join(', ')}`);
    }
    const { aliases: _aliases, ...rest } = m;
    machines.set(name, { ...rest, name, hw, infinibandGbps: m.infinibandGbps ?? hw.infinibandGbps, powerFactor: m.powerFactor ?? 1 });
  }
  const models = new Map<string, CatalogModel>();
  for (const [name, m] of Object.entries(mdFile.data.models)) models.set(name, { ...m, name });

  const catalog = new Catalog(key, hardware, machines, models, machineAliases);
  cache.set(key, catalog);
  return catalog;
}

function crossRefError(f: CatalogFile<unknown>, p: string[], msg: string): ConfigError {
  const lc = new (yaml().LineCounter)();
  const doc = yaml().parseDocument(f.text(), { lineCounter: lc });
  return new ConfigError(`${f.file}:${lineOf(doc, lc, p)}: ${p.join('.')}: ${msg}`);
}
