/**
 * CPU per streamed chunk of the recorder's chunk reading (src/load/chunk.ts): JSON.parse (`readChunk`)
 * against the fast path (`ChunkReader`: a template learnt per stream, the scan, JSON.parse as the last
 * resort), on whole streams of the usual shapes (each ending with its usage block), in one process, interleaved, each point `--reps` times.
 * The ratio is the figure; absolute times depend on the machine and on what else runs on it.
 *
 *   node dist/test/bench/chunk-read.js [--reps 5] [--streams 2000] [--tokens 32,256]
 */
import { ChunkFacts, ChunkReader, readChunk } from '../../src/load/chunk.js';

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`chunk-read: --${name} must be a positive number, got '${process.argv[i + 1]}'\n`);
    process.exit(2);
  }
  return v;
}

const lengths = (() => {
  const i = process.argv.indexOf('--tokens');
  const raw = i >= 0 ? (process.argv[i + 1] ?? '') : '32,256';
  const out = raw.split(',').map(Number);
  if (out.some((n) => !Number.isInteger(n) || n <= 0)) {
    process.stderr.write(`chunk-read: --tokens must be a comma-separated list of positive integers, got '${raw}'\n`);
    process.exit(2);
  }
  return out;
})();

/** A string with its own flat storage, as the SSE parser hands data over (not a rope of concatenations). */
const flat = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

const WORDS = [' the', ' model', ' said', ',', ' "hi"', ' é', ' 日本', '\n'];
const SHAPES: Record<string, (i: number, n: number) => string> = {
  'completions, per-chunk usage (vLLM continuous_usage_stats)': (i, n) =>
    `{"id":"cmpl-8a1f2c","object":"text_completion","created":1733500000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"text":${JSON.stringify(WORDS[i % WORDS.length])},"logprobs":null,"finish_reason":${i === n ? '"length"' : 'null'},"stop_reason":null}],"usage":{"prompt_tokens":128,"total_tokens":${128 + i},"completion_tokens":${i}}}`,
  'completions, usage null': (i, n) =>
    `{"id":"cmpl-8a1f2c","object":"text_completion","created":1733500000,"model":"m","choices":[{"index":0,"text":${JSON.stringify(WORDS[i % WORDS.length])},"logprobs":null,"finish_reason":${i === n ? '"length"' : 'null'}}],"usage":null}`,
  'chat deltas (OpenAI)': (i, n) =>
    `{"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1733500002,"model":"gpt-4o-mini","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":${JSON.stringify(WORDS[i % WORDS.length])}},"logprobs":null,"finish_reason":${i === n ? '"stop"' : 'null'}}],"usage":null,"obfuscation":"${'x'.repeat(1 + (i % 9))}"}`,
};

/** The usage block after a stream's last choice (`stream_options.include_usage`). */
const usageBlock = (n: number): string =>
  `{"id":"cmpl-8a1f2c","object":"text_completion","created":1733500000,"model":"m","choices":[],"usage":{"prompt_tokens":128,"total_tokens":${128 + n},"completion_tokens":${n}}}`;

/** One stream: its `n` choices, the last with its finish reason, then the usage block. */
function streamsOf(shape: (i: number, n: number) => string, n: number): string[] {
  const out: string[] = [];
  for (let i = 1; i <= n; i++) out.push(flat(shape(i, n)));
  out.push(flat(usageBlock(n)));
  return out;
}

/** CPU ns per chunk reading `streams` copies of `chunks`, with `read` (which gets a fresh reader per stream). */
function measure(chunks: readonly string[], streams: number, fast: boolean): number {
  const f = new ChunkFacts();
  let sink = 0;
  const t0 = process.cpuUsage();
  for (let s = 0; s < streams; s++) {
    const reader = new ChunkReader();
    for (const c of chunks) {
      if (!fast || !reader.read(c, f)) readChunk(c, f);
      sink += f.completion | 0;
    }
  }
  const u = process.cpuUsage(t0);
  if (sink < 0) console.log(sink);
  return ((u.user + u.system) * 1000) / (streams * chunks.length);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const reps = flag('reps', 5);
const streams = flag('streams', 2000);
console.log(`chunk reading, CPU ns per chunk (median of ${reps}, ${streams} streams per point, node ${process.version})`);
console.log('tokens  JSON.parse  fast path  ratio  shape');
for (const n of lengths) {
  for (const [name, shape] of Object.entries(SHAPES)) {
    const chunks = streamsOf(shape, n);
    // Warm both paths before timing.
    measure(chunks, Math.max(1, streams >> 3), false);
    measure(chunks, Math.max(1, streams >> 3), true);
    const slow: number[] = [];
    const fast: number[] = [];
    for (let r = 0; r < reps; r++) {
      slow.push(measure(chunks, streams, false));
      fast.push(measure(chunks, streams, true));
    }
    const s = median(slow);
    const q = median(fast);
    console.log(`${String(n).padStart(6)}  ${s.toFixed(0).padStart(10)}  ${q.toFixed(0).padStart(9)}  ${(q / s).toFixed(2).padStart(5)}  ${name}`);
  }
}
