/** Shared fixtures of the real-inference tests: a tiny generated model in a temp folder (made once per process). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeModel, TINY_SHAPE, type ModelShape } from '../../src/worker/model.js';

let dir: string | undefined;
const made = new Map<string, string>();

export function tmpDir(): string {
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'splitbench-worker-'));
  return dir;
}

/** A generated model file (cached per shape and seed for this process). */
export function tinyModel(seed = 7, shape: ModelShape = TINY_SHAPE): string {
  const key = `${shape.name}-${seed}`;
  let file = made.get(key);
  if (!file) {
    file = path.join(tmpDir(), `${key}.gguf`);
    makeModel({ shape, seed, out: file });
    made.set(key, file);
  }
  return file;
}

/** A deterministic prompt of `n` ordinary token ids for a vocabulary of `vocab`. */
export function prompt(n: number, salt = 0, vocab = TINY_SHAPE.vocab): number[] {
  return Array.from({ length: n }, (_, i) => 3 + ((i * 131 + salt * 977 + 17) % (vocab - 3)));
}

export function cleanup(): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  made.clear();
}
