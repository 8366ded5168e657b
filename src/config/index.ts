/**
 * The engine's configuration files, read and validated at the edge: hardware, machine and model catalogs,
 * deployment descriptors and performance profiles. The engine gets the loaded objects (a `Catalog`, a
 * `Deployment`, `Profiles`) and reads no file itself; the CLI commands, the server and the simulator load them
 * here, once, and hand them in.
 */
import type { EngineData } from '../engine/index.js';
import { loadCatalog } from './catalog.js';
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
