/**
 * The YAML parser, loaded at its first use: the bundled files come from the bundled snapshot
 * (src/config/snapshot.ts), so a run that reads no file of its own never loads it (~40 ms of start-up CPU).
 * Its Node build is CommonJS: this is the same module instance a static `import … from 'yaml'` gets.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let lib: typeof Yaml | undefined;

export function yaml(): typeof Yaml {
  lib ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return lib;
}
