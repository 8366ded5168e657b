/**
 * A bulk or live run writer's thread (see BulkWorker in store.ts): its own connection to the store file, the
 * batches it is sent written in order, each in one transaction. After each message it adds one to the
 * shared counter (and wakes the writer); on a failure it reports the message on its port first. It
 * signals its start (connection open, and its request tap built when it is given one: 1; cannot: -1) in
 * the second shared slot.
 *
 * A request tap (RequestTap.thread: a module's `createRequestTap(data)`) gets the request rows of the
 * batches sent with `tap`, once they are committed. A batch done with, its buffers go back on the port
 * (`recycle`), for the writer's next batches. After `close`, a `result` message has it compute its
 * result for the run, sent back on the port, and the thread ends.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { ThreadRequestTap } from './api.js';
import { SqliteDb } from './sqlite.js';
import { compileBatchRows, prepareInserts, transferOf, writeBatches, type WriteBatch } from './writer.js';

interface Data {
  file: string;
  shared: Int32Array;
  port: MessagePort;
  durable?: boolean;
  tap?: { module: string; data: unknown; fields: readonly string[] };
}
type Message = { id: number; batch: WriteBatch; tap?: boolean } | 'close' | { result: number };

const { file, shared, port, durable, tap: tapSpec } = workerData as Data;
const done = shared.subarray(0, 1);
let failed = false;
const tick = (): void => {
  Atomics.add(done, 0, 1);
  Atomics.notify(done, 0);
};
const end = (): void => {
  // Nothing left open: the thread ends now (its memory freed while the caller summarises).
  port.close();
  parentPort!.close();
};

/** The tap, and its reader of a batch's request rows (the fields it asked for). */
async function buildTap(): Promise<{ tap: ThreadRequestTap; rows: ReturnType<typeof compileBatchRows> } | undefined> {
  if (tapSpec === undefined) return undefined;
  const m = (await import(tapSpec.module)) as { createRequestTap(data: unknown): ThreadRequestTap | Promise<ThreadRequestTap> };
  return { tap: await m.createRequestTap(tapSpec.data), rows: compileBatchRows(tapSpec.fields as Parameters<typeof compileBatchRows>[0]) };
}

try {
  const db = new SqliteDb(file, { fileMustExist: true, timeout: 10_000 });
  // Bulk writes (a sim can be rerun): no fsync at checkpoints; WAL was set up by the opener. A live
  // run's writer (durable) keeps the store's setting: a committed row survives a process crash.
  db.pragma(durable ? 'synchronous = NORMAL' : 'synchronous = OFF');
  db.pragma('foreign_keys = ON');
  // A 2 MB page cache, not SQLite's default 16 MB: a writer appends (rows in key order), so it needs the
  // B-trees' paths and one batch's pages, and a larger cache only held ~14 MB more through a sim's summary.
  db.pragma('cache_size = -2000');
  const ins = prepareInserts(db);
  const tap = await buildTap();
  const add = tap ? (r: Parameters<ThreadRequestTap['add']>[0]): void => tap.tap.add(r) : undefined;
  Atomics.store(shared, 1, 1);
  Atomics.notify(shared, 1);
  parentPort!.on('message', (m: Message) => {
    if (m === 'close') {
      // Copy the run's pages from the WAL into the file here, not in the store's close on the caller's
      // thread (PASSIVE: it never waits on another connection; what it cannot copy the last close does).
      try {
        db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // the last connection's close checkpoints anyway
      }
      db.close();
      tick();
      // A tap's result is asked for next.
      if (!tap) end();
      return;
    }
    if ('result' in m) {
      try {
        if (failed || !tap) throw new Error(failed ? 'a batch failed to commit' : 'the thread has no request tap');
        port.postMessage({ result: tap.tap.result({ file, runId: m.result }) });
      } catch (e) {
        port.postMessage({ resultError: (e as Error).message });
      }
      tick();
      end();
      return;
    }
    if (!failed) {
      const cur = { current: '' };
      try {
        writeBatches(db, ins, m.id, [m.batch], cur);
        if (m.tap && tap) {
          cur.current = 'request tap';
          tap.rows(m.batch.reqs, add!);
          tap.tap.release(m.batch.reqs.bytes.buffer);
        }
        // Done with the batch: its buffers go back to the writer, which builds the next batches in them.
        const bufs = transferOf(m.batch);
        port.postMessage({ recycle: bufs }, bufs);
      } catch (e) {
        failed = true;
        port.postMessage({ error: (e as Error).message, where: cur.current });
      }
    }
    tick();
  });
} catch {
  // The writer goes on in its own thread.
  Atomics.store(shared, 1, -1);
  Atomics.notify(shared, 1);
}
