/**
 * Launch files: Kubernetes manifests checked against the batch/v1 Job fields they use (types, enums and
 * the API's cross-field rules), Slurm scripts parsed by bash and carrying the right directives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { kubernetesManifests, resolveLaunchOptions, slurmScript } from '../../src/scale/index.js';
import { awaitBarrier, startTimeServer } from '../../src/scale/clock.js';
import { VERSION } from '../../src/version.js';
import { runCli, tempDir } from './helpers.js';

// batch/v1 Job as far as the manifests use it (Kubernetes API reference, v1.33). `.strict()`: an unknown
// (misspelled) field fails, as `kubectl apply --validate=strict` would.
const quantity = z.string().regex(/^\d+(\.\d+)?(m|[KMGTPE]i?|[kMGTPE])?$/, 'a Kubernetes quantity');
const dns1123 = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
  .max(63);
const labels = z.record(
  z.string().regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9._-]{1,63}$/),
  z
    .string()
    .max(63)
    .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/),
);
const container = z
  .object({
    name: dns1123,
    image: z.string().min(1),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    env: z.array(z.object({ name: z.string().regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/), value: z.string() }).strict()).optional(),
    ports: z
      .array(
        z
          .object({
            name: z.string().max(15).optional(),
            containerPort: z.number().int().min(1).max(65535),
            protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
          })
          .strict(),
      )
      .optional(),
    resources: z.object({ requests: z.record(quantity).optional(), limits: z.record(quantity).optional() }).strict(),
    volumeMounts: z.array(z.object({ name: dns1123, mountPath: z.string().startsWith('/') }).strict()).optional(),
  })
  .strict();
const nodeSelectorTerm = z
  .object({
    matchExpressions: z.array(
      z.object({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']), values: z.array(z.string()).optional() }).strict(),
    ),
  })
  .strict();
const affinity = z
  .object({
    nodeAffinity: z
      .object({ requiredDuringSchedulingIgnoredDuringExecution: z.object({ nodeSelectorTerms: z.array(nodeSelectorTerm).min(1) }).strict() })
      .strict()
      .optional(),
    podAntiAffinity: z
      .object({
        preferredDuringSchedulingIgnoredDuringExecution: z.array(
          z
            .object({
              weight: z.number().int().min(1).max(100),
              podAffinityTerm: z.object({ topologyKey: z.string().min(1), labelSelector: z.object({ matchLabels: labels }).strict() }).strict(),
            })
            .strict(),
        ),
      })
      .strict()
      .optional(),
  })
  .strict();
const podSpec = z
  .object({
    restartPolicy: z.enum(['Never', 'OnFailure']),
    nodeSelector: z.record(z.string()).optional(),
    affinity: affinity.optional(),
    containers: z.array(container).min(1),
    volumes: z
      .array(
        z
          .object({ name: dns1123, persistentVolumeClaim: z.object({ claimName: dns1123 }).strict().optional(), emptyDir: z.object({}).strict().optional() })
          .strict(),
      )
      .optional(),
  })
  .strict();
const job = z
  .object({
    apiVersion: z.literal('batch/v1'),
    kind: z.literal('Job'),
    metadata: z.object({ name: dns1123, namespace: dns1123.optional(), labels: labels.optional() }).strict(),
    spec: z
      .object({
        completionMode: z.enum(['NonIndexed', 'Indexed']).optional(),
        completions: z.number().int().min(1),
        parallelism: z.number().int().min(0),
        backoffLimit: z.number().int().min(0).optional(),
        backoffLimitPerIndex: z.number().int().min(0).optional(),
        maxFailedIndexes: z.number().int().min(0).optional(),
        ttlSecondsAfterFinished: z.number().int().min(0).optional(),
        activeDeadlineSeconds: z.number().int().min(1).optional(),
        template: z.object({ metadata: z.object({ labels }).strict(), spec: podSpec }).strict(),
      })
      .strict()
      // The API's own validation rules for these fields:
      .refine((s) => s.backoffLimitPerIndex === undefined || s.completionMode === 'Indexed', 'backoffLimitPerIndex requires completionMode Indexed')
      .refine((s) => s.backoffLimitPerIndex === undefined || s.template.spec.restartPolicy === 'Never', 'backoffLimitPerIndex requires restartPolicy Never')
      .refine((s) => s.maxFailedIndexes === undefined || s.backoffLimitPerIndex !== undefined, 'maxFailedIndexes requires backoffLimitPerIndex')
      .refine((s) => s.maxFailedIndexes === undefined || s.maxFailedIndexes <= s.completions, 'maxFailedIndexes <= completions')
      .refine((s) => s.completionMode !== 'Indexed' || s.completions <= 100000, 'Indexed completions <= 100000'),
  })
  .strict();

// v1 Service as far as the manifests use it: a ClusterIP Service selecting the time server's pod.
const service = z
  .object({
    apiVersion: z.literal('v1'),
    kind: z.literal('Service'),
    metadata: z.object({ name: dns1123, namespace: dns1123.optional(), labels: labels.optional() }).strict(),
    spec: z
      .object({
        selector: labels,
        ports: z
          .array(
            z
              .object({
                name: z.string().max(15).optional(),
                port: z.number().int().min(1).max(65535),
                targetPort: z.number().int().min(1).max(65535),
                protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
              })
              .strict(),
          )
          .min(1),
      })
      .strict(),
  })
  .strict();

function check(doc: unknown): z.infer<typeof job> {
  const r = job.safeParse(doc);
  assert.ok(r.success, r.success ? '' : JSON.stringify(r.error.issues));
  return r.data;
}

test('kubernetes: a time server (Service + Job) with a start barrier, the shards as an Indexed Job and a failing-fast merge Job, valid', () => {
  const o = resolveLaunchOptions(
    'kubernetes',
    {
      shards: 3,
      image: 'ghcr.io/x/splitbench:1',
      nodeSelector: ['pool=cpu'],
      cpus: 4,
      mem: '8Gi',
      runUuid: 'abcdef12-0000-0000-0000-000000000000',
      splitbench: '/opt/sb/bin/splitbench',
      mergeDeadlineS: 3600,
      maxOffsetMs: 5,
      namespace: 'bench',
    },
    ['replay', '--trace', 'coding', '--url', 'http://vllm:8000'],
  );
  const m = kubernetesManifests(o);
  const docs = parseAllDocuments(m.yaml).map((d) => d.toJS() as unknown);
  assert.equal(docs.length, 4);
  const svcR = service.safeParse(docs[0]);
  assert.ok(svcR.success, svcR.success ? '' : JSON.stringify(svcR.error.issues));
  const svc = svcR.data;
  const time = check(docs[1]);
  const j = check(docs[2]);
  const merge = check(docs[3]);
  // The Service reaches exactly the time server's pod.
  assert.deepEqual(svc.spec.selector, time.spec.template.metadata.labels);
  assert.equal(svc.metadata.name, 'splitbench-replay-abcdef12-time');
  const tc = time.spec.template.spec.containers[0]!;
  assert.equal(tc.ports![0]!.containerPort, svc.spec.ports[0]!.targetPort);
  assert.match(
    tc.command![2]!,
    /exec \/opt\/sb\/bin\/splitbench time-server --host 0\.0\.0\.0 --port 18780 --barrier 3 --barrier-lead-s 10 --barrier-timeout-s 1800 --exit-when "\/results\/abcdef12-.*\/done"/,
  );
  assert.equal(j.spec.completionMode, 'Indexed');
  assert.equal(j.spec.completions, 3);
  assert.equal(j.spec.parallelism, 3, 'every shard at once');
  assert.equal(j.spec.backoffLimitPerIndex, 0, 'a retried shard would be late');
  const c = j.spec.template.spec.containers[0]!;
  assert.equal(c.image, 'ghcr.io/x/splitbench:1');
  assert.deepEqual(c.env, [{ name: 'SPLITBENCH_SHARDS', value: '3' }]);
  // No start instant baked in at generation time: the shards meet at the barrier once all are running.
  assert.match(
    c.command![2]!,
    /\/opt\/sb\/bin\/splitbench replay --trace coding --url http:\/\/vllm:8000 --shard auto --start-at barrier --time-url http:\/\/splitbench-replay-abcdef12-time\.bench\.svc:18780\/time --run-uuid abcdef12-0000-0000-0000-000000000000 --db \/scratch\/shard\.db/,
  );
  assert.doesNotMatch(m.yaml, /--start-at \d/);
  assert.match(c.command![2]!, /failed-\$JOB_COMPLETION_INDEX/);
  assert.deepEqual(j.spec.template.spec.nodeSelector, { pool: 'cpu' });
  assert.equal(j.spec.template.spec.affinity!.nodeAffinity, undefined, 'GPU-node avoidance is optional (off by default)');
  assert.ok(j.spec.template.spec.affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution.length === 1, 'spread preferred, never blocking');
  assert.deepEqual(c.resources, { requests: { cpu: '4', memory: '8Gi' }, limits: { cpu: '4', memory: '8Gi' } });
  assert.equal(merge.spec.completionMode, undefined);
  assert.equal(merge.spec.backoffLimit, 0);
  const ms = merge.spec.template.spec.containers[0]!.command![2]!;
  assert.match(ms, /failed-\* .*exit 1/);
  assert.match(ms, /-ge 3600 \]; then/);
  assert.match(
    ms,
    /\/opt\/sb\/bin\/splitbench merge \/scratch\/in\/shard-\*\.db --out \/scratch\/run\.db --max-offset-ms 5 && cp \/scratch\/run\.db "\/results\/abcdef12-[^"]*\/\.run\.db\.tmp" && mv /,
  );
  assert.doesNotMatch(m.yaml, /[&*]a\d/, 'no YAML anchors');
  // Every container's shell script parses in a POSIX sh.
  const dir = tempDir();
  for (const [k, doc] of [time, j, merge].entries()) {
    const f = path.join(dir, `c${k}.sh`);
    writeFileSync(f, doc.spec.template.spec.containers[0]!.command![2]!);
    execFileSync('sh', ['-n', f]);
  }
  // The image default names this version (what the Containerfile builds), and GPU avoidance can be asked for.
  const d = resolveLaunchOptions('kubernetes', { shards: 2, avoidGpuNodes: true }, ['replay', '--trace', 'coding', '--url', 'http://vllm:8000']);
  const dm = kubernetesManifests(d);
  const dj = check(dm.job);
  assert.equal(dj.spec.template.spec.containers[0]!.image, `splitbench:${VERSION}`);
  assert.equal(
    dj.spec.template.spec.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]!.matchExpressions[0]!.key,
    'nvidia.com/gpu.present',
  );
  assert.match(
    String((dm.job as { spec: { template: { spec: { containers: { command: string[] }[] } } } }).spec.template.spec.containers[0]!.command[2]),
    / splitbench replay /,
  );
});

test('kubernetes: the merge Job fails at once when a shard failed, and after its deadline naming the missing shards', async () => {
  const dir = tempDir();
  const o = resolveLaunchOptions('kubernetes', { shards: 2, sharedDir: dir, mergeDeadlineS: 1, runUuid: 'feedbeef-0000-0000-0000-000000000000' }, [
    'replay',
    '--trace',
    'coding',
    '--url',
    'http://vllm:8000',
  ]);
  const script = check(kubernetesManifests(o).merge).spec.template.spec.containers[0]!.command![2]!;
  const run = (): Promise<{ code: number; stderr: string }> =>
    new Promise((resolve) => {
      execFile('sh', ['-c', script], (e, _out, stderr) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stderr }));
    });
  const shared = path.join(dir, o.runUuid);
  mkdirSync(shared, { recursive: true });
  writeFileSync(path.join(shared, 'shard-0.db'), '');
  writeFileSync(path.join(shared, 'failed-1'), 'shard 1 exited 4 on pod-b\n');
  const t0 = Date.now();
  const failed = await run();
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /splitbench merge: failed, nothing merged: shard 1 exited 4 on pod-b/);
  assert.ok(Date.now() - t0 < 4000, 'at once, not after a poll');
  assert.ok(existsSync(path.join(shared, 'done')), 'the time server is told to stop');
  rmSync(path.join(shared, 'failed-1'));
  const late = await run();
  assert.equal(late.code, 1);
  assert.match(late.stderr, /splitbench merge: no output after 1 s from index\(es\) 1 of 2 \(evicted, unschedulable or still running/);
});

test('kubernetes: the start barrier the manifests rely on releases every shard at one instant, after the last arrives', async () => {
  const t = await startTimeServer({ barrier: { count: 3, leadMs: 200, timeoutMs: 5000, holdMs: 100 } });
  try {
    const first = [awaitBarrier(t.url, 0), awaitBarrier(t.url, 2)];
    await new Promise((r) => setTimeout(r, 300)); // held past one 202 "waiting" answer
    const before = Date.now();
    const last = await awaitBarrier(t.url, 1);
    const all = [...(await Promise.all(first)), last];
    assert.equal(new Set(all).size, 1, 'one start instant for all');
    assert.ok(all[0]! >= before + 150, 'the start instant is fixed after the last arrival, plus the lead');
    assert.equal(await awaitBarrier(t.url, 1), all[0], 'a late asker gets the same instant (and will be late)');
    await assert.rejects(awaitBarrier(t.url, 3), /expected \?shard=i with i in 0\.\.2/);
  } finally {
    await t.close();
  }
  const lone = await startTimeServer({ barrier: { count: 2, leadMs: 0, timeoutMs: 300, holdMs: 1000 } });
  try {
    await assert.rejects(awaitBarrier(lone.url, 0), /start barrier: 1 of 2 shards arrived within 0 s of the first; missing shard 1/);
  } finally {
    await lone.close();
  }
  const plain = await startTimeServer();
  try {
    await assert.rejects(awaitBarrier(plain.url, 0), /has no \/barrier \(start the time server with --barrier N\)/);
  } finally {
    await plain.close();
  }
});

test('kubernetes: sweep chunks with parallelism and per-index retries; a broken manifest would be caught', () => {
  const o = resolveLaunchOptions('kubernetes', { chunks: 8, parallel: 3 }, ['sweep', '--trace', 'coding', '--rates', '1,2']);
  const { job: jb, yaml } = kubernetesManifests(o);
  const j = check(parseAllDocuments(yaml)[0]!.toJS());
  assert.deepEqual([j.spec.completions, j.spec.parallelism, j.spec.backoffLimitPerIndex], [8, 3, 2]);
  assert.match(
    j.spec.template.spec.containers[0]!.command![2]!,
    /--plan \/results\/.*\/plan\.json --chunk auto --db \/scratch\/chunk\.db --copy-db-to "\/results\/[^"]*\/chunk-\$JOB_COMPLETION_INDEX\.db"/,
  );
  assert.equal(parseAllDocuments(yaml).length, 2, 'chunks need no time server');
  check(parseAllDocuments(yaml)[1]!.toJS());
  assert.deepEqual(j.spec.template.spec.containers[0]!.env, [{ name: 'SPLITBENCH_CHUNKS', value: '8' }]);
  // The schema is not a rubber stamp: the API rejects per-index backoff with restartPolicy OnFailure.
  const bad = structuredClone(jb) as { spec: { template: { spec: { restartPolicy: string } } } };
  bad.spec.template.spec.restartPolicy = 'OnFailure';
  assert.equal(job.safeParse(bad).success, false);
});

test('slurm: shard script and chunk array parse in bash and carry the directives', async () => {
  const dir = tempDir();
  const o = resolveLaunchOptions('slurm', { shards: 4, exclude: 'gpu[01-04]', cpus: 2, mem: '2G', runUuid: 'u-1', maxOffsetMs: 3 }, [
    'replay',
    '--trace',
    "it's.csv",
    '--url',
    'http://h:8000',
  ]);
  const s = slurmScript(o);
  // One shard per node, CPUs passed to srun explicitly (Slurm >= 22.05 does not inherit --cpus-per-task).
  for (const d of ['--nodes=4', '--ntasks=4', '--ntasks-per-node=1', '--cpus-per-task=2', '--mem=2G', '--exclude=gpu\\[01-04\\]'])
    assert.match(s, new RegExp(`^#SBATCH ${d}$`, 'm'));
  assert.match(s, /^srun --ntasks=4 --ntasks-per-node=1 --cpus-per-task=2 /m);
  assert.match(s, /time-server --host 0\.0\.0\.0 --port 0 --port-file "\$PORT_FILE" &/);
  assert.match(s, /--shard auto --start-at "\$START_AT" --run-uuid "\$RUN_UUID" --time-url "\$TIME_URL"/);
  assert.match(s, /merge "\$MERGE_DIR"\/shard-\*\.db --out "\$MERGE_DIR\/out\.db" --max-offset-ms 3$/m);
  assert.match(s, /^OUT="\$SHARED\/run\.db"$/m);
  assert.match(s, /mv -f "\$OUT\.tmp-\$RUN_UUID" "\$OUT"/);
  const two = slurmScript(resolveLaunchOptions('slurm', { shards: 5, perNode: 2, mem: '1.5G' }, ['replay', '--trace', 'coding', '--url', 'http://h:8000']));
  for (const d of ['--nodes=3', '--ntasks=5', '--ntasks-per-node=2', '--mem=3G']) assert.match(two, new RegExp(`^#SBATCH ${d}$`, 'm'));
  const f = path.join(dir, 'shards.sbatch');
  writeFileSync(f, s);
  execFileSync('bash', ['-n', f]);
  const a = slurmScript(resolveLaunchOptions('slurm', { chunks: 4, parallel: 2, constraint: 'cpuonly' }, ['sweep', '--trace', 'coding', '--rates', '1,2']));
  assert.match(a, /^#SBATCH --array=0-3%2$/m);
  assert.match(a, /^#SBATCH --constraint=cpuonly$/m);
  assert.match(a, /--dependency=afterok:"\$jid" --kill-on-invalid-dep=yes/);
  assert.match(a, /--db "\$LOCAL" --copy-db-to "splitbench-shared\/splitbench-sweep\.chunks"\/chunk-\$SLURM_ARRAY_JOB_ID-\$SLURM_ARRAY_TASK_ID\.db$/m);
  assert.match(a, /--chunk auto --chunk-count 4/);
  writeFileSync(f, a);
  execFileSync('bash', ['-n', f]);

  // CLI: bad combinations are one-line usage errors.
  const r1 = await runCli(['launch', 'slurm', '--shards', '2', '--', 'replay', '--trace', 'x', '--db', 'y.db']);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /--db: launch sets it for every shard; leave it out/);
  const r2 = await runCli(['launch', 'kubernetes', '--shards', '2', '--exclude', 'n1', '--', 'replay', '--trace', 'x']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /--exclude: Slurm only/);
  const r5 = await runCli(['launch', 'slurm', '--shards', '2', '--', 'replay', '--trace', 'x', '--time-url', 'http://t:1']);
  assert.equal(r5.code, 2);
  assert.match(r5.stderr, /--time-url: launch sets it for every shard; leave it out/);
  const r6 = await runCli(['launch', 'slurm', '--chunks', '2', '--avoid-gpu-nodes', '--merge-deadline-s', '60', '--', 'sweep', '--trace', 'x']);
  assert.equal(r6.code, 2);
  assert.match(r6.stderr, /--merge-deadline-s: Kubernetes only.*--avoid-gpu-nodes: Kubernetes only/);
  const r3 = await runCli(['launch', 'slurm', '--', 'replay']);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /give --shards N .* or --chunks K/);
  const out = path.join(dir, 'job.yaml');
  const r4 = await runCli(['launch', 'kubernetes', '--chunks', '2', '--file', out, '--', 'sweep', '--trace', 'coding', '--rates', '1']);
  assert.equal(r4.code, 0, r4.stderr);
});
