import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RequestSpec } from '../../src/trace/index.js';

export function tmpDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'splitbench-trace-'));
}

/** Writes `text` to a new file in a fresh temp dir and returns its path. */
export function tmpFile(name: string, text: string): string {
  const p = path.join(tmpDir(), name);
  writeFileSync(p, text);
  return p;
}

export async function collect(src: AsyncIterable<RequestSpec>): Promise<RequestSpec[]> {
  const out: RequestSpec[] = [];
  for await (const r of src) out.push(r);
  return out;
}

export function fromArray(rs: RequestSpec[]): AsyncIterable<RequestSpec> {
  return {
    async *[Symbol.asyncIterator]() {
      yield* rs;
    },
  };
}

export function req(arrival: number, promptTokens = 100, outputTokens = 10, id = String(arrival)): RequestSpec {
  return { id, arrival, promptTokens, outputTokens };
}
