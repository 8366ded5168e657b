/**
 * The registry of performance models by name and `createPerfModel`.
 */
import path from 'node:path';
import { ConfigError } from '../../errors.js';
import type { PerfModel } from '../api.js';
import { type Catalog, type CatalogMachine, type CatalogModel, loadCatalog } from '../catalog.js';
import { ConstantPerfModel, type ConstantParams } from './constant.js';
import { ProfilePerfModel, findProfile, loadProfileFile, profileIndex } from './profile.js';
import { RooflinePerfModel, rooflineFactorsFor } from './roofline.js';
import { DEFAULT_PROFILES_DIR, SplitwisePerfModel, splitwisePredictors } from './splitwise.js';

export interface PerfModelOptions {
  /** Registry name: 'profile' | 'roofline' | 'constant' | 'splitwise'. */
  readonly kind: string;
  /** Model catalog name (or entry). Not needed for 'constant', nor for 'profile' with `profileFile`. */
  readonly model?: string | CatalogModel;
  /** Machine catalog name (or entry). Not needed for 'constant', nor for 'profile' with `profileFile`. */
  readonly machine?: string | CatalogMachine;
  /** GPUs per instance (tensor-parallel degree); default: all of the machine's. */
  readonly tp?: number;
  readonly catalog?: Catalog;
  /** A user profile file (`profile` kind), instead of the bundled profile of (model, hardware, tp). */
  readonly profileFile?: string;
  /** Folder of bundled profiles (default workloads/profiles). */
  readonly profilesDir?: string;
  /** Parameters of the 'constant' kind. */
  readonly constant?: ConstantParams;
}

interface Resolved {
  readonly catalog: Catalog;
  readonly model: CatalogModel;
  readonly machine: CatalogMachine;
  readonly tp: number;
  readonly profilesDir: string;
}

function resolve(o: PerfModelOptions): Resolved {
  const catalog = o.catalog ?? loadCatalog();
  if (o.model === undefined) throw new ConfigError(`the '${o.kind}' performance model needs a model`, { path: 'model' });
  if (o.machine === undefined) throw new ConfigError(`the '${o.kind}' performance model needs a machine`, { path: 'machine' });
  const model = typeof o.model === 'string' ? catalog.model(o.model) : o.model;
  const machine = typeof o.machine === 'string' ? catalog.machine(o.machine) : o.machine;
  const tp = o.tp ?? machine.gpus;
  if (!Number.isInteger(tp) || tp < 1 || tp > machine.gpus) {
    throw new ConfigError(`tensor-parallel degree ${tp} must be an integer from 1 to ${machine.gpus} for ${machine.name}`, { path: 'tp' });
  }
  return { catalog, model, machine, tp, profilesDir: o.profilesDir ?? DEFAULT_PROFILES_DIR };
}

type Factory = (o: PerfModelOptions) => PerfModel;

function rooflineOf(r: Resolved): RooflinePerfModel {
  return new RooflinePerfModel(r.model, r.machine.hw, r.tp, rooflineFactorsFor(r.catalog, r.profilesDir, r.machine.hw));
}

/** The registry of performance models by name. */
export const perfModels: Readonly<Record<string, { readonly description: string; readonly create: Factory }>> = {
  profile: {
    description: 'piecewise-linear interpolation over measured points (bundled SplitwiseSim profiles or --profile file)',
    create: (o) => {
      if (o.profileFile !== undefined) {
        const profile = loadProfileFile(o.profileFile);
        let fallback: number | undefined;
        if (!profile.decode.contextSweep && profile.decode.curves.length === 1 && o.model !== undefined && o.machine !== undefined) {
          fallback = rooflineOf(resolve(o)).contextSlopeS() * 1000;
        }
        return new ProfilePerfModel(
          profile,
          fallback === undefined
            ? { name: `profile:${path.basename(o.profileFile)}` }
            : { fallbackContextSlopeMs: fallback, name: `profile:${path.basename(o.profileFile)}` },
        );
      }
      const r = resolve(o);
      const hit = findProfile(r.profilesDir, r.model.name, r.machine.hw.name, r.tp);
      if (!hit) {
        const known = profileIndex(r.profilesDir).map((e) => `${e.profile.model}/${e.profile.hardware}/tp${e.profile.tp}`);
        throw new ConfigError(`no measured profile for ${r.model.name} on ${r.machine.hw.name} at TP${r.tp}; profiles: ${known.join(', ') || 'none'}`, {
          hint: "use the 'roofline' performance model for this combination (--perf-model roofline, or auto: the profile where one exists), or pass a profile file",
        });
      }
      const needsSlope = !hit.profile.decode.contextSweep && hit.profile.decode.curves.length === 1;
      return new ProfilePerfModel(hit.profile, needsSlope ? { fallbackContextSlopeMs: rooflineOf(r).contextSlopeS() * 1000 } : {});
    },
  },
  roofline: {
    description: 'hardware specs and model shapes, efficiency factors calibrated against the profiles',
    create: (o) => rooflineOf(resolve(o)),
  },
  constant: {
    description: 'fixed prefill a + b x tokens and decode c seconds (tests)',
    create: (o) => new ConstantPerfModel(o.constant),
  },
  splitwise: {
    description: "SplitwiseSim's predictors and iteration rule, exactly (compatible mode)",
    create: (o) => {
      const r = resolve(o);
      return new SplitwisePerfModel(r.model.name, r.machine.hw.name, r.tp);
    },
  },
};

export const perfModelKinds: readonly string[] = Object.keys(perfModels);

/** Create a performance model by registry name; an unknown name is a ConfigError listing the known ones. */
export function createPerfModel(o: PerfModelOptions): PerfModel {
  const entry = Object.hasOwn(perfModels, o.kind) ? perfModels[o.kind] : undefined;
  if (!entry) throw new ConfigError(`unknown performance model "${o.kind}"; known: ${perfModelKinds.join(', ')}`, { path: 'kind' });
  return entry.create(o);
}

/** 'profile' when a bundled profile exists for (model, machine's hardware, tp), else 'roofline'. */
export function defaultPerfModelKind(
  model: string,
  machine: string,
  opts: { tp?: number; catalog?: Catalog; profilesDir?: string } = {},
): 'profile' | 'roofline' {
  const catalog = opts.catalog ?? loadCatalog();
  const m = catalog.machine(machine);
  catalog.model(model);
  return findProfile(opts.profilesDir ?? DEFAULT_PROFILES_DIR, model, m.hw.name, opts.tp ?? m.gpus) ? 'profile' : 'roofline';
}

/**
 * Performance models as the cluster's `perfModel` option: `createCluster(dep, { perfModel: enginePerfModels(), ... })`.
 * One model per (machine type, model), created on first use and reused; kind: the given one, else the machine's
 * bundled profile when there is one, else the calibrated roofline.
 */
export function enginePerfModels(
  opts: { kind?: string; catalog?: Catalog; profilesDir?: string; profileFile?: string } = {},
): (machine: { readonly name: string }, model: { readonly name: string }) => PerfModel {
  const catalog = opts.catalog ?? loadCatalog();
  const cache = new Map<string, PerfModel>();
  return (machine, model) => {
    const key = `${machine.name}|${model.name}`;
    let pm = cache.get(key);
    if (!pm) {
      const kind = opts.profileFile
        ? 'profile'
        : (opts.kind ?? defaultPerfModelKind(model.name, machine.name, { catalog, ...(opts.profilesDir ? { profilesDir: opts.profilesDir } : {}) }));
      pm = createPerfModel({
        kind,
        model: model.name,
        machine: machine.name,
        catalog,
        ...(opts.profilesDir ? { profilesDir: opts.profilesDir } : {}),
        ...(opts.profileFile ? { profileFile: opts.profileFile } : {}),
      });
      cache.set(key, pm);
    }
    return pm;
  };
}

/**
 * SplitwiseSim's raw predictors (seconds) as the cluster's compatible-mode `predictors` option, computed from the
 * bundled CSV at the machine's hardware and TP8.
 */
export function enginePredictors(
  catalog: Catalog = loadCatalog(),
): (machine: { readonly name: string }, model: { readonly name: string }) => { promptTime(x: number): number; tokenTime(x: number): number } {
  return (machine, model) => {
    const p = splitwisePredictors(model.name, catalog.machine(machine.name).hw.name, 8);
    return { promptTime: p.prompt, tokenTime: p.token };
  };
}
