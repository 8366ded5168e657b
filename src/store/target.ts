/**
 * The one check of a store a command will write (`--db` of replay, sim, sweep, provision; merge's `--out`),
 * made at the flag edge, before any trace is read or request sent: the name is not empty, is not a folder,
 * and the file (or, when it does not exist yet, the nearest existing folder above it) is writable. An empty
 * name would otherwise open SQLite's private temporary database and lose the run without a word.
 */
import { accessSync, closeSync, constants, openSync, type Stats, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';

/** Why `file` cannot be used as a writable results store, or undefined when it can. */
export function storeTargetProblem(file: string): string | undefined {
  if (file.trim() === '') return 'expected a file name (an empty name would record nothing)';
  if (file === ':memory:' || file.startsWith('file:')) return `'${file}' is not a file path; give a file name for the results store`;
  let st: Stats | undefined;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return `cannot create ${file}: a part of its folder path is a file, not a folder`;
    if (code !== 'ENOENT') return `cannot use ${file}: ${(e as Error).message}`;
  }
  if (st) {
    if (st.isDirectory()) return `${file} is a folder, not a results store file`;
    try {
      accessSync(file, constants.R_OK | constants.W_OK);
    } catch {
      return `${file} is not writable`;
    }
    try {
      accessSync(path.dirname(path.resolve(file)), constants.W_OK);
    } catch {
      return `the folder of ${file} is not writable (SQLite needs to create its -wal and -shm files beside it)`;
    }
    return undefined;
  }
  // Not there yet: the nearest existing ancestor must be a writable folder (the store creates the rest).
  let dir = path.dirname(path.resolve(file));
  for (;;) {
    let ds: Stats | undefined;
    try {
      ds = statSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return `cannot use ${file}: ${(e as Error).message}`;
    }
    if (ds) {
      if (!ds.isDirectory()) return `cannot create ${file}: ${dir} is not a folder`;
      // A real probe, not access(2): root passes W_OK on pseudo and read-only file systems.
      const probe = path.join(dir, `.splitbench-probe-${process.pid}`);
      try {
        closeSync(openSync(probe, 'wx'));
        unlinkSync(probe);
      } catch (e) {
        return `cannot create ${file}: ${dir} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      }
      return undefined;
    }
    const up = path.dirname(dir);
    if (up === dir) return `cannot create ${file}`;
    dir = up;
  }
}
