/**
 * The registry of performance models by name and `createPerfModel`.
 */
import path from 'node:path';
import { ConfigError } from '../../errors.js';
import type { PerfModel } from '../api.js';
import type { CatalogMachine, CatalogModel } from '../catalog.js';
import type { EngineData } from '../data.js';
import { ConstantPerfModel, type ConstantParams } from './constant.js';
import { ProfilePerfModel, type ProfileIndexEntry } from './profile.js';
import { RooflinePerfModel, rooflineFactorsFor } from './roofline.js';
import { SplitwisePerfModel, splitwisePredictors } from './splitwise.js';

export interface PerfModelOptions {
  /** Registry name: 'profile' | 'roofline' | 'constant' | 'splitwise'. */
  readonly kind: string;
  /** Model catalog name (or entry). Not needed for 'constant', nor for 'profile' with `profileFile`. */
  readonly model?: string | CatalogModel;
  /** Machine catalog name (or entry). Not needed for 'constant', nor for 'profile' with `profileFile`. */
  readonly machine?: string | CatalogMachine;
  /** GPUs per instance (tensor-parallel degree); default: all of the machine's. */
  readonly tp?: number;
  /** The loaded catalogs and profiles: every kind needs them but 'constant' and 'profile' with `profile`. */
  readonly data?: EngineData;
  /** A user profile (`profile` kind, read at the edge), instead of the bundled profile of (model, hardware, tp). */
  readonly profile?: ProfileIndexEntry;
  /** Parameters of the 'constant' kind. */
  readonly constant?: ConstantParams;
}

interface Resolved {
  readonly data: EngineData;
  readonly model: CatalogModel;
  readonly machine: CatalogMachine;
  readonly tp: number;
}

function resolve(o: PerfModelOptions): Resolved {
  if (o.data === undefined) throw new ConfigError(`the '${o.kind}' performance model needs the loaded catalogs and profiles`, { path: 'data' });
  const { catalog } = o.data;
  if (o.model === undefined) throw new ConfigError(`the '${o.kind}' performance model needs a model`, { path: 'model' });
  if (o.machine === undefined) throw new ConfigError(`the '${o.kind}' performance model needs a machine`, { path: 'machine' });
  const model = typeof o.model === 'string' ? catalog.model(o.model) : o.model;
  const machine = typeof o.machine === 'string' ? catalog.machine(o.machine) : o.machine;
  const tp = o.tp ?? machine.gpus;
  if (!Number.isInteger(tp) || tp < 1 || tp > machine.gpus) {
    throw new ConfigError(`tensor-parallel degree ${tp} must be an integer from 1 to ${machine.gpus} for ${machine.name}`, { path: 'tp' });
  }
  return { data: o.data, model, machine, tp };
}

type Factory = (o: PerfModelOptions) => PerfModel;

function rooflineOf(r: Resolved): RooflinePerfModel {
  return new RooflinePerfModel(r.model, r.machine.hw, r.tp, rooflineFactorsFor(r.data.catalog, r.data.profiles, r.machine.hw));
}

/** The registry of performance models by name. */
export const perfModels: Readonly<Record<string, { readonly description: string; readonly create: Factory }>> = {
  profile: {
    description: 'piecewise-linear interpolation over measured points (bundled SplitwiseSim profiles or --profile file)',
    create: (o) => {
      if (o.profile !== undefined) {
        const { profile, file } = o.profile;
        let fallback: number | undefined;
        if (!profile.decode.contextSweep && profile.decode.curves.length === 1 && o.model !== undefined && o.machine !== undefined) {
          fallback = rooflineOf(resolve(o)).contextSlopeS() * 1000;
        }
        const name = `profile:${path.basename(file)}`;
        return new ProfilePerfModel(profile, fallback === undefined ? { name } : { fallbackContextSlopeMs: fallback, name });
      }
      const r = resolve(o);
      const hit = r.data.profiles.find(r.model.name, r.machine.hw.name, r.tp);
      if (!hit) {
        const known = r.data.profiles.names();
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
      return new SplitwisePerfModel(r.data.profiles, r.model.name, r.machine.hw.name, r.tp);
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

/** 'profile' when a profile exists for (model, machine's hardware, tp), else 'roofline'. */
export function defaultPerfModelKind(data: EngineData, model: string, machine: string, tp?: number): 'profile' | 'roofline' {
  const m = data.catalog.machine(machine);
  data.catalog.model(model);
  return data.profiles.find(model, m.hw.name, tp ?? m.gpus) ? 'profile' : 'roofline';
}

/**
 * Performance models as the cluster's `perfModel` option: `createCluster(dep, { perfModel: enginePerfModels({ data }), ... })`.
 * One model per (machine type, model), created on first use and reused; kind: the given one, else the machine's
 * profile when there is one, else the calibrated roofline; with `profile`, that profile for every machine.
 */
export function enginePerfModels(opts: {
  readonly data: EngineData;
  readonly kind?: string;
  readonly profile?: ProfileIndexEntry;
}): (machine: { readonly name: string }, model: { readonly name: string }) => PerfModel {
  const cache = new Map<string, PerfModel>();
  return (machine, model) => {
    const key = `${machine.name}|${model.name}`;
    let pm = cache.get(key);
    if (!pm) {
      const kind = opts.profile ? 'profile' : (opts.kind ?? defaultPerfModelKind(opts.data, model.name, machine.name));
      pm = createPerfModel({ kind, model: model.name, machine: machine.name, data: opts.data, ...(opts.profile ? { profile: opts.profile } : {}) });
      cache.set(key, pm);
    }
    return pm;
  };
}

/**
 * SplitwiseSim's raw predictors (seconds) as the cluster's compatible-mode `predictors` option, computed from the
 * profiles' SplitwiseSim rows at the machine's hardware and TP8.
 */
export function enginePredictors(
  data: EngineData,
): (machine: { readonly name: string }, model: { readonly name: string }) => { promptTime(x: number): number; tokenTime(x: number): number } {
  return (machine, model) => {
    const p = splitwisePredictors(data.profiles, model.name, data.catalog.machine(machine.name).hw.name, 8);
    return { promptTime: p.prompt, tokenTime: p.token };
  };
}
