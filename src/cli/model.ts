/** `splitbench model make|info`: random-weight GGUF models for the real-inference mode of `serve`. */
import type { Argv, CommandModule } from 'yargs';
import { setExitCode } from './main.js';

interface MakeArgs {
  shape: string;
  layers?: number | undefined;
  hidden?: number | undefined;
  heads?: number | undefined;
  'kv-heads'?: number | undefined;
  ffn?: number | undefined;
  vocab?: number | undefined;
  context?: number | undefined;
  seed: number;
  type: string;
  out: string;
  json?: boolean | undefined;
}

const fmtBytes = (b: number): string => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} kB`);
const fmtCount = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${n}`);

const makeCmd: CommandModule<object, MakeArgs> = {
  command: 'make',
  describe: 'Write a Llama-architecture GGUF model with seeded random weights (times like the trained model of that shape)',
  builder: (y) =>
    y
      .option('shape', {
        type: 'string',
        default: 'tiny',
        requiresArg: true,
        describe: 'tiny (4 layers, 256 wide, 2.6M parameters) or a catalog model (llama3-8b, llama2-70b, …)',
      })
      .option('layers', { type: 'number', requiresArg: true, describe: 'override: transformer blocks' })
      .option('hidden', { type: 'number', requiresArg: true, describe: 'override: embedding width (head dimension = hidden / heads)' })
      .option('heads', { type: 'number', requiresArg: true, describe: 'override: attention (query) heads' })
      .option('kv-heads', { type: 'number', requiresArg: true, describe: 'override: key-value heads (GQA when fewer than --heads)' })
      .option('ffn', { type: 'number', requiresArg: true, describe: 'override: feed-forward width' })
      .option('vocab', { type: 'number', requiresArg: true, describe: 'override: vocabulary size (at least 260: 3 specials, 256 bytes, 1 piece)' })
      .option('context', { type: 'number', requiresArg: true, describe: 'override: trained context length, tokens' })
      .option('seed', { type: 'number', default: 0, requiresArg: true, describe: 'seed of the weights (same shape and seed: same bytes)' })
      .option('type', { type: 'string', choices: ['f16', 'f32'], default: 'f16', describe: 'tensor type of the weight matrices' })
      .option('out', { type: 'string', demandOption: true, requiresArg: true, describe: 'GGUF file to write (streamed: large shapes never sit in memory)' })
      .option('json', { type: 'boolean', describe: 'print what was written as JSON' })
      .example('$0 model make --out tiny.gguf', 'the tiny default model (about 5 MB)')
      .example('$0 model make --shape llama3-8b --layers 4 --out l8b-4layers.gguf', 'Llama-3-8B widths with 4 of its 32 layers')
      .example('$0 model make --shape llama3-8b --out llama3-8b-random.gguf', 'a full-size random Llama-3-8B (16 GB of f16 weights)'),
  handler: async (argv) => {
    const { makeModel, resolveShape } = await import('../worker/model.js');
    const shape = resolveShape(argv.shape, {
      layers: argv.layers,
      hidden: argv.hidden,
      heads: argv.heads,
      kvHeads: argv['kv-heads'],
      ffn: argv.ffn,
      vocab: argv.vocab,
      context: argv.context,
    });
    const made = makeModel({ shape, seed: argv.seed, type: argv.type as 'f16' | 'f32', out: argv.out });
    if (argv.json) {
      const { printJson } = await import('./output.js');
      printJson('model make', made);
    } else {
      const s = made.shape;
      process.stdout.write(
        `${made.file}: ${s.name}, ${fmtCount(made.parameters)} parameters (${s.layers} layers, ${s.hidden} wide, ${s.heads}/${s.kvHeads} heads of ${s.headDim}, ` +
          `ffn ${s.ffn}${s.experts ? `, ${s.experts} experts (${s.expertsPerToken} per token)` : ''}, vocab ${s.vocab}, context ${s.context}), ` +
          `${made.type}, seed ${made.seed}, ${fmtBytes(made.bytes)}; KV cache ${fmtBytes(made.kvBytesPerToken)} per token\n`,
      );
    }
    setExitCode(0);
  },
};

const infoCmd: CommandModule<object, { file: string; json?: boolean | undefined }> = {
  command: 'info <file>',
  describe: 'Print the shape recorded in a GGUF model file',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'GGUF model file' })
      .option('json', { type: 'boolean', describe: 'print as JSON' })
      .example('$0 model info tiny.gguf', 'layers, widths, heads, vocabulary and context of the model'),
  handler: async (argv) => {
    const { readModelShape, kvBytesPerToken } = await import('../worker/model.js');
    const shape = readModelShape(argv.file, 'model info');
    if (argv.json) {
      const { printJson } = await import('./output.js');
      printJson('model info', { file: argv.file, ...shape, kvBytesPerToken: kvBytesPerToken(shape) });
    } else {
      process.stdout.write(
        `${argv.file}: ${shape.name}: ${shape.layers} layers, ${shape.hidden} wide, ${shape.heads}/${shape.kvHeads} heads of ${shape.headDim}, ` +
          `ffn ${shape.ffn}, vocab ${shape.vocab}, context ${shape.context}; KV cache ${fmtBytes(kvBytesPerToken(shape))} per token\n`,
      );
    }
    setExitCode(0);
  },
};

export const modelCommand: CommandModule = {
  command: 'model <command>',
  describe: 'generated models for the real-inference mode (serve --engine real)',
  builder: (y: Argv) => y.command(makeCmd).command(infoCmd).demandCommand(1, 'name a model subcommand: make or info'),
  handler: () => {},
};
