/**
 * What `splitbench summary` and `splitbench gate` do, given resolved options: open the store, resolve SLO
 * files and slowdown references, compute, write verdicts and CI files. The CLI files only parse flags and
 * print.
 */
import fs from 'node:fs';
import { ConfigError } from '../errors.js';
import { openStore, type Store } from '../store/index.js';
import { evaluateGate, sloNeedsReference, sloResultRows, toJunit, toMarkdown, unusableJunit, UnusableRunError, type GateResult } from './gate.js';
import { findRun } from './rows.js';
import { loadSlo } from './slo.js';
import { resolveReference } from './slowdown.js';
import { summarizeRun, type RunSummary } from './summary.js';
import type { PercentileMethod } from './histogram.js';

export interface SummaryCommandOptions {
  readonly db: string;
  /** Run ids or names; empty: the latest run. */
  readonly runs: readonly string[];
  readonly slo?: string;
  readonly referenceRun?: string;
  readonly referenceMachine?: string;
  readonly percentileMethod?: PercentileMethod;
}

/** Summaries of the asked runs, in the order asked. */
export async function summaryCommand(o: SummaryCommandOptions): Promise<RunSummary[]> {
  const slo = o.slo === undefined ? undefined : loadSlo(o.slo);
  const store = openStore(o.db, { readonly: true });
  try {
    const out: RunSummary[] = [];
    const keys = o.runs.length > 0 ? o.runs : [undefined];
    const explicitRef = o.referenceRun !== undefined || o.referenceMachine !== undefined;
    for (const key of keys) {
      const run = findRun(store, key);
      const reference = await resolveReference(store, run, {
        ...(o.referenceRun === undefined ? {} : { referenceRun: o.referenceRun }),
        ...((o.referenceMachine ?? slo?.referenceMachine) === undefined ? {} : { referenceMachine: (o.referenceMachine ?? slo?.referenceMachine)! }),
        required: explicitRef || (slo !== undefined && sloNeedsReference(slo)),
      });
      out.push(
        summarizeRun(store, run.id, {
          ...(slo ? { slo } : {}),
          ...(reference ? { reference } : {}),
          ...(o.percentileMethod === undefined ? {} : { percentileMethod: o.percentileMethod }),
        }),
      );
    }
    return out;
  } finally {
    store.close();
  }
}

export interface GateCommandOptions {
  readonly db: string;
  readonly slo: string;
  readonly run?: string;
  readonly baseline?: string;
  readonly allowLag: boolean;
  readonly referenceRun?: string;
  readonly referenceMachine?: string;
  readonly junit?: string;
  readonly markdown?: string;
  readonly percentileMethod?: PercentileMethod;
  readonly allowSaturated?: boolean;
  readonly allowDistorted?: boolean;
  /** Where notes go (default stderr). */
  readonly log?: (line: string) => void;
}

/** The store (or its folder) is not writable for this user: SQLITE_READONLY*, or -shm/-wal cannot be created. */
function isReadonlyError(e: unknown): boolean {
  const c = (e as { cause?: { code?: unknown } })?.cause?.code;
  return typeof c === 'string' && (c.startsWith('SQLITE_READONLY') || c === 'SQLITE_CANTOPEN' || c === 'SQLITE_PERM');
}

function writeOut(file: string, text: string, flag: string, o: { append?: boolean } = {}): void {
  // No mkdir -p: the folder must exist (Node's recursive mkdir can spin forever on pseudo file systems).
  try {
    if (o.append) {
      // Appended, as CI job summaries ($GITHUB_STEP_SUMMARY) are: a blank line after what is already there.
      const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
      fs.appendFileSync(file, size > 0 ? `\n${text}` : text);
    } else fs.writeFileSync(file, text);
  } catch (e) {
    throw new ConfigError(`cannot write ${file}: ${(e as Error).message}`, { path: flag });
  }
}

/** Evaluate the SLO file against the run, store the verdicts in slo_results, write the CI files. */
export async function gateCommand(o: GateCommandOptions): Promise<GateResult> {
  const slo = loadSlo(o.slo);
  let store: Store;
  let stored = true;
  try {
    store = openStore(o.db, { create: false });
  } catch (e) {
    // A store this user may read but not write (another user's, a read-only mount): judge it all the same;
    // only the verdicts are not kept in slo_results.
    if (!isReadonlyError(e)) throw e;
    store = openStore(o.db, { readonly: true });
    stored = false;
    (o.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(
      `splitbench gate: ${o.db} is read-only for this user; the verdicts are printed but not stored in slo_results`,
    );
  }
  try {
    const run = findRun(store, o.run);
    const needsRef = sloNeedsReference(slo);
    const referenceMachine = o.referenceMachine ?? slo.referenceMachine;
    const reference = needsRef
      ? await resolveReference(store, run, {
          ...(o.referenceRun === undefined ? {} : { referenceRun: o.referenceRun }),
          ...(referenceMachine === undefined ? {} : { referenceMachine }),
          required: true,
        })
      : undefined;
    let result: GateResult;
    try {
      result = evaluateGate(store, {
        slo,
        run: run.id,
        ...(o.baseline === undefined ? {} : { baseline: o.baseline }),
        allowLag: o.allowLag,
        ...(o.allowSaturated === undefined ? {} : { allowSaturated: o.allowSaturated }),
        ...(o.allowDistorted === undefined ? {} : { allowDistorted: o.allowDistorted }),
        ...(reference ? { reference } : {}),
        ...(o.percentileMethod === undefined ? {} : { percentileMethod: o.percentileMethod }),
      });
    } catch (e) {
      // An unusable run still leaves a JUnit file behind: one <error> testcase saying why.
      if (e instanceof UnusableRunError) {
        if (o.junit) writeOut(o.junit, unusableJunit(slo.name, e), '--junit');
        if (o.markdown) writeOut(o.markdown, `### SLO gate: UNUSABLE RUN\n\n${e.message}\n`, '--markdown', { append: true });
      }
      throw e;
    }
    if (stored) store.addSloResults(result.run.id, sloResultRows(result));
    if (o.junit) writeOut(o.junit, toJunit(result), '--junit');
    if (o.markdown) writeOut(o.markdown, toMarkdown(result), '--markdown', { append: true });
    return result;
  } finally {
    store.close();
  }
}
