/**
 * A bulk or live run writer's thread (see BulkWorker in store.ts): its own connection to the store file, the
 * batches it is sent written in order, each in one transaction. After each message it adds one to the
 * shared counter (and wakes the writer); on a failure it reports the message on its port first. It
 * signals its start (connection open: 1, cannot: -1) in the second shared slot.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SqliteDb } from './sqlite.js';
import { prepareInserts, writeBatches, type WriteBatch } from './writer.js';

const { file, shared, port, durable } = workerData as { file: string; shared: Int32Array; port: MessagePort; durable?: boolean };
const done = shared.subarray(0, 1);
let failed = false;
const tick = (): void => {
  Atomics.add(done, 0, 1);
  Atomics.notify(done, 0);
};
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
  Atomics.store(shared, 1, 1);
  Atomics.notify(shared, 1);
  parentPort!.on('message', (m: { id: number; batch: WriteBatch } | 'close') => {
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
      // Nothing left open: the thread ends now (its memory freed while the caller summarises).
      port.close();
      parentPort!.close();
      return;
    }
    if (!failed) {
      const cur = { current: '' };
      try {
        writeBatches(db, ins, m.id, [m.batch], cur);
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
