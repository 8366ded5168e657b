/**
 * Launch files: Kubernetes manifests checked against the batch/v1 Job fields they use (types, enums and
 * the API's cross-field rules), Slurm scripts parsed by bash and carrying the right directives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { kubernetesManifests, resolveLaunchOptions, slurmScript } from '../../src/scale/index.js';
import { runCli, tempDir } from './helpers.js';

// batch/v1 Job as far as the manifests use it (Kubernetes API reference, v1.33). `.strict()`: an unknown
// (misspelled) field fails, as `kubectl apply --validate=strict` would.
const quantity = z.string().regex(/^\d+(\.\d+)?(m|[KMGTPE]i?|[kMGTPE])?$/, 'a Kubernetes quantity');
const dns1123 = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).max(63);
const labels = z.record(z.string().regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9._-]{1,63}$/), z.string().max(63).regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/));
const container = z
  .object({
    name: dns1123,
    image: z.string().min(1),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    env: z.array(z.object({ name: z.string().regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/), value: z.string() }).strict()).optional(),
    resources: z.object({ requests: z.record(quantity).optional(), limits: z.record(quantity).optional() }).strict(),
    volumeMounts: z.array(z.object({ name: dns1123, mountPath: z.string().startsWith('/') }).strict()).optional(),
  })
  .strict();
const nodeSelectorTerm = z.object({ matchExpressions: z.array(z.object({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']), values: z.array(z.string()).optional() }).strict()) }).strict();
const affinity = z
  .object({
    nodeAffinity: z.object({ requiredDuringSchedulingIgnoredDuringExecution: z.object({ nodeSelectorTerms: z.array(nodeSelectorTerm).min(1) }).strict() }).strict().optional(),
    podAntiAffinity: z
      .object({
        preferredDuringSchedulingIgnoredDuringExecution: z.array(
          z.object({ weight: z.number().int().min(1).max(100), podAffinityTerm: z.object({ topologyKey: z.string().min(1), labelSelector: z.object({ matchLabels: labels }).strict() }).strict() }).strict(),
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
    volumes: z.array(z.object({ name: dns1123, persistentVolumeClaim: z.object({ claimName: dns1123 }).strict().optional(), emptyDir: z.object({}).strict().optional() }).strict()).optional(),
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

function check(doc: unknown): z.infer<typeof job> {
  const r = job.safeParse(doc);
  assert.ok(r.success, r.success ? '' : JSON.stringify(r.error.issues));
  return r.data;
}

test('kubernetes: shards as an Indexed Job + a merge Job, valid against the Job fields they use', () => {
  const o = resolveLaunchOptions(
    { launcher: 'kubernetes', shards: 3, image: 'ghcr.io/x/splitbench:1', nodeSelector: ['pool=cpu'], cpus: 4, mem: '8Gi', runUuid: 'abcdef12-0000-0000-0000-000000000000' },
    ['replay', '--trace', 'coding', '--url', 'http://vllm:8000', '--time-url', 'http://vllm-time:8000'],
    1_767_225_600_000,
  );
  const m = kubernetesManifests(o);
  const docs = parseAllDocuments(m.yaml).map((d) => d.toJS() as unknown);
  assert.equal(docs.length, 2);
  const j = check(docs[0]);
  const merge = check(docs[1]);
  assert.equal(j.spec.completionMode, 'Indexed');
  assert.equal(j.spec.completions, 3);
  assert.equal(j.spec.parallelism, 3, 'every shard at once');
  assert.equal(j.spec.backoffLimitPerIndex, 0, 'a retried shard would be late');
  const c = j.spec.template.spec.containers[0]!;
  assert.deepEqual(c.env, [{ name: 'SPLITBENCH_SHARDS', value: '3' }]);
  assert.match(c.command![2]!, /splitbench replay --trace coding --url http:\/\/vllm:8000 --time-url http:\/\/vllm-time:8000 --shard auto --start-at 1767226200000 --run-uuid abcdef12-0000-0000-0000-000000000000 --db \/scratch\/shard\.db/);
  assert.deepEqual(j.spec.template.spec.nodeSelector, { pool: 'cpu' });
  assert.equal(j.spec.template.spec.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]!.matchExpressions[0]!.key, 'nvidia.com/gpu.present');
  assert.deepEqual(c.resources, { requests: { cpu: '4', memory: '8Gi' }, limits: { cpu: '4', memory: '8Gi' } });
  assert.equal(merge.spec.completionMode, undefined);
  assert.match(merge.spec.template.spec.containers[0]!.command![2]!, /-ge 3 \]; do sleep 5; done; splitbench merge "\/results\/abcdef12-.*"\/shard-\*\.db --out \/results\/splitbench\.db/);
  assert.doesNotMatch(m.yaml, /[&*]a\d/, 'no YAML anchors');
});

test('kubernetes: sweep chunks with parallelism and per-index retries; a broken manifest would be caught', () => {
  const o = resolveLaunchOptions({ launcher: 'kubernetes', chunks: 8, parallel: 3 }, ['sweep', '--trace', 'coding', '--rates', '1,2']);
  const { job: jb, yaml } = kubernetesManifests(o);
  const j = check(parseAllDocuments(yaml)[0]!.toJS());
  assert.deepEqual([j.spec.completions, j.spec.parallelism, j.spec.backoffLimitPerIndex], [8, 3, 2]);
  assert.match(j.spec.template.spec.containers[0]!.command![2]!, /--plan \/results\/.*\/plan\.json --chunk auto --db \/scratch\/chunk\.db/);
  assert.deepEqual(j.spec.template.spec.containers[0]!.env, [{ name: 'SPLITBENCH_CHUNKS', value: '8' }]);
  // The schema is not a rubber stamp: the API rejects per-index backoff with restartPolicy OnFailure.
  const bad = structuredClone(jb) as { spec: { template: { spec: { restartPolicy: string } } } };
  bad.spec.template.spec.restartPolicy = 'OnFailure';
  assert.equal(job.safeParse(bad).success, false);
});

test('slurm: shard script and chunk array parse in bash and carry the directives', async () => {
  const dir = tempDir();
  const o = resolveLaunchOptions({ launcher: 'slurm', shards: 4, exclude: 'gpu[01-04]', cpus: 2, mem: '2G', runUuid: 'u-1' }, ['replay', '--trace', "it's.csv", '--url', 'http://h:8000']);
  const s = slurmScript(o);
  assert.match(s, /^#SBATCH --ntasks=4$/m);
  assert.match(s, /^#SBATCH --exclude=gpu\[01-04\]$/m);
  assert.match(s, /--shard auto --start-at "\$START_AT" --run-uuid "\$RUN_UUID"/);
  assert.match(s, /merge "\$SHARED"\/shard-\*\.db --out results\/splitbench\.db/);
  const f = path.join(dir, 'shards.sbatch');
  writeFileSync(f, s);
  execFileSync('bash', ['-n', f]);
  const a = slurmScript(resolveLaunchOptions({ launcher: 'slurm', chunks: 4, parallel: 2, constraint: 'cpuonly' }, ['sweep', '--trace', 'coding', '--rates', '1,2']));
  assert.match(a, /^#SBATCH --array=0-3%2$/m);
  assert.match(a, /^#SBATCH --constraint=cpuonly$/m);
  assert.match(a, /--dependency=afterok:"\$jid"/);
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
  const r3 = await runCli(['launch', 'slurm', '--', 'replay']);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /give --shards N .* or --chunks K/);
  const out = path.join(dir, 'job.yaml');
  const r4 = await runCli(['launch', 'kubernetes', '--chunks', '2', '--file', out, '--', 'sweep', '--trace', 'coding', '--rates', '1']);
  assert.equal(r4.code, 0, r4.stderr);
});
