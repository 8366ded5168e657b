/**
 * Render the bundled snapshot (workloads/bundled.json, src/config/snapshot.ts) from its sources, read and
 * validated in full: `npm run data:bundled` rewrites it; test/config/bundled.test.ts fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_CATALOG_DIR,
  DEFAULT_PROFILES_DIR,
  DEPLOYMENTS_DIR,
  deploymentSnapshot,
  listDeployments,
  readCatalogFiles,
  readProfileIndex,
  readSplitwiseRows,
  SPLITWISE_CSV,
} from '../../src/config/index.js';
import { DEFAULT_PRICES_FILE, readPriceFile } from '../../src/cost/prices.js';
import { BUNDLED_SNAPSHOT, type ConfigSnapshot, SNAPSHOT_FORMAT, sourcesDigest, type TraceSizes } from '../../src/config/snapshot.js';
import { BUNDLED_TRACES, openTrace, sha256File } from '../../src/trace/index.js';
import { WORKLOADS_DIR } from '../../src/paths.js';

/** A bundled trace's sizes, read in full and strictly by its reader. */
async function traceSizes(file: string): Promise<TraceSizes> {
  const abs = path.join(WORKLOADS_DIR, file);
  const source = openTrace(abs);
  const prompts: number[] = [];
  const outputs: number[] = [];
  for await (const batch of source.batches())
    for (const r of batch) {
      prompts.push(r.promptTokens);
      outputs.push(r.outputTokens);
    }
  return { sha256: await sha256File(abs), format: source.format, prompts, outputs };
}

/** The snapshot's text, from the bundled catalog, profile, SplitwiseSim, deployment, price and trace files. */
export async function renderBundledSnapshot(): Promise<string> {
  const catalog = readCatalogFiles(DEFAULT_CATALOG_DIR);
  const root = path.resolve(DEFAULT_PROFILES_DIR);
  const snapshot: ConfigSnapshot = {
    format: SNAPSHOT_FORMAT,
    sources: sourcesDigest(),
    catalog: { hardware: catalog.hardware.data.hardware, machines: catalog.machines.data.machines, models: catalog.models.data.models },
    profiles: readProfileIndex(root).map((e) => ({ file: path.relative(root, e.file).split(path.sep).join('/'), profile: e.profile })),
    splitwise: readSplitwiseRows(SPLITWISE_CSV),
    deployments: Object.fromEntries(
      listDeployments().map((name) => {
        const file = path.join(DEPLOYMENTS_DIR, `${name}.yaml`);
        return [name, deploymentSnapshot(readFileSync(file, 'utf8'), file)];
      }),
    ),
    prices: readPriceFile(readFileSync(DEFAULT_PRICES_FILE, 'utf8'), DEFAULT_PRICES_FILE),
    traces: Object.fromEntries(await Promise.all(Object.values(BUNDLED_TRACES).map(async (file) => [file, await traceSizes(file)] as const))),
  };
  return `${JSON.stringify(snapshot)}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = await renderBundledSnapshot();
  let before: string | undefined;
  try {
    before = readFileSync(BUNDLED_SNAPSHOT, 'utf8');
  } catch {
    before = undefined;
  }
  if (text !== before) writeFileSync(BUNDLED_SNAPSHOT, text);
  process.stdout.write(`${path.basename(BUNDLED_SNAPSHOT)}: ${text === before ? 'up to date' : 'rewritten'}\n`);
}
