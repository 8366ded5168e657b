/** Shard specs, partitioning, start instants and the clock check. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flagValues, parseFlags, Problems } from '../../src/flagspec.js';
import { SHARD_FLAGS } from '../../src/scale/options.js';
import {
  fnv1a,
  measureOffset,
  parseShard,
  parseStartAt,
  shardFilter,
  shardOf,
  startTimeServer,
  resolveScaleOptions,
  childArgs,
} from '../../src/scale/index.js';

test('parseShard: i/N, and auto from srun or an Indexed Job', () => {
  assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
  assert.deepEqual(parseShard('auto', { env: { SLURM_PROCID: '1', SLURM_NTASKS: '4' } }), { index: 1, count: 4 });
  assert.deepEqual(parseShard('auto', { env: { JOB_COMPLETION_INDEX: '3', SPLITBENCH_SHARDS: '5' } }), { index: 3, count: 5 });
  assert.deepEqual(parseShard('auto', { env: { JOB_COMPLETION_INDEX: '0' }, count: 2 }), { index: 0, count: 2 });
  assert.throws(() => parseShard('3/3'), /--shard: shard index 3 is not below the count 3/);
  assert.throws(() => parseShard('1:3'), /--shard: expected i\/N \(e\.g\. 0\/3\) or auto, got '1:3'/);
  assert.throws(() => parseShard('auto', { env: {} }), /--shard: auto: no launcher environment found/);
  assert.throws(() => parseShard('auto', { env: { JOB_COMPLETION_INDEX: '1' } }), /JOB_COMPLETION_INDEX=1 is set but the shard count is not/);
});

test('partition: every request in exactly one shard; sessions stay together; index mod N otherwise', async () => {
  const specs = Array.from({ length: 300 }, (_, i) => ({
    id: String(i),
    arrival: i,
    promptTokens: 1,
    outputTokens: 1,
    ...(i % 2 === 0 ? { sessionId: `s${i % 37}` } : {}),
  }));
  const seen = new Map<string, number>();
  for (let k = 0; k < 3; k++) {
    for (let i = 0; i < specs.length; i++) {
      if (shardOf(specs[i]!, i, 3) !== k) continue;
      assert.equal(seen.has(specs[i]!.id), false);
      seen.set(specs[i]!.id, k);
    }
  }
  assert.equal(seen.size, 300);
  const bySession = new Map<string, Set<number>>();
  for (const s of specs) if (s.sessionId) (bySession.get(s.sessionId) ?? bySession.set(s.sessionId, new Set()).get(s.sessionId)!).add(seen.get(s.id)!);
  for (const [, set] of bySession) assert.equal(set.size, 1, 'a session lives on one shard');
  assert.equal(shardOf({}, 7, 3), 1);
  assert.equal(fnv1a('hello'), 0x4f9f2cab, 'FNV-1a reference value');
  // The filter applies a global request limit before partitioning.
  async function* gen() {
    for (let i = 0; i < 10; i++) yield { spec: { id: String(i) } as { id: string; sessionId?: string } };
  }
  const got: string[] = [];
  for await (const x of shardFilter(gen(), { index: 1, count: 3 }, 8)) got.push(x.spec.id);
  assert.deepEqual(got, ['1', '4', '7']);
});

test('parseStartAt: epoch ms or ISO-8601 with a zone', () => {
  assert.equal(parseStartAt('1767225600000'), 1767225600000);
  assert.equal(parseStartAt('2026-01-01T00:00:00Z'), 1767225600000);
  assert.equal(parseStartAt('2026-01-01T01:00:00.500+01:00'), 1767225600500);
  assert.throws(() => parseStartAt('1767225600'), /--start-at: '1767225600' looks like epoch seconds/);
  assert.throws(() => parseStartAt('tomorrow'), /--start-at: expected epoch milliseconds or an ISO-8601 time/);
});

test('scale flags: validated together, with the flag named', () => {
  // As the CLI does it: the spec's check (SHARD_FLAGS), then the rules between the flags, every problem at once.
  const scale = (argv: Record<string, unknown>, closedLoop = false) => {
    const p = new Problems();
    return resolveScaleOptions(parseFlags(SHARD_FLAGS, argv, p), p, closedLoop, {});
  };
  assert.equal(scale({ trace: 'x' }), undefined);
  assert.deepEqual(scale({ shard: '1/2', startAt: '1767225600000' }), { shard: { index: 1, count: 2 }, startAt: 1767225600000, skewMs: 0 });
  assert.throws(() => scale({ startAt: '1767225600000' }), /--start-at: only applies with --shard or --procs/);
  assert.throws(() => scale({ procs: 2, shard: '0/2' }), /--procs and --shard: give one/);
  assert.throws(() => scale({ procs: 0 }), /--procs: expected an integer from 1 to 256/);
  // A bad value still counts as given for the rules between the flags.
  assert.throws(() => scale({ procs: 0, shard: '0/2' }), /2 problems: --procs: expected an integer from 1 to 256; --procs and --shard: give one/);
  assert.throws(() => scale({ shard: '0/2' }, true), /--concurrency: a closed loop cannot be split/);
  assert.throws(() => scale({ metricsPort: 70000 }), /--metrics-port: expected a port number/);
  // Typed values straight from a library caller.
  assert.deepEqual(resolveScaleOptions(flagValues(SHARD_FLAGS, { procs: 3, metricsPort: 9000 })), { procs: 3, metricsPort: 9000, skewMs: 0 });
  assert.equal(resolveScaleOptions(flagValues(SHARD_FLAGS, {})), undefined);
  assert.deepEqual(childArgs(['replay', '--trace', 't.csv', '--procs', '3', '--db=x.db', '--json', '--metricsPort', '9000', '--rate', '2']), [
    'replay',
    '--trace',
    't.csv',
    '--rate',
    '2',
  ]);
});

test('clock check: a wall clock skewed by 250 ms is detected, and corrected within RTT/2', async () => {
  const ref = await startTimeServer();
  try {
    for (const skew of [250, -40, 0]) {
      const s = await measureOffset(ref.url, { skewMs: skew, samples: 20 });
      // Same process, same clock: the true offset is exactly -skew.
      assert.ok(Math.abs(s.offsetMs + skew) <= s.rttMs / 2 + 1e-6, `skew ${skew}: offset ${s.offsetMs} rtt ${s.rttMs}`);
      assert.ok(s.rttMs > 0);
    }
  } finally {
    await ref.close();
  }
  await assert.rejects(
    measureOffset('http://127.0.0.1:9/time', { samples: 2, timeoutMs: 500 }),
    /clock check: cannot reach the time reference http:\/\/127\.0\.0\.1:9\/time/,
  );
});
