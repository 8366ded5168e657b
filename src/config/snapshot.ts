/**
 * The bundled catalogs, profiles, deployments and price table as one JSON snapshot (`workloads/bundled.json`), read by every run in place
 * of parsing and validating their YAML, JSON and CSV sources again (tens of ms of start-up CPU). It holds
 * exactly what the sources load to, validated: test/config/bundled.test.ts renders it again from the sources,
 * with the full checks, and fails when it differs (`npm run data:bundled` rewrites it after a source changes).
 * Only the bundled folders use it; any other folder is read from its files, with file/line errors. Without
 * the snapshot (a trimmed install) the sources are read as before. It is read only while it matches its
 * sources: it carries a digest of every file under them (paths and bytes, ~3 ms to check), so a bundled file
 * edited, added or removed after it was made is read from the files, never shadowed by a stale snapshot.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ProfileData, SplitwiseRow } from '../engine/index.js';
import type { DeploymentSnapshot } from './deployment.js';
import { WORKLOADS_DIR } from '../paths.js';

export const BUNDLED_SNAPSHOT: string = path.join(WORKLOADS_DIR, 'bundled.json');

/** The format tag of the snapshot; a file with another one is not read. */
export const SNAPSHOT_FORMAT = 'splitbench-bundled/1';

/** What the snapshot is made from, under the workloads folder: folders are taken whole, recursively. */
const SNAPSHOT_SOURCES = ['catalog', 'profiles', 'deployments', 'prices.yaml'] as const;

/** SHA-256 over the sources' relative paths, sizes and bytes, in sorted order (a missing source counts too). */
export function sourcesDigest(root: string = WORKLOADS_DIR): string {
  const h = crypto.createHash('sha256');
  const visit = (rel: string): void => {
    const abs = path.join(root, rel);
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    if (!st) h.update(`missing ${rel}\n`);
    else if (st.isDirectory()) for (const e of fs.readdirSync(abs).sort()) visit(`${rel}/${e}`);
    else {
      const bytes = fs.readFileSync(abs);
      h.update(`${rel} ${bytes.length}\n`);
      h.update(bytes);
    }
  };
  for (const s of SNAPSHOT_SOURCES) visit(s);
  return h.digest('hex');
}

export interface ConfigSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  /** `sourcesDigest()` of the files it was made from. */
  readonly sources: string;
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

/** The snapshot (read once), or undefined when there is none or it no longer matches its sources. */
export function bundledSnapshot(): ConfigSnapshot | undefined {
  if (snapshot === undefined) snapshot = readSnapshot(BUNDLED_SNAPSHOT, WORKLOADS_DIR) ?? null;
  return snapshot ?? undefined;
}

/** The snapshot in `file` if it has this format and the sources under `root` still digest to its `sources`. */
export function readSnapshot(file: string, root: string): ConfigSnapshot | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const data = JSON.parse(text) as ConfigSnapshot;
  return data.format === SNAPSHOT_FORMAT && data.sources === sourcesDigest(root) ? data : undefined;
}
