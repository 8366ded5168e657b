import { readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from './paths.js';

/** splitbench's version, from package.json (read once; works from src/ via tsx and from dist/src/). */
export const VERSION: string = (JSON.parse(readFileSync(`${PACKAGE_ROOT}/package.json`, 'utf8')) as { version: string }).version;
