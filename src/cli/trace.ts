/** `splitbench trace stats|synth|convert`: look at, generate and convert request traces. */
import path from 'node:path';
import { ExitCode } from '../errors.js';
import { checkArrivals, REPLAY_DEFAULTS, SEED_DEFAULT } from '../flags.js';
import { SESSION_SYNTH_DEFAULTS } from '../trace/synth.js';
import { camelKey } from '../flagspec.js';
import { TRACE_FLAGS, TRACE_FORMAT_FLAG, traceOptions } from '../trace/options.js';
import { getTraceReader, TRACE_FORMATS } from '../trace/readers/index.js';
import { APPROXIMATION } from '../metrics/histogram.js';
import { formatTable } from './output.js';
import { defineCommand, defineGroup } from './define.js';

function reportSkipped(skipped: number, examples: readonly { line: number; field: string | undefined; message: string }[], file: string): void {
  if (skipped === 0) return;
  const ex = examples[0];
  process.stderr.write(
    `splitbench: skipped ${skipped} bad row${skipped === 1 ? '' : 's'} (--lenient)${ex ? `; first: ${file}:${ex.line}${ex.field ? `:${ex.field}` : ''}: ${ex.message}` : ''}\n`,
  );
}

/** A progress bar (bytes read) on a TTY for big files; nothing otherwise. Returns the function that stops it. */
async function showReadProgress(src: { sizeBytes: number; bytesRead(): number }): Promise<() => void> {
  if (!process.stderr.isTTY || src.sizeBytes < 50e6) return () => undefined;
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const mb = (b: number): number => Math.round(b / 1e6);
  const bar = new SingleBar(
    { format: 'reading {bar} {percentage}% | {value}/{total} MB | ETA {eta}s', stream: process.stderr, clearOnComplete: true },
    Presets.shades_classic,
  );
  bar.start(mb(src.sizeBytes), 0);
  const timer = setInterval(() => bar.update(mb(src.bytesRead())), 250);
  return () => {
    clearInterval(timer);
    bar.stop();
  };
}

const fmtN = (v: number, digits = 3): string => (Number.isInteger(v) ? String(v) : String(+v.toPrecision(digits + 1)));

const STATS_FLAGS = {
  json: { type: 'boolean', describe: 'print the statistics as JSON' },
  'cache-blocks': {
    type: 'number',
    describe: 'prefix reuse (traces with hash_ids): also for an LRU cache of this many 512-token blocks',
    parse: (v: number): number => {
      if (!(Number.isInteger(v) && v >= 1 && v <= 1e9)) throw new Error(`expected an integer from 1 to 1,000,000,000 (got ${v})`);
      return v;
    },
  },
  ...TRACE_FLAGS,
} as const;

const statsCmd = defineCommand({
  command: 'stats <file>',
  describe: 'requests, span, rates, inter-arrival spread, peaks, token percentiles (streams any size)',
  name: 'trace stats',
  flags: STATS_FLAGS,
  positionals: (y) => y.positional('file', { type: 'string', describe: 'trace file, or a bundled trace name (coding, conversation)', demandOption: true }),
  examples: [
    ['$0 trace stats coding', 'statistics of the bundled Azure coding trace'],
    ['$0 trace stats trace.jsonl --cache-blocks 20000', 'a Mooncake trace: prefix reuse, infinite and LRU cache'],
    ['$0 trace stats big.csv --window 3600:7200 --json', 'the second hour of a trace, as JSON'],
  ],
  run: async (f, { argv, json }) => {
    const { transforms, ...open } = traceOptions(f);
    const cacheBlocks = f.cacheBlocks;
    const t = await import('../trace/index.js');
    const src = t.openTrace(String(argv.file), open);
    const stopProgress = await showReadProgress(src);
    let stats: Awaited<ReturnType<typeof t.computeTraceStats>>;
    try {
      stats = await t.computeTraceStats(
        t.hasTransforms(transforms) ? t.applyTransforms(src, transforms) : src,
        cacheBlocks === undefined ? {} : { cacheBlocks },
      );
    } finally {
      stopProgress();
    }
    stats.skipped = src.skipped();
    if (f.json) {
      json({ path: src.path, format: src.format, transforms, ...stats, skippedExamples: src.skippedExamples() });
    } else {
      const tok = (name: string, s: typeof stats.promptTokens): (string | number)[] => [name, fmtN(s.mean, 4), s.p50, s.p90, s.p99, s.max];
      const lines = [
        `trace           ${src.path} (${src.format})`,
        `requests        ${stats.requests}${stats.skipped ? ` (${stats.skipped} bad rows skipped)` : ''}`,
        `span            ${fmtN(stats.spanS, 5)} s, mean rate ${fmtN(stats.meanRatePerS)} req/s`,
        `inter-arrival   mean ${fmtN(stats.interArrival.meanS)} s, median ${fmtN(stats.interArrival.medianS)} s, CV ${fmtN(stats.interArrival.cv)}`,
        `peak            ${stats.peakPerSecond} req in one second, ${stats.peakPerMinute} req in one minute`,
        '',
        formatTable([['tokens', 'mean', 'p50', 'p90', 'p99', 'max'], tok('prompt', stats.promptTokens), tok('output', stats.outputTokens)]),
        ...(stats.approximate ? ['', `percentiles: ${APPROXIMATION} (mean, max, peaks and counts stay exact)`] : []),
      ];
      const pr = stats.prefixReuse;
      if (pr) {
        const pct = (f: number): string => `${(f * 100).toFixed(1)}%`;
        lines.push(
          '',
          `prefix reuse    ${pr.requests} requests with block hashes, ${pr.promptTokens} prompt tokens`,
          `  infinite      ${pct(pr.infinite.fraction)} of prompt tokens cached (${pr.infinite.hitTokens} tokens; ${pr.infinite.hitRequests} requests hit)`,
          ...(pr.lru
            ? [`  LRU ${pr.lru.blocks} blocks ${pct(pr.lru.fraction)} of prompt tokens cached (${pr.lru.hitTokens} tokens; ${pr.lru.hitRequests} requests hit)`]
            : []),
        );
      } else if (cacheBlocks !== undefined) {
        lines.push('', 'prefix reuse    none: the trace carries no prefix block hashes');
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      for (const w of stats.warnings) process.stdout.write(`warning: ${w}\n`);
    }
    reportSkipped(stats.skipped, src.skippedExamples(), src.path);
    return ExitCode.ok;
  },
});

const SYNTH_FLAGS = {
  like: { type: 'string', required: true, describe: 'trace whose rows give the sizes (each request one row, drawn with replacement)' },
  rate: { type: 'number', required: true, describe: 'mean requests per second' },
  duration: { type: 'number', describe: 'seconds of trace to generate (with --sessions: optional, sessions starting later are left out)' },
  sessions: {
    type: 'number',
    describe: 'multi-turn sessions instead of single requests: this many, starting at --rate sessions/s (mooncake format; replay/sim them with --sessions)',
  },
  turns: {
    type: 'number',
    defaultText: String(SESSION_SYNTH_DEFAULTS.turnsMean),
    describe: 'with --sessions: mean turns per session (geometric on 1, 2, ...)',
  },
  think: {
    type: 'number',
    defaultText: String(SESSION_SYNTH_DEFAULTS.thinkMeanS),
    describe: 'with --sessions: mean think time between an answer and the next turn, seconds (exponential)',
  },
  'user-tokens': {
    type: 'number',
    defaultText: String(SESSION_SYNTH_DEFAULTS.userTokensMean),
    describe: 'with --sessions: mean new user tokens a later turn adds (geometric on 1, 2, ...)',
  },
  arrivals: {
    type: 'string',
    default: REPLAY_DEFAULTS.arrivals,
    parse: checkArrivals,
    describe: 'arrival process: poisson, gamma:CV (CV = coefficient of variation of the gaps), constant, uniform',
  },
  seed: { type: 'number', integer: true, min: 0, default: SEED_DEFAULT, describe: 'random seed (same seed and inputs: identical file)' },
  format: { ...TRACE_FORMAT_FLAG, defaultText: 'azure; mooncake with --sessions', describe: `output format: ${TRACE_FORMATS.join(', ')}` },
  lenient: { type: 'boolean', describe: 'skip bad rows of the --like trace instead of failing' },
  out: { type: 'string', required: true, describe: 'output file' },
  json: { type: 'boolean', describe: 'print what was written as JSON' },
} as const;

const synthCmd = defineCommand({
  command: 'synth',
  describe: 'a synthetic trace: sizes sampled from a real trace, arrivals from a seeded random process',
  flags: SYNTH_FLAGS,
  examples: [
    ['$0 trace synth --like coding --rate 50 --duration 600 --out rr_code_50.csv', 'SplitwiseSim-style 50 req/s Poisson trace, 10 minutes'],
    [
      '$0 trace synth --like conversation --rate 20 --duration 300 --arrivals gamma:2 --format splitwise --out bursty.csv',
      'burstier arrivals, SplitwiseSim CSV',
    ],
    [
      '$0 trace synth --like conversation --sessions 200 --rate 0.5 --turns 4 --think 10 --out chats.jsonl',
      '200 multi-turn chats, Mooncake JSONL with session ids and shared prefix blocks',
    ],
  ],
  name: 'trace synth',
  read: (f, problems, argv) => {
    if (f.sessions === undefined)
      for (const k of ['turns', 'think', 'user-tokens'] as const) if (argv[camelKey(k)] !== undefined) problems.add(`--${k}`, 'only applies with --sessions N');
    if (f.sessions === undefined && f.duration === undefined && argv.duration === undefined)
      problems.add('--duration', 'missing: seconds of trace to generate (or --sessions N for a session trace)');
    return f;
  },
  run: async (f, { argv, json }) => {
    const t = await import('../trace/index.js');
    const { seed, arrivals, rate } = f;
    const d = t.SESSION_SYNTH_DEFAULTS;
    if (f.sessions !== undefined) {
      const sessions = f.sessions;
      const turnsMean = f.turns ?? d.turnsMean;
      const thinkMeanS = f.think ?? d.thinkMeanS;
      const userTokensMean = f.userTokens ?? d.userTokensMean;
      const format = f.format ?? 'mooncake';
      const r = await t.synthesizeSessionTrace({
        like: f.like,
        likeOpen: { lenient: f.lenient === true },
        rate,
        ...(f.duration === undefined ? {} : { durationS: f.duration }),
        arrivals,
        seed,
        format,
        out: f.out,
        sessions,
        turnsMean,
        thinkMeanS,
        userTokensMean,
      });
      if (f.json)
        json({
          out: r.out,
          format: r.format,
          requests: r.written,
          sessions: r.sessions,
          rate: argv.rate,
          ...(argv.duration === undefined ? {} : { durationS: argv.duration }),
          arrivals,
          seed,
          turnsMean,
          thinkMeanS,
          userTokensMean,
          likeSkipped: r.sourceSkipped,
        });
      else
        process.stdout.write(
          `wrote ${r.written} turns of ${r.sessions} sessions to ${r.out} (${r.format}, ${arrivals} session starts at ${argv.rate}/s, mean ${turnsMean} turns, ${thinkMeanS} s think, ${userTokensMean} new user tokens; seed ${seed})\n`,
        );
      if (r.sourceSkipped) process.stderr.write(`splitbench: skipped ${r.sourceSkipped} bad rows of ${argv.like} (--lenient)\n`);
      return ExitCode.ok;
    }
    const r = await t.synthesizeTrace({
      like: f.like,
      likeOpen: { lenient: f.lenient === true },
      rate,
      durationS: f.duration ?? 0,
      arrivals,
      seed,
      format: f.format ?? 'azure',
      out: f.out,
    });
    if (f.json)
      json({
        out: r.out,
        format: r.format,
        requests: r.written,
        rate: argv.rate,
        durationS: argv.duration,
        arrivals,
        seed,
        likeSkipped: r.sourceSkipped,
      });
    else
      process.stdout.write(
        `wrote ${r.written} requests to ${r.out} (${r.format}, ${arrivals} arrivals at ${argv.rate} req/s for ${argv.duration} s, seed ${seed})\n`,
      );
    if (r.sourceSkipped) process.stderr.write(`splitbench: skipped ${r.sourceSkipped} bad rows of ${argv.like} (--lenient)\n`);
    return ExitCode.ok;
  },
});

const CONVERT_FLAGS = {
  to: {
    type: 'string',
    required: true,
    describe: `output format: ${TRACE_FORMATS.join(', ')}`,
    parse: (v: string): string => getTraceReader(v, '--to').name,
  },
  out: { type: 'string', required: true, describe: 'output file' },
  json: { type: 'boolean', describe: 'print what was written as JSON' },
  ...TRACE_FLAGS,
} as const;

const convertCmd = defineCommand({
  command: 'convert <file>',
  describe: 'convert a trace between formats (streaming; the trace flags apply)',
  flags: CONVERT_FLAGS,
  positionals: (y) => y.positional('file', { type: 'string', describe: 'input trace (any readable format; bundled names work)', demandOption: true }),
  examples: [
    ['$0 trace convert coding --to splitwise --out code.csv', 'the Azure coding trace as a SplitwiseSim trace'],
    ['$0 trace convert trace.jsonl --to azure --window 0:600 --speedup 2 --out first10min-x2.csv', 'a Mooncake trace, first ten minutes, twice as fast'],
  ],
  name: 'trace convert',
  run: async (f, { argv, json }) => {
    const t = await import('../trace/index.js');
    const { ConfigError } = await import('../errors.js');
    const { transforms, ...open } = traceOptions(f);
    const to = f.to;
    const input = t.resolveTracePath(String(argv.file));
    const out = f.out;
    if (path.resolve(input) === path.resolve(out)) throw new ConfigError('must differ from the input file', { path: '--out' });
    const r = await t.convertTrace(input, { to, out, open, transforms });
    if (f.json) json({ in: input, out, ...r });
    else process.stdout.write(`wrote ${r.written} requests to ${out} (${r.from} → ${r.to})\n`);
    if (r.skipped) process.stderr.write(`splitbench: skipped ${r.skipped} bad rows of ${input} (--lenient)\n`);
    return ExitCode.ok;
  },
});

export const traceCommand = defineGroup({
  command: 'trace <command>',
  describe: 'inspect, synthesize and convert request traces (Azure CSV, Mooncake JSONL, SplitwiseSim CSV)',
  subcommands: [statsCmd, synthCmd, convertCmd],
  missing: 'name a trace subcommand: stats, synth or convert',
  examples: [['$0 trace stats coding --json', 'statistics of the bundled coding trace']],
});
