/**
 * The engine's configuration files, read and validated at the edge: hardware, machine and model catalogs,
 * deployment descriptors and performance profiles. The engine gets the loaded objects (a `Catalog`, a
 * `Deployment`, `Profiles`) and reads no file itself; the CLI commands, the server and the simulator load them
 * here, once, and hand them in.
 */
import type { Deployment, EngineData } from '../engine/index.js';
import { loadCatalog } from './catalog.js';
import { loadDeployment } from './deployment.js';
import { loadProfiles } from './profiles.js';

export * from './catalog.js';
export * from './deployment.js';
export * from './measured.js';
export * from './profiles.js';

/**
 * The catalogs and profiles (default: the bundled ones), loaded once per folder. `splitwise: false` leaves out
 * SplitwiseSim's rows (only the compatible mode and the `splitwise` slowdown reference use them).
 */
export function loadEngineData(o: { readonly catalogDir?: string; readonly profilesDir?: string; readonly splitwise?: boolean } = {}): EngineData {
  return { catalog: loadCatalog(o.catalogDir), profiles: loadProfiles(o.profilesDir, o.splitwise === false ? false : undefined) };
}

/** What a simulation of one deployment is handed: the deployment and the catalogs and profiles its mode needs. */
export interface SimInput {
  readonly deployment: Deployment;
  readonly data: EngineData;
}

/** The engine data a simulation in `compat` mode needs (SplitwiseSim's rows only for `splitwise`). */
export function simEngineData(compat: string | undefined): EngineData {
  return loadEngineData({ splitwise: compat === 'splitwise' });
}

/**
 * `--deployment` (a bundled name or a file) with the `--model` / `--perf-model` overrides, and the engine data
 * of `compat` mode: what `sim`, each deployment of a sweep and a replay's twin read before they run.
 */
export function loadSimInput(o: {
  readonly deployment: string;
  readonly model?: string | undefined;
  readonly perfModel?: string | undefined;
  readonly compat?: string | undefined;
}): SimInput {
  const deployment = loadDeployment(o.deployment, { ...(o.model ? { model: o.model } : {}), ...(o.perfModel ? { perfModel: o.perfModel } : {}) });
  return { deployment, data: simEngineData(o.compat) };
}
