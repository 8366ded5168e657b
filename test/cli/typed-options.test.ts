// The CLI checks a command's flags through its spec once and hands the typed values, with the problems found,
// to the option module's resolver, which adds the rules between the flags: both kinds of problem come out in
// one message (exit 2), in this order. The resolvers' own logic is tested with typed input next to them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers.js';

const CASES: readonly (readonly [string, string])[] = [
  [
    'replay --trace coding --rate -2 --warmup -1 --header nocolon --max-error-rate 2 --arrivals zipf --timeout-total -1',
    "6 problems: --rate: must be > 0, got -2; --arrivals: unknown arrival process 'zipf'; known: poisson, gamma:CV, constant, uniform; --warmup: must be >= 0, got -1; --timeout-total: must be >= 0, got -1; --max-error-rate: must be in [0, 1], got 2; --header: expected 'Name: value', got 'nocolon'",
  ],
  // The scale-out flags: a bad --procs still counts as given for the rule between --procs and --shard.
  [
    'replay --trace coding --procs 0 --shard 0/2',
    '2 problems: --procs: expected an integer from 1 to 256; --procs and --shard: give one (--procs starts its own shard processes)',
  ],
  [
    'sim --trace coding --sample-interval -1 --compat splitwise --perf-model roofline --tag x',
    "3 problems: --sample-interval: must be >= 0, got -1; --perf-model: not with --compat splitwise, which uses SplitwiseSim's own predictors; --tag: expected KEY=VALUE, got 'x'",
  ],
  [
    'sweep --trace coding --rates 1,2 --plan p.json --deployment a,b --duration -1 --time-scale 2',
    '2 problems: --duration: must be > 0, got -1; --time-scale: applies to --live sweeps only',
  ],
  [
    'provision --trace coding --design x --objective iso-power --rate 1 --tolerance 0 --compat bogus',
    "3 problems: --tolerance: must be > 0, got 0; --design: unknown design 'x'; known: splitwise-hh, splitwise-ha, splitwise-aa, splitwise-hhcap, baseline-a100, baseline-h100; --compat: unknown mode 'bogus'; known: splitwise (SplitwiseSim-compatible), none",
  ],
  ['experiment bogus --duration -1', "2 problems: EXPERIMENT: unknown experiment 'bogus'; known: splitwise; --duration: must be > 0, got -1"],
  [
    'launch slurm --shards 0 --chunks 1.5 --parallel 2',
    '3 problems: --shards: expected an integer >= 1, got 0; --chunks: expected an integer >= 1, got 1.5; --parallel: applies to --chunks (shards all run at once)',
  ],
];

test("the spec's problems and the resolver's come out at once, exit 2, no stack trace", async () => {
  const results = await Promise.all(CASES.map(([args]) => runCli(args.split(' '))));
  CASES.forEach(([args, message], i) => {
    const r = results[i]!;
    const command = args.split(' ')[0];
    assert.equal(r.code, 2, args);
    assert.equal(r.stderr, `splitbench: ${message}\n  hint: run \`splitbench ${command} --help\` for the flags\n`, args);
  });
});
