/**
 * better-sqlite3, loaded with SQLite URI file names switched on, so a reader can open a store with
 * `?immutable=1` when it may not create the WAL's -shm file (a store in a folder it cannot write). The addon
 * reads SQLITE_USE_URI once, when it is first loaded: splitbench loads it only through this module (and
 * bin/splitbench.js sets the variable before anything), so URIs are on whenever splitbench loaded it first.
 * Plain file names are unaffected; store names starting with `file:` are refused at the flag edge (target.ts).
 */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';

if (process.env.SQLITE_USE_URI === undefined) process.env.SQLITE_USE_URI = '1';

/** The better-sqlite3 constructor. */
export const SqliteDb = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
