/**
 * The bundled catalogs, profiles, deployments and price table as one JSON snapshot (`workloads/bundled.json`), read by every run in place
 * of parsing and validating their YAML, JSON and CSV sources again (tens of ms of start-up CPU), and the
 * bundled traces' request sizes (a rate load's size sampler: the trace's prompt and output sizes, row by row,
 * without reading its CSV: ~60 ms of a sim's start-up; the sim's commands hand `bundledTraceSizes` to src/trace/rate.ts `traceSampler`). It holds
 * exactly what the sources load to, validated: test/config/bundled.test.ts renders it again from the sources,
 * with the full checks, and fails when it differs (`npm run data:bundled` rewrites it after a source changes).
 * Only the bundled folders use it; any other folder is read from its files, with file/line errors. Without
 * the snapshot (a trimmed install) the sources are read as before. It is read only while it matches its
 * sources: it carries a digest of every file under them (paths and bytes, ~3 ms to check), so a bundled file
 * edited, added or removed after it was made is read from the files, never shadowed by a stale snapshot. A
 * trace's sizes carry the SHA-256 of that trace's file, checked when they are used (`bundledTraceSizes`), so
 * commands that read no trace do not hash one.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ProfileData, SplitwiseRow } from '../engine/index.js';
import type { DeploymentSnapshot } from './deployment.js';
import { WORKLOADS_DIR } from '../paths.js';

export const BUNDLED_SNAPSHOT: string = path.join(WORKLOADS_DIR, 'bundled.json');

/** The format tag of the snapshot; a file with another one is not read. */
export const SNAPSHOT_FORMAT = 'splitbench-bundled/2';

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
  /** The bundled traces (workloads/NAME.csv) by file name: their rows' sizes in file order. */
  readonly traces: Readonly<Record<string, TraceSizes>>;
}

/** One bundled trace's request sizes, row by row, as its reader reads them (strictly: the bundled traces have no bad rows). */
export interface TraceSizes {
  /** SHA-256 (hex) of the trace file the sizes were read from. */
  readonly sha256: string;
  /** The reader that read it (a traceReaders name: the format detected from its first line). */
  readonly format: string;
  readonly prompts: readonly number[];
  readonly outputs: readonly number[];
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

/**
 * The sizes of the bundled trace at `file` (an absolute path) read by `format`, from the snapshot: undefined
 * unless the file is one of the bundled traces, the snapshot holds it with that format, and the file's bytes
 * still hash to what the snapshot was made from (then they are exactly the rows its reader would give).
 * (`snap` and `root`: another snapshot and its workloads folder, for tests.)
 */
export function bundledTraceSizes(
  file: string,
  format: string,
  snap: ConfigSnapshot | undefined = bundledSnapshot(),
  root: string = WORKLOADS_DIR,
): TraceSizes | undefined {
  if (path.dirname(file) !== root) return undefined;
  const t = snap?.traces[path.basename(file)];
  if (t === undefined || t.format !== format) return undefined;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  return crypto.createHash('sha256').update(bytes).digest('hex') === t.sha256 ? t : undefined;
}
