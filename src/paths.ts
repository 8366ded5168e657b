import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package root (works from src/ via tsx and from dist/src/ when compiled). */
export const PACKAGE_ROOT: string = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src -> root, or src -> root
  return path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '..', '..') : path.resolve(here, '..');
})();

/** Folder of bundled traces, deployments, catalogs, profiles and SLO files. */
export const WORKLOADS_DIR: string = path.join(PACKAGE_ROOT, 'workloads');

/** Default results store. */
export const DEFAULT_DB: string = path.join('results', 'splitbench.db');
