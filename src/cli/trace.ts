/** `splitbench trace stats|synth|convert`: look at, generate and convert request traces. */
import path from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ConfigError, ExitCode } from '../errors.js';
import { addTraceTransformOptions } from '../trace/options.js';
import { TRACE_FORMATS } from '../trace/readers/index.js';
import { setExitCode } from './main.js';
import { formatTable, printJson } from './output.js';

type Args = Record<string, unknown>;

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

const statsCmd: CommandModule<object, Args> = {
  command: 'stats <file>',
  describe: 'requests, span, rates, inter-arrival spread, peaks, token percentiles (streams any size)',
  builder: (y: Argv) =>
    addTraceTransformOptions(
      y
        .positional('file', { type: 'string', describe: 'trace file, or a bundled trace name (coding, conversation)', demandOption: true })
        .option('json', { type: 'boolean', describe: 'print the statistics as JSON' })
        .option('cache-blocks', { type: 'number', describe: 'prefix reuse (traces with hash_ids): also for an LRU cache of this many 512-token blocks' })
        .example('$0 trace stats coding', 'statistics of the bundled Azure coding trace')
        .example('$0 trace stats trace.jsonl --cache-blocks 20000', 'a Mooncake trace: prefix reuse, infinite and LRU cache')
        .example('$0 trace stats big.csv --window 3600:7200 --json', 'the second hour of a trace, as JSON'),
    ),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const cacheBlocks = argv.cacheBlocks === undefined ? undefined : Number(argv.cacheBlocks);
    if (cacheBlocks !== undefined && !(Number.isInteger(cacheBlocks) && cacheBlocks >= 1 && cacheBlocks <= 1e9)) {
      throw new ConfigError(`expected an integer from 1 to 1,000,000,000 (got ${String(argv.cacheBlocks)})`, { path: '--cache-blocks' });
    }
    const t = await import('../trace/index.js');
    const transforms = t.parseTraceTransforms(argv);
    const src = t.openTrace(String(argv.file), t.parseTraceOpenOptions(argv));
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
    if (argv.json) {
      printJson('trace stats', { path: src.path, format: src.format, transforms, ...stats, skippedExamples: src.skippedExamples() });
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
    setExitCode(ExitCode.ok);
  },
};

const synthCmd: CommandModule<object, Args> = {
  command: 'synth',
  describe: 'a synthetic trace: sizes sampled from a real trace, arrivals from a seeded random process',
  builder: (y: Argv) =>
    y
      .option('like', { type: 'string', describe: 'trace whose rows give the sizes (each request one row, drawn with replacement)', demandOption: true })
      .option('rate', { type: 'number', describe: 'mean requests per second', demandOption: true })
      .option('duration', { type: 'number', describe: 'seconds of trace to generate (with --sessions: optional, sessions starting later are left out)' })
      .option('sessions', {
        type: 'number',
        describe: 'multi-turn sessions instead of single requests: this many, starting at --rate sessions/s (mooncake format; replay/sim them with --sessions)',
      })
      .option('turns', { type: 'number', describe: 'with --sessions: mean turns per session (geometric on 1, 2, ...; default 4)' })
      .option('think', { type: 'number', describe: 'with --sessions: mean think time between an answer and the next turn, seconds (exponential; default 10)' })
      .option('user-tokens', { type: 'number', describe: 'with --sessions: mean new user tokens a later turn adds (geometric on 1, 2, ...; default 128)' })
      .option('arrivals', {
        type: 'string',
        describe: 'arrival process: poisson, gamma:CV (CV = coefficient of variation of the gaps), constant, uniform',
        default: 'poisson',
      })
      .option('seed', { type: 'number', describe: 'random seed (same seed and inputs: identical file)', default: 0 })
      .option('format', { type: 'string', describe: `output format: ${TRACE_FORMATS.join(', ')} (default azure; mooncake with --sessions)` })
      .option('lenient', { type: 'boolean', describe: 'skip bad rows of the --like trace instead of failing' })
      .option('out', { type: 'string', describe: 'output file', demandOption: true })
      .option('json', { type: 'boolean', describe: 'print what was written as JSON' })
      .example('$0 trace synth --like coding --rate 50 --duration 600 --out rr_code_50.csv', 'SplitwiseSim-style 50 req/s Poisson trace, 10 minutes')
      .example(
        '$0 trace synth --like conversation --rate 20 --duration 300 --arrivals gamma:2 --format splitwise --out bursty.csv',
        'burstier arrivals, SplitwiseSim CSV',
      )
      .example(
        '$0 trace synth --like conversation --sessions 200 --rate 0.5 --turns 4 --think 10 --out chats.jsonl',
        '200 multi-turn chats, Mooncake JSONL with session ids and shared prefix blocks',
      ),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const t = await import('../trace/index.js');
    const { ConfigError } = await import('../errors.js');
    const num = (k: string): number => {
      const v = argv[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`expected a number, got '${String(v)}'`, { path: `--${k}` });
      return v;
    };
    const seed = num('seed');
    if (!Number.isSafeInteger(seed) || seed < 0) throw new ConfigError(`must be a non-negative integer, got ${seed}`, { path: '--seed' });
    const arrivals = String(argv.arrivals);
    t.parseArrivalKind(arrivals);
    if (argv.sessions === undefined) {
      for (const k of ['turns', 'think', 'user-tokens']) if (argv[k] !== undefined) throw new ConfigError('only applies with --sessions N', { path: `--${k}` });
    } else {
      const sessions = num('sessions');
      const d = t.SESSION_SYNTH_DEFAULTS;
      const turnsMean = argv.turns === undefined ? d.turnsMean : num('turns');
      const thinkMeanS = argv.think === undefined ? d.thinkMeanS : num('think');
      const userTokensMean = argv.userTokens === undefined ? d.userTokensMean : num('userTokens');
      const format = argv.format === undefined ? 'mooncake' : t.getTraceReader(String(argv.format)).name;
      const r = await t.synthesizeSessionTrace({
        like: String(argv.like),
        likeOpen: { lenient: argv.lenient === true },
        rate: num('rate'),
        ...(argv.duration === undefined ? {} : { durationS: num('duration') }),
        arrivals,
        seed,
        format,
        out: String(argv.out),
        sessions,
        turnsMean,
        thinkMeanS,
        userTokensMean,
      });
      if (argv.json)
        printJson('trace synth', {
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
      setExitCode(ExitCode.ok);
      return;
    }
    if (argv.duration === undefined)
      throw new ConfigError('missing: seconds of trace to generate (or --sessions N for a session trace)', { path: '--duration' });
    const format = t.getTraceReader(String(argv.format ?? 'azure')).name;
    const r = await t.synthesizeTrace({
      like: String(argv.like),
      likeOpen: { lenient: argv.lenient === true },
      rate: num('rate'),
      durationS: num('duration'),
      arrivals,
      seed,
      format,
      out: String(argv.out),
    });
    if (argv.json)
      printJson('trace synth', {
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
    setExitCode(ExitCode.ok);
  },
};

const convertCmd: CommandModule<object, Args> = {
  command: 'convert <file>',
  describe: 'convert a trace between formats (streaming; the trace flags apply)',
  builder: (y: Argv) =>
    addTraceTransformOptions(
      y
        .positional('file', { type: 'string', describe: 'input trace (any readable format; bundled names work)', demandOption: true })
        .option('to', { type: 'string', describe: `output format: ${TRACE_FORMATS.join(', ')}`, demandOption: true })
        .option('out', { type: 'string', describe: 'output file', demandOption: true })
        .option('json', { type: 'boolean', describe: 'print what was written as JSON' })
        .example('$0 trace convert coding --to splitwise --out code.csv', 'the Azure coding trace as a SplitwiseSim trace')
        .example(
          '$0 trace convert trace.jsonl --to azure --window 0:600 --speedup 2 --out first10min-x2.csv',
          'a Mooncake trace, first ten minutes, twice as fast',
        ),
    ),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const t = await import('../trace/index.js');
    const { ConfigError } = await import('../errors.js');
    const transforms = t.parseTraceTransforms(argv);
    const open = t.parseTraceOpenOptions(argv);
    const to = t.getTraceReader(String(argv.to), '--to').name;
    const input = t.resolveTracePath(String(argv.file));
    const out = String(argv.out);
    if (path.resolve(input) === path.resolve(out)) throw new ConfigError('must differ from the input file', { path: '--out' });
    const r = await t.convertTrace(input, { to, out, open, transforms });
    if (argv.json) printJson('trace convert', { in: input, out, ...r });
    else process.stdout.write(`wrote ${r.written} requests to ${out} (${r.from} → ${r.to})\n`);
    if (r.skipped) process.stderr.write(`splitbench: skipped ${r.skipped} bad rows of ${input} (--lenient)\n`);
    setExitCode(ExitCode.ok);
  },
};

export const traceCommand: CommandModule<object, Args> = {
  command: 'trace <command>',
  describe: 'inspect, synthesize and convert request traces (Azure CSV, Mooncake JSONL, SplitwiseSim CSV)',
  builder: (y: Argv) =>
    y
      .command(statsCmd)
      .command(synthCmd)
      .command(convertCmd)
      .demandCommand(1, 'name a trace subcommand: stats, synth or convert')
      .example('$0 trace stats coding --json', 'statistics of the bundled coding trace'),
  handler: () => undefined,
};
