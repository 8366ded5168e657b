/**
 * The bundled catalogs, profiles, deployments and price table as one JSON snapshot (`workloads/bundled.json`), read by every run in place
 * of parsing and validating their YAML, JSON and CSV sources again (tens of ms of start-up CPU). It holds
 * exactly what the sources load to, validated: test/config/bundled.test.ts renders it again from the sources,
 * with the full checks, and fails when it differs (`npm run data:bundled` rewrites it after a source changes).
 * Only the bundled folders use it; any other folder is read from its files, with file/line errors. Without
 * the snapshot (a trimmed install) the sources are read as before.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ProfileData, SplitwiseRow } from '../engine/index.js';
import type { DeploymentSnapshot } from './deployment.js';
import { WORKLOADS_DIR } from '../paths.js';

export const BUNDLED_SNAPSHOT: string = path.join(WORKLOADS_DIR, 'bundled.json');

/** The format tag of the snapshot; a file with another one is not read. */
export const SNAPSHOT_FORMAT = 'splitbench-bundled/1';

export interface ConfigSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  /** The three catalog files' validated contents (catalog/hardware.yaml, machines.yaml, models.yaml). */
  readonly catalog: { readonly hardware: unknown; readonly machines: unknown; readonly models: unknown };
  /** The profile files of the bundled profiles folder, in load order, each by its path under that folder. */
  readonly profiles: readonly { readonly file: string; readonly profile: ProfileData }[];
  /** SplitwiseSim's perf_model.csv as rows. */
  readonly splitwise: readonly SplitwiseRow[];
  /** The bundled deployments (workloads/deployments/NAME.yaml) by name. */
  readonly deployments: Readonly<Record<string, DeploymentSnapshot>>;
  /** The price table workloads/prices.yaml (read by src/cost/prices.ts). */
  readonly prices: unknown;
}

let snapshot: ConfigSnapshot | null | undefined;

/** The snapshot (read once), or undefined when there is none. */
export function bundledSnapshot(): ConfigSnapshot | undefined {
  if (snapshot === undefined) {
    let text: string | undefined;
    try {
      text = fs.readFileSync(BUNDLED_SNAPSHOT, 'utf8');
    } catch {
      text = undefined;
    }
    const data = text === undefined ? undefined : (JSON.parse(text) as ConfigSnapshot);
    snapshot = data?.format === SNAPSHOT_FORMAT ? data : null;
  }
  return snapshot ?? undefined;
}
