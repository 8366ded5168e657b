/** `splitbench model make|info`: random-weight GGUF models for the real-inference mode of `serve`. */
import { defineCommand, defineGroup } from './define.js';

const MAKE_FLAGS = {
  shape: {
    type: 'string',
    default: 'tiny',
    requiresArg: true,
    describe: 'tiny (4 layers, 256 wide, 2.6M parameters) or a catalog model (llama3-8b, llama2-70b, …)',
  },
  layers: { type: 'number', integer: true, min: 1, requiresArg: true, describe: 'override: transformer blocks' },
  hidden: { type: 'number', integer: true, min: 1, requiresArg: true, describe: 'override: embedding width (head dimension = hidden / heads)' },
  heads: { type: 'number', integer: true, min: 1, requiresArg: true, describe: 'override: attention (query) heads' },
  'kv-heads': { type: 'number', integer: true, min: 1, requiresArg: true, describe: 'override: key-value heads (GQA when fewer than --heads)' },
  ffn: { type: 'number', integer: true, min: 1, requiresArg: true, describe: 'override: feed-forward width' },
  vocab: {
    type: 'number',
    integer: true,
    positive: true,
    requiresArg: true,
    describe: 'override: vocabulary size (at least 260: 3 specials, 256 bytes, 1 piece)',
  },
  context: { type: 'number', integer: true, min: 1, requiresArg: true, describe: 'override: trained context length, tokens' },
  seed: { type: 'number', integer: true, default: 0, requiresArg: true, describe: 'seed of the weights (same shape and seed: same bytes)' },
  type: { type: 'string', choices: ['f16', 'f32'], default: 'f16', describe: 'tensor type of the weight matrices' },
  out: { type: 'string', required: true, requiresArg: true, describe: 'GGUF file to write (streamed: large shapes never sit in memory)' },
  json: { type: 'boolean', describe: 'print what was written as JSON' },
} as const;

const fmtBytes = (b: number): string => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} kB`);
const fmtCount = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${n}`);

const makeCmd = defineCommand({
  command: 'make',
  describe: 'Write a Llama-architecture GGUF model with seeded random weights (times like the trained model of that shape)',
  name: 'model make',
  flags: MAKE_FLAGS,
  examples: [
    ['$0 model make --out tiny.gguf', 'the tiny default model (about 5 MB)'],
    ['$0 model make --shape llama3-8b --layers 4 --out l8b-4layers.gguf', 'Llama-3-8B widths with 4 of its 32 layers'],
    ['$0 model make --shape llama3-8b --out llama3-8b-random.gguf', 'a full-size random Llama-3-8B (16 GB of f16 weights)'],
  ],
  run: async (f, { json }) => {
    const { makeModel, resolveShape } = await import('../worker/model.js');
    const shape = resolveShape(f.shape, {
      layers: f.layers,
      hidden: f.hidden,
      heads: f.heads,
      kvHeads: f.kvHeads,
      ffn: f.ffn,
      vocab: f.vocab,
      context: f.context,
    });
    const made = makeModel({ shape, seed: f.seed, type: f.type, out: f.out });
    if (f.json) {
      json(made);
    } else {
      const s = made.shape;
      process.stdout.write(
        `${made.file}: ${s.name}, ${fmtCount(made.parameters)} parameters (${s.layers} layers, ${s.hidden} wide, ${s.heads}/${s.kvHeads} heads of ${s.headDim}, ` +
          `ffn ${s.ffn}${s.experts ? `, ${s.experts} experts (${s.expertsPerToken} per token)` : ''}, vocab ${s.vocab}, context ${s.context}), ` +
          `${made.type}, seed ${made.seed}, ${fmtBytes(made.bytes)}; KV cache ${fmtBytes(made.kvBytesPerToken)} per token\n`,
      );
    }
    return 0;
  },
});

const INFO_FLAGS = { json: { type: 'boolean', describe: 'print as JSON' } } as const;

const infoCmd = defineCommand({
  command: 'info <file>',
  describe: 'Print the shape recorded in a GGUF model file',
  flags: INFO_FLAGS,
  positionals: (y) => y.positional('file', { type: 'string', demandOption: true, describe: 'GGUF model file' }),
  examples: [['$0 model info tiny.gguf', 'layers, widths, heads, vocabulary and context of the model']],
  name: 'model info',
  run: async (f, { argv, json }) => {
    const { readModelShape, kvBytesPerToken } = await import('../worker/model.js');
    const shape = readModelShape(argv.file, 'model info');
    if (f.json) {
      json({ file: argv.file, ...shape, kvBytesPerToken: kvBytesPerToken(shape) });
    } else {
      process.stdout.write(
        `${argv.file}: ${shape.name}: ${shape.layers} layers, ${shape.hidden} wide, ${shape.heads}/${shape.kvHeads} heads of ${shape.headDim}, ` +
          `ffn ${shape.ffn}, vocab ${shape.vocab}, context ${shape.context}; KV cache ${fmtBytes(kvBytesPerToken(shape))} per token\n`,
      );
    }
    return 0;
  },
});

export const modelCommand = defineGroup({
  command: 'model <command>',
  describe: 'generated models for the real-inference mode (serve --engine real)',
  subcommands: [makeCmd, infoCmd],
  missing: 'name a model subcommand: make or info',
});
