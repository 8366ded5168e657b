/**
 * Generated models for the real-inference mode. No weights can be downloaded, so a model is made: a GGUF
 * file of a Llama-architecture transformer (RMSNorm, rotary positions, grouped-query attention, SwiGLU
 * feed-forward, optionally mixture-of-experts) with seeded random weights and a byte-level
 * SentencePiece-style vocabulary. Random weights cost exactly what trained weights of the same shape
 * cost, so timings are real; the text is gibberish.
 *
 * Shapes: `tiny` (4 layers, 256 wide, GQA 4/2 heads, 2.6M parameters: fast on one CPU thread) or any
 * model of the engine's catalog (e.g. llama3-8b), each overridable field by field. The same shape and
 * seed always give the same bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { loadCatalog } from '../config/index.js';
import { PACKAGE_ROOT } from '../paths.js';
import { type GgufInfo, readGgufInfo, tensorElements, writeGguf, type MetaValue, type TensorSpec, type TensorType } from './gguf.js';

export interface ModelShape {
  /** Shape name recorded in the file (`tiny`, a catalog model, or `custom`). */
  readonly name: string;
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Feed-forward (intermediate) width. */
  readonly ffn: number;
  readonly vocab: number;
  /** Trained context length written to the file (prompt + output tokens). */
  readonly context: number;
  /** Mixture-of-experts: experts per layer and experts used per token (absent: dense). */
  readonly experts?: number;
  readonly expertsPerToken?: number;
}

/** The default model of the real-inference mode. */
export const TINY_SHAPE: ModelShape = Object.freeze({
  name: 'tiny',
  layers: 4,
  hidden: 256,
  heads: 4,
  kvHeads: 2,
  headDim: 64,
  ffn: 512,
  vocab: 512,
  context: 2048,
});

/** Tokens before the first ordinary piece: <unk>, <s>, </s>, then the 256 byte tokens. */
export const SPECIAL_TOKENS = 3;
export const BYTE_TOKENS = 256;
export const MIN_VOCAB = SPECIAL_TOKENS + BYTE_TOKENS + 1;
export const BOS_ID = 1;
export const EOS_ID = 2;

export interface ShapeOverrides {
  readonly layers?: number | undefined;
  readonly hidden?: number | undefined;
  readonly heads?: number | undefined;
  readonly kvHeads?: number | undefined;
  readonly ffn?: number | undefined;
  readonly vocab?: number | undefined;
  readonly context?: number | undefined;
}

/** Names accepted by `--shape`: `tiny` and the catalog's models. */
export function shapeNames(): string[] {
  return ['tiny', ...loadCatalog().modelNames()];
}

/**
 * Resolve a shape by name (`tiny` or a catalog model) with per-field overrides, validated: every problem
 * is named by its flag.
 */
export function resolveShape(name: string, o: ShapeOverrides = {}): ModelShape {
  let base: ModelShape;
  if (name === 'tiny') base = TINY_SHAPE;
  else {
    const catalog = loadCatalog();
    if (!catalog.hasModel(name)) {
      throw new ConfigError(`unknown shape '${name}'`, { path: '--shape', hint: `known shapes: ${shapeNames().join(', ')}` });
    }
    const m = catalog.model(name);
    base = {
      name,
      layers: m.layers,
      hidden: m.hidden,
      heads: m.heads,
      kvHeads: m.kvHeads,
      headDim: m.headDim,
      ffn: m.intermediate,
      vocab: m.vocab,
      context: m.maxContextTokens,
      ...(m.experts === undefined ? {} : { experts: m.experts, expertsPerToken: m.expertsPerToken ?? 2 }),
    };
  }
  const changed = Object.values(o).some((v) => v !== undefined);
  const hidden = o.hidden ?? base.hidden;
  const heads = o.heads ?? base.heads;
  const shape: ModelShape = {
    ...base,
    name: changed ? `${base.name}-custom` : base.name,
    layers: o.layers ?? base.layers,
    hidden,
    heads,
    kvHeads: o.kvHeads ?? base.kvHeads,
    // Overriding the width or the heads keeps Llama's rule head_dim = hidden / heads.
    headDim: o.hidden !== undefined || o.heads !== undefined ? Math.floor(hidden / heads) : base.headDim,
    ffn: o.ffn ?? base.ffn,
    vocab: o.vocab ?? base.vocab,
    context: o.context ?? base.context,
  };
  const problems: string[] = [];
  const int = (flag: string, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) problems.push(`${flag}: must be an integer ≥ ${min}, got ${v}`);
  };
  int('--layers', shape.layers, 1);
  int('--hidden', shape.hidden, 8);
  int('--heads', shape.heads, 1);
  int('--kv-heads', shape.kvHeads, 1);
  int('--ffn', shape.ffn, 1);
  int('--vocab', shape.vocab, MIN_VOCAB);
  int('--context', shape.context, 16);
  if (problems.length === 0) {
    if (shape.hidden % shape.heads !== 0 && (o.hidden !== undefined || o.heads !== undefined)) {
      problems.push(`--hidden: ${shape.hidden} is not a multiple of --heads ${shape.heads}`);
    }
    if (shape.heads % shape.kvHeads !== 0) problems.push(`--kv-heads: ${shape.kvHeads} does not divide --heads ${shape.heads}`);
    if (shape.headDim % 2 !== 0) problems.push(`--hidden/--heads: the head dimension ${shape.headDim} must be even (rotary positions)`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('; '), { hint: 'see `splitbench model make --help`' });
  return Object.freeze(shape);
}

/** Parameters (weights) of a shape, as the tensors written count them. */
export function shapeParameters(s: ModelShape): number {
  return modelTensors(s, 'f16').reduce((a, t) => a + tensorElements(t), 0);
}

/** KV-cache bytes per token of context at f16 (keys and values, every layer). */
export function kvBytesPerToken(s: ModelShape): number {
  return 2 * s.layers * s.kvHeads * s.headDim * 2;
}

/** The tensors of a Llama-architecture model, in file order (llama.cpp names, dims innermost first). */
export function modelTensors(s: ModelShape, type: TensorType): TensorSpec[] {
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const t: TensorSpec[] = [{ name: 'token_embd.weight', dims: [s.hidden, s.vocab], type }];
  for (let l = 0; l < s.layers; l++) {
    const b = `blk.${l}`;
    t.push(
      { name: `${b}.attn_norm.weight`, dims: [s.hidden], type: 'f32' },
      { name: `${b}.attn_q.weight`, dims: [s.hidden, q], type },
      { name: `${b}.attn_k.weight`, dims: [s.hidden, kv], type },
      { name: `${b}.attn_v.weight`, dims: [s.hidden, kv], type },
      { name: `${b}.attn_output.weight`, dims: [q, s.hidden], type },
      { name: `${b}.ffn_norm.weight`, dims: [s.hidden], type: 'f32' },
    );
    if (s.experts !== undefined) {
      const e = s.experts;
      t.push(
        { name: `${b}.ffn_gate_inp.weight`, dims: [s.hidden, e], type: 'f32' },
        { name: `${b}.ffn_gate_exps.weight`, dims: [s.hidden, s.ffn, e], type },
        { name: `${b}.ffn_down_exps.weight`, dims: [s.ffn, s.hidden, e], type },
        { name: `${b}.ffn_up_exps.weight`, dims: [s.hidden, s.ffn, e], type },
      );
    } else {
      t.push(
        { name: `${b}.ffn_gate.weight`, dims: [s.hidden, s.ffn], type },
        { name: `${b}.ffn_down.weight`, dims: [s.ffn, s.hidden], type },
        { name: `${b}.ffn_up.weight`, dims: [s.hidden, s.ffn], type },
      );
    }
  }
  t.push({ name: 'output_norm.weight', dims: [s.hidden], type: 'f32' }, { name: 'output.weight', dims: [s.hidden, s.vocab], type });
  return t;
}

/** Piece of ordinary token `i` (i ≥ 0): a word-start marker and a base-26 spelling, unique per i. */
function piece(i: number): string {
  let s = '';
  let n = i;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return `\u2581${s}`;
}

/** The byte-level SentencePiece-style vocabulary: tokens, scores and token types (llama.cpp's). */
export function vocabulary(size: number): { tokens: string[]; scores: Float32Array; types: Int32Array } {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const scores = new Float32Array(size);
  const types = new Int32Array(size);
  types[0] = 2; // unknown
  types[1] = 3; // control
  types[2] = 3;
  for (let b = 0; b < BYTE_TOKENS; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types[SPECIAL_TOKENS + b] = 6; // byte
  }
  for (let i = SPECIAL_TOKENS + BYTE_TOKENS; i < size; i++) {
    const k = i - SPECIAL_TOKENS - BYTE_TOKENS;
    tokens.push(piece(k));
    scores[i] = -k;
    types[i] = 1; // normal
  }
  return { tokens, scores, types };
}

/** 32-bit FNV-1a of a string with a seed (per-tensor random streams). */
function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h || 1;
}

/** One step of a xorshift32 stream (shifts 13, 17, 5); 0 stays 0. */
function xorshift32(x: number): number {
  let y = x ^ (x << 13);
  y ^= y >>> 17;
  y ^= y << 5;
  return y >>> 0;
}

/**
 * Random weights: each 16-bit value is a float16 with a random sign, mantissa and one of three exponents
 * around 2/sqrt(fan-in) (never subnormal, never infinite); float32 tensors get the same values widened. Norm weights are 1. A xorshift32 stream per tensor, seeded from the seed and the tensor's name.
 */
function weightFiller(seed: number): (t: TensorSpec, out: Buffer, offset: number) => void {
  const states = new Map<string, number>();
  return (t, out, offset) => {
    if (t.name.endsWith('_norm.weight')) {
      const f = new Float32Array(out.buffer, out.byteOffset, out.length / 4);
      f.fill(1);
      return;
    }
    let x = offset === 0 ? hash32(t.name, seed) : states.get(t.name)!;
    // Magnitudes around 2/sqrt(fan-in): attention and the next-token distribution depend on the context.
    const c = Math.floor(Math.log2(2 / Math.sqrt(t.dims[0]!)));
    // float16: sign from bit 30, exponent bias 15; float32: sign from bit 31, bias 127, the mantissa widened.
    const f16 = t.type === 'f16';
    const width = f16 ? 2 : 4;
    const e0 = (f16 ? 15 : 127) + c - 1;
    const n = Math.floor(out.length / width);
    for (let i = 0; i < n; i++) {
      x = xorshift32(x);
      const e = e0 + ((x >>> 10) % 3);
      if (f16) out.writeUInt16LE(((x >>> 15) & 0x8000) | (e << 10) | (x & 0x3ff), i * 2);
      else out.writeUInt32LE((((x >>> 31) << 31) | (e << 23) | ((x & 0x3ff) << 13)) >>> 0, i * 4);
    }
    states.set(t.name, x);
  };
}

export interface MakeModelOptions {
  readonly shape: ModelShape;
  readonly seed?: number;
  /** Tensor type of the weight matrices (norms are always f32). */
  readonly type?: TensorType;
  readonly out: string;
}

export interface MadeModel {
  readonly file: string;
  readonly shape: ModelShape;
  readonly seed: number;
  readonly type: TensorType;
  readonly parameters: number;
  readonly bytes: number;
  readonly kvBytesPerToken: number;
}

/** Metadata of a generated model (llama.cpp's keys plus `splitbench.*` provenance). */
export function modelMetadata(s: ModelShape, seed: number, type: TensorType, parameters: number): Map<string, MetaValue> {
  const vocab = vocabulary(s.vocab);
  const m = new Map<string, MetaValue>();
  const str = (k: string, v: string): void => void m.set(k, { type: 'string', value: v });
  const u32 = (k: string, v: number): void => void m.set(k, { type: 'uint32', value: v });
  const f32 = (k: string, v: number): void => void m.set(k, { type: 'float32', value: v });
  str('general.architecture', 'llama');
  str('general.name', `splitbench random ${s.name}`);
  u32('general.file_type', type === 'f16' ? 1 : 0);
  u32('llama.context_length', s.context);
  u32('llama.embedding_length', s.hidden);
  u32('llama.block_count', s.layers);
  u32('llama.feed_forward_length', s.ffn);
  u32('llama.attention.head_count', s.heads);
  u32('llama.attention.head_count_kv', s.kvHeads);
  u32('llama.attention.key_length', s.headDim);
  u32('llama.attention.value_length', s.headDim);
  f32('llama.attention.layer_norm_rms_epsilon', 1e-5);
  u32('llama.rope.dimension_count', s.headDim);
  f32('llama.rope.freq_base', 10000);
  u32('llama.vocab_size', s.vocab);
  if (s.experts !== undefined) {
    u32('llama.expert_count', s.experts);
    u32('llama.expert_used_count', s.expertsPerToken ?? 2);
  }
  str('tokenizer.ggml.model', 'llama');
  m.set('tokenizer.ggml.tokens', { type: 'string[]', value: vocab.tokens });
  m.set('tokenizer.ggml.scores', { type: 'float32[]', value: vocab.scores });
  m.set('tokenizer.ggml.token_type', { type: 'int32[]', value: vocab.types });
  u32('tokenizer.ggml.bos_token_id', BOS_ID);
  u32('tokenizer.ggml.eos_token_id', EOS_ID);
  u32('tokenizer.ggml.unknown_token_id', 0);
  m.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: false });
  str('splitbench.generator', 'splitbench model make');
  str('splitbench.shape', s.name);
  u32('splitbench.seed', seed);
  m.set('splitbench.parameters', { type: 'uint64', value: parameters });
  return m;
}

/** Write a random-weight model file (atomically: a temporary file renamed into place). */
export function makeModel(opts: MakeModelOptions): MadeModel {
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new ConfigError(`must be an integer from 0 to ${0xffffffff}, got ${seed}`, { path: '--seed' });
  }
  const type = opts.type ?? 'f16';
  const tensors = modelTensors(opts.shape, type);
  const parameters = tensors.reduce((a, t) => a + tensorElements(t), 0);
  const dir = path.dirname(path.resolve(opts.out));
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new ConfigError(`cannot create folder ${dir}: ${(e as Error).message}`, { path: '--out' });
  }
  const tmp = `${opts.out}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  let bytes: number;
  try {
    bytes = writeGguf(tmp, modelMetadata(opts.shape, seed, type, parameters), tensors, weightFiller(seed));
    fs.renameSync(tmp, opts.out);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOSPC') throw new ConfigError(`no space left writing ${opts.out}`, { path: '--out' });
    if (err.code === 'EACCES' || err.code === 'EISDIR' || err.code === 'ENOENT') {
      throw new ConfigError(`cannot write ${opts.out} (${err.code})`, { path: '--out' });
    }
    throw e;
  }
  return { file: opts.out, shape: opts.shape, seed, type, parameters, bytes, kvBytesPerToken: kvBytesPerToken(opts.shape) };
}

/** Folder of generated models (under the package's results folder, not committed). */
export const MODEL_CACHE_DIR: string = path.join(PACKAGE_ROOT, 'results', '.cache', 'models');

/** Bumped when the generator's output changes, so stale cached files are not reused. */
const GENERATOR_VERSION = 1;

/** The default tiny model: generated into the cache folder on first use, then reused. */
export function defaultModelFile(seed = 0): string {
  const file = path.join(MODEL_CACHE_DIR, `tiny-g${GENERATOR_VERSION}-s${seed}.gguf`);
  if (!fs.existsSync(file)) makeModel({ shape: TINY_SHAPE, seed, out: file });
  return file;
}

/** The shape recorded in a model file (ours or any llama-architecture GGUF). */
export function readModelShape(file: string, flag = '--model-file'): ModelShape {
  let info: GgufInfo;
  try {
    info = readGgufInfo(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT')
      throw new ConfigError(`model file ${file} does not exist`, { path: flag, hint: 'make one with `splitbench model make --shape tiny --out FILE.gguf`' });
    throw new ConfigError(err.message, { path: flag });
  }
  const md = info.metadata;
  const arch = md.get('general.architecture');
  const num = (k: string): number => {
    const v = md.get(`${arch}.${k}`);
    if (typeof v !== 'number') throw new ConfigError(`${file}: metadata ${arch}.${k} is missing (not a llama-architecture model?)`, { path: flag });
    return v;
  };
  const heads = num('attention.head_count');
  const hidden = num('embedding_length');
  const kl = md.get(`${arch}.attention.key_length`);
  const tokens = md.get('tokenizer.ggml.tokens');
  const experts = md.get(`${arch}.expert_count`);
  return {
    name: String(md.get('splitbench.shape') ?? md.get('general.name') ?? path.basename(file)),
    layers: num('block_count'),
    hidden,
    heads,
    kvHeads: typeof md.get(`${arch}.attention.head_count_kv`) === 'number' ? num('attention.head_count_kv') : heads,
    headDim: typeof kl === 'number' ? kl : hidden / heads,
    ffn: num('feed_forward_length'),
    vocab: typeof tokens === 'object' ? tokens.arrayLength : 0,
    context: num('context_length'),
    ...(typeof experts === 'number' && experts > 0 ? { experts, expertsPerToken: num('expert_used_count') } : {}),
  };
}
