/**
 * The sim's summary, kept on its writer's thread (RequestTap.thread, src/store): the run's request rows go to
 * an OrderedAccumulator there as they are committed, so the simulating thread neither measures nor
 * accumulates them; once the run is finished, the thread reads the run row and its power samples from its
 * own connection and hands back the RunSummary, the one `summarizeAccumulated` gives on the caller's thread.
 */
// The metrics modules themselves, not the folder's index: the thread loads only what it runs.
import { findRun, type RequestRecord } from '../metrics/rows.js';
import { loadReferenceLatency, referenceFromModel, type ModelReference, type SlowdownReference } from '../metrics/slowdown.js';
import { OrderedAccumulator, RunAccumulator, summarizeAccumulated } from '../metrics/summary.js';
import { openStore, type ThreadRequestTap } from '../store/index.js';

/** What the thread is given: the run's mode and its slowdown reference (a performance-model one, or none). */
export interface SummaryTapData {
  readonly compat: boolean;
  readonly reference?: ModelReference;
}

/** This module, for RequestTap.thread. */
export const SUMMARY_TAP_MODULE = import.meta.url;

/** The sim's summary as its rows come (in the order a read-back adds them): on this thread or the writer's. */
export function summaryAccumulator(compat: boolean, reference: SlowdownReference | undefined): OrderedAccumulator {
  return new OrderedAccumulator(new RunAccumulator(compat, reference ? { reference } : {}));
}

export async function createRequestTap(data: SummaryTapData): Promise<ThreadRequestTap> {
  const rows = summaryAccumulator(data.compat, data.reference ? referenceFromModel(await loadReferenceLatency(), data.reference) : undefined);
  return {
    add: (r) => rows.add(r as RequestRecord),
    release: (buffer) => rows.detach(buffer),
    result: ({ file, runId }) => {
      const store = openStore(file, { readonly: true });
      try {
        return summarizeAccumulated(store, findRun(store, runId), rows.finish());
      } finally {
        store.close();
      }
    },
  };
}
