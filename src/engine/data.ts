/**
 * What the engine's defaults are made from: the hardware, machine and model catalogs and the measured performance
 * profiles. The engine reads no files: the edge (src/config) reads and validates them once and hands them in.
 */
import type { Catalog } from './catalog.js';
import type { Profiles } from './perf/profile.js';

export interface EngineData {
  readonly catalog: Catalog;
  readonly profiles: Profiles;
}
