/**
 * `splitbench launch slurm|kubernetes`: ready-to-submit launch files. splitbench ships no scheduler of its
 * own; Slurm and Kubernetes start the copies.
 *
 * Slurm
 * - `--shards N -- replay ...`: an sbatch script with N tasks; one `srun` step runs every shard
 *   (`--shard auto` from SLURM_PROCID/SLURM_NTASKS) on node-local disk with one shared start instant and
 *   run uuid, each copies its store to the shared folder when done; then a merge step.
 * - `--chunks K [--parallel P] -- sweep|provision ...`: an array script `--array=0-(K-1)%P` (`--chunk auto`
 *   from SLURM_ARRAY_TASK_ID); run it with `bash FILE`: it submits itself as the array, then the merge
 *   (`sweep|provision --collect`) as a job depending on it (`--dependency=afterok`).
 * - Placement: `--exclude NODES` / `--constraint FEATURE` keep load generators off the GPU nodes.
 *
 * Kubernetes
 * - An Indexed Job (`completionMode: Indexed`, `completions` = shards or chunks, `backoffLimitPerIndex`,
 *   `restartPolicy: Never`) plus a merge Job that waits for every index's output on the shared volume.
 * - Placement: `--node-selector k=v`, a node anti-affinity to GPU nodes (`nvidia.com/gpu.present`), and a
 *   pod anti-affinity spreading the load generators over hosts.
 */
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { ConfigError } from '../errors.js';
import { DEFAULT_DB } from '../paths.js';

export const LAUNCHERS = ['slurm', 'kubernetes'] as const;
export type Launcher = (typeof LAUNCHERS)[number];

export interface LaunchOptions {
  readonly launcher: Launcher;
  /** Shards of one replay (exclusive with chunks). */
  readonly shards?: number;
  /** Chunks of one sweep or provision plan. */
  readonly chunks?: number;
  readonly parallel?: number;
  readonly image: string;
  readonly cpus: number;
  /** Memory per task: Slurm (e.g. 4G) or Kubernetes (e.g. 4Gi) units as given. */
  readonly mem: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly exclude?: string;
  readonly constraint?: string;
  /** Shared folder (Slurm) or mount path of the shared volume (Kubernetes) for stores and results. */
  readonly sharedDir: string;
  /** Kubernetes: the ReadWriteMany PersistentVolumeClaim mounted at sharedDir. */
  readonly pvc: string;
  readonly namespace?: string;
  /** ms between the launch's start and the shards' shared start (Slurm: from the batch script's start). */
  readonly leadMs: number;
  /** Kubernetes shards: the shared start instant (epoch ms), since pods start when they are scheduled. */
  readonly startAtMs?: number;
  /** The merged store. */
  readonly out: string;
  readonly name: string;
  /** The splitbench command on the nodes. */
  readonly command: string;
  /** The replay, sweep or provision arguments after `--`. */
  readonly args: readonly string[];
  readonly runUuid: string;
}

/** Flags launch adds itself; the passthrough arguments must not carry them. */
const OWNED: Record<string, readonly string[]> = {
  replay: ['--shard', '--shard-count', '--start-at', '--run-uuid', '--db', '--procs', '--json'],
  sweep: ['--plan', '--chunk', '--chunk-count', '--collect', '--db', '--json'],
  provision: ['--plan', '--chunk', '--chunk-count', '--collect', '--db', '--json'],
};

/** Commands a plan split into chunks can run. */
const CHUNKED = ['sweep', 'provision'] as const;
type LaunchKind = 'replay' | (typeof CHUNKED)[number];

function checkArgs(o: Pick<LaunchOptions, 'shards' | 'chunks' | 'args'>): LaunchKind {
  const cmd = o.args[0];
  const want: LaunchKind | undefined = o.shards !== undefined ? (cmd === 'replay' ? 'replay' : undefined) : (CHUNKED as readonly string[]).includes(cmd ?? '') ? (cmd as LaunchKind) : undefined;
  if (want === undefined) {
    throw new ConfigError(
      `${o.shards !== undefined ? '--shards launches a replay' : '--chunks launches a sweep or a provision'}: give \`-- ${o.shards !== undefined ? 'replay' : 'sweep|provision'} <its arguments>\` after the launch flags (got ${cmd === undefined ? 'nothing' : `'${cmd}'`})`,
      { path: '--' },
    );
  }
  for (const a of o.args.slice(1)) {
    const flag = a.split('=')[0]!;
    if (OWNED[want]!.includes(flag)) throw new ConfigError(`${flag}: launch sets it for every ${o.shards !== undefined ? 'shard' : 'chunk'}; leave it out`, { path: '--' });
  }
  return want;
}

/** Single-quote for POSIX sh. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const line = (args: readonly string[]): string => args.map(shq).join(' ');

/** Double-quote for sh, keeping $VAR expansion (for folders like /scratch/$USER). */
function dq(s: string): string {
  return `"${s.replace(/(["\\`])/g, '\\$1')}"`;
}

export function slurmScript(o: LaunchOptions): string {
  const kind = checkArgs(o);
  const head = [
    '#!/bin/bash',
    `# Written by \`splitbench launch slurm\`. ${kind === 'replay' ? 'Submit with: sbatch THIS_FILE' : 'Submit with: bash THIS_FILE (submits the array, then the merge job depending on it)'}`,
    `#SBATCH --job-name=${o.name}`,
    `#SBATCH --cpus-per-task=${o.cpus}`,
    `#SBATCH --mem=${o.mem}`,
    `#SBATCH --output=${o.name}-%${kind === 'replay' ? 'j' : 'A_%a'}.out`,
    ...(o.exclude ? [`#SBATCH --exclude=${o.exclude}`] : []),
    ...(o.constraint ? [`#SBATCH --constraint=${o.constraint}`] : []),
  ];
  if (kind === 'replay') {
    return [
      ...head,
      `#SBATCH --ntasks=${o.shards}`,
      'set -euo pipefail',
      `SB=${shq(o.command)}`,
      `RUN_UUID=${shq(o.runUuid)}`,
      `SHARED=${dq(o.sharedDir)}/$RUN_UUID`,
      'mkdir -p "$SHARED"',
      '# One start instant for every shard: now + lead, on this node\'s clock (shards correct theirs by the clock check).',
      `START_AT=$(( $(date +%s%3N) + ${o.leadMs} ))`,
      `export SB RUN_UUID SHARED START_AT`,
      '# Each shard writes its store on node-local disk (SQLite WAL needs it), then copies it to the shared folder.',
      `srun --ntasks=${o.shards} --kill-on-bad-exit=0 bash -c ${shq(
        `LOCAL=\${SLURM_TMPDIR:-\${TMPDIR:-/tmp}}/splitbench-$RUN_UUID-$SLURM_PROCID; rc=0; $SB ${line(o.args)} --shard auto --start-at "$START_AT" --run-uuid "$RUN_UUID" --db "$LOCAL.db" || rc=$?; cp "$LOCAL.db" "$SHARED/.shard-$SLURM_PROCID.db.tmp" && mv "$SHARED/.shard-$SLURM_PROCID.db.tmp" "$SHARED/shard-$SLURM_PROCID.db"; rm -f "$LOCAL.db" "$LOCAL.db-wal" "$LOCAL.db-shm"; exit $rc`,
      )} || echo "splitbench: some shards exited non-zero (see above); merging what finished" >&2`,
      `$SB merge "$SHARED"/shard-*.db --out ${shq(o.out)}`,
      '',
    ].join('\n');
  }
  const K = o.chunks!;
  const P = o.parallel ?? K;
  const plan = dq(`${o.sharedDir}/${o.name}.plan.json`);
  const collect = `${o.command} ${line(o.args)} --plan ${plan} --collect --json > ${dq(`${o.sharedDir}/${o.name}.result.json`)}`;
  return [
    ...head,
    `#SBATCH --array=0-${K - 1}%${P}`,
    'set -euo pipefail',
    'if [ -z "${SLURM_JOB_ID:-}" ]; then',
    '  # Not inside Slurm: submit this file as the array, then the merge depending on it.',
    `  mkdir -p ${dq(o.sharedDir)}`,
    '  jid=$(sbatch --parsable "$0")',
    `  sbatch --parsable --job-name=${o.name}-merge --dependency=afterok:"$jid" --output=${o.name}-merge-%j.out --wrap=${shq(collect)}`,
    '  echo "splitbench: submitted array job $jid and its merge"',
    '  exit 0',
    'fi',
    '# One array task = one chunk of the plan; configurations already done are skipped (a rerun redoes only what is missing).',
    `LOCAL=\${SLURM_TMPDIR:-\${TMPDIR:-/tmp}}/splitbench-${o.name}-$SLURM_ARRAY_JOB_ID-$SLURM_ARRAY_TASK_ID.db`,
    `${o.command} ${line(o.args)} --plan ${plan} --chunk auto --chunk-count ${K} --db "$LOCAL"`,
    '',
  ].join('\n');
}

export interface K8sManifests {
  readonly job: Record<string, unknown>;
  readonly merge: Record<string, unknown>;
  readonly yaml: string;
}

export function kubernetesManifests(o: LaunchOptions): K8sManifests {
  const kind = checkArgs(o);
  const n = kind === 'replay' ? o.shards! : o.chunks!;
  const id = o.runUuid.slice(0, 8).toLowerCase().replace(/[^a-z0-9]/g, '0');
  const jobName = `${o.name}-${id}`;
  const labels = { 'app.kubernetes.io/name': 'splitbench', 'splitbench.io/run': id };
  const shared = `${o.sharedDir}/${o.runUuid}`;
  const startAt = o.startAtMs ?? 0;
  const work =
    kind === 'replay'
      ? `splitbench ${line(o.args)} --shard auto --start-at ${startAt} --run-uuid ${shq(o.runUuid)} --db /scratch/shard.db || rc=$?; ` +
        `cp /scratch/shard.db "${shared}/.shard-$JOB_COMPLETION_INDEX.tmp" && mv "${shared}/.shard-$JOB_COMPLETION_INDEX.tmp" "${shared}/shard-$JOB_COMPLETION_INDEX.db"`
      : `splitbench ${line(o.args)} --plan ${shq(`${shared}/plan.json`)} --chunk auto --db /scratch/chunk.db || rc=$?; ` +
        `touch "${shared}/chunk-$JOB_COMPLETION_INDEX.done"`;
  const volumes = [
    { name: 'shared', persistentVolumeClaim: { claimName: o.pvc } },
    { name: 'scratch', emptyDir: {} },
  ];
  const mounts = [
    { name: 'shared', mountPath: o.sharedDir },
    { name: 'scratch', mountPath: '/scratch' },
  ];
  const resources = { requests: { cpu: String(o.cpus), memory: o.mem }, limits: { cpu: String(o.cpus), memory: o.mem } };
  const nodeSelector = Object.keys(o.nodeSelector).length > 0 ? { nodeSelector: { ...o.nodeSelector } } : {};
  const affinity = {
    // Load generators off the GPU nodes, and spread over hosts.
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'nvidia.com/gpu.present', operator: 'DoesNotExist' }] }],
      },
    },
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels } } },
      ],
    },
  };
  const meta = (name: string): Record<string, unknown> => ({ name, ...(o.namespace ? { namespace: o.namespace } : {}), labels });
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(jobName),
    spec: {
      completionMode: 'Indexed',
      completions: n,
      parallelism: kind === 'replay' ? n : (o.parallel ?? n),
      // A retried shard would start after the shared instant (late; merge rejects it): no retries for shards.
      backoffLimitPerIndex: kind === 'replay' ? 0 : 2,
      maxFailedIndexes: kind === 'replay' ? 0 : n,
      ttlSecondsAfterFinished: 86400,
      template: {
        metadata: { labels: { ...labels, 'splitbench.io/role': kind === 'replay' ? 'shard' : 'chunk' } },
        spec: {
          restartPolicy: 'Never',
          ...nodeSelector,
          affinity,
          containers: [
            {
              name: 'splitbench',
              image: o.image,
              command: ['/bin/sh', '-c', `set -u; rc=0; mkdir -p "${shared}"; ${work}; exit $rc`],
              env: [{ name: kind === 'replay' ? 'SPLITBENCH_SHARDS' : 'SPLITBENCH_CHUNKS', value: String(n) }],
              resources,
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
  const waitFor = kind === 'replay' ? `shard-*.db` : `chunk-*.done`;
  const finish =
    kind === 'replay'
      ? `splitbench merge "${shared}"/shard-*.db --out ${shq(`${o.sharedDir}/${o.out}`)}`
      : `splitbench ${line(o.args)} --plan ${shq(`${shared}/plan.json`)} --collect --json > "${shared}/result.json"`;
  const merge = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(`${jobName}-merge`),
    spec: {
      completions: 1,
      parallelism: 1,
      backoffLimit: 2,
      ttlSecondsAfterFinished: 86400,
      template: {
        metadata: { labels: { ...labels, 'splitbench.io/role': 'merge' } },
        spec: {
          restartPolicy: 'Never',
          ...nodeSelector,
          affinity: { nodeAffinity: affinity.nodeAffinity },
          containers: [
            {
              name: 'merge',
              image: o.image,
              command: ['/bin/sh', '-c', `until [ "$(ls "${shared}"/${waitFor} 2>/dev/null | wc -l)" -ge ${n} ]; do sleep 5; done; ${finish}`],
              resources: { requests: { cpu: '1', memory: o.mem }, limits: { cpu: '1', memory: o.mem } },
              volumeMounts: [mounts[0]],
            },
          ],
          volumes: [volumes[0]],
        },
      },
    },
  };
  const yaml = `# Written by \`splitbench launch kubernetes\`: kubectl apply -f THIS_FILE\n${kind === 'replay' ? `# The shards start together at ${new Date(startAt).toISOString()} (epoch ms ${startAt}): apply well before.\n` : ''}${stringify(job, { aliasDuplicateObjects: false })}---\n${stringify(merge, { aliasDuplicateObjects: false })}`;
  return { job, merge, yaml };
}

/** Validate the launch flags into LaunchOptions (one ConfigError listing every problem). */
export function resolveLaunchOptions(argv: Record<string, unknown>, args: readonly string[], now = Date.now()): LaunchOptions {
  const problems: string[] = [];
  const launcher = String(argv.launcher ?? '');
  if (!(LAUNCHERS as readonly string[]).includes(launcher)) problems.push(`launcher: expected ${LAUNCHERS.join(' or ')}, got '${launcher}'`);
  const int = (k: string, flag: string, min: number): number | undefined => {
    const v = argv[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      problems.push(`${flag}: expected an integer >= ${min}, got ${String(v)}`);
      return undefined;
    }
    return v;
  };
  const shards = int('shards', '--shards', 1);
  const chunks = int('chunks', '--chunks', 1);
  const parallel = int('parallel', '--parallel', 1);
  const cpus = int('cpus', '--cpus', 1) ?? 2;
  if ((shards === undefined) === (chunks === undefined) && argv.shards === argv.chunks) problems.push('give --shards N (a sharded replay) or --chunks K (a sweep or provision plan split into chunks)');
  if (shards !== undefined && chunks !== undefined) problems.push('--shards and --chunks: give one');
  if (parallel !== undefined && chunks === undefined) problems.push('--parallel: applies to --chunks (shards all run at once)');
  const mem = String(argv.mem ?? (launcher === 'kubernetes' ? '4Gi' : '4G'));
  if (!/^\d+(\.\d+)?([KMGT]i?|[kMGT])?$/.test(mem)) problems.push(`--mem: expected a size like 4G (Slurm) or 4Gi (Kubernetes), got '${mem}'`);
  const nodeSelector: Record<string, string> = {};
  const sel = argv.nodeSelector === undefined ? [] : Array.isArray(argv.nodeSelector) ? argv.nodeSelector : [argv.nodeSelector];
  for (const s of sel.map(String)) {
    const m = /^([A-Za-z0-9./_-]+)=([A-Za-z0-9._-]*)$/.exec(s);
    if (!m) problems.push(`--node-selector: expected key=value, got '${s}'`);
    else nodeSelector[m[1]!] = m[2]!;
  }
  if (sel.length > 0 && launcher === 'slurm') problems.push('--node-selector: Kubernetes only; on Slurm use --exclude NODES or --constraint FEATURE');
  for (const k of ['exclude', 'constraint'] as const) if (argv[k] !== undefined && launcher === 'kubernetes') problems.push(`--${k}: Slurm only; on Kubernetes use --node-selector`);
  const lead = argv.leadS === undefined ? (launcher === 'kubernetes' ? 600 : 30) : Number(argv.leadS);
  if (!(lead > 0)) problems.push(`--lead-s: expected seconds > 0, got ${String(argv.leadS)}`);
  const name = String(argv.name ?? (shards !== undefined ? 'splitbench-replay' : args[0] === 'provision' ? 'splitbench-provision' : 'splitbench-sweep'));
  if (!/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(name)) problems.push(`--name: expected lowercase letters, digits and '-' (a Kubernetes name), got '${name}'`);
  try {
    if (shards !== undefined || chunks !== undefined) checkArgs({ ...(shards !== undefined ? { shards } : {}), ...(chunks !== undefined ? { chunks } : {}), args });
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (problems.length > 0) {
    throw new ConfigError(problems.length === 1 ? problems[0]! : `${problems.length} problems: ${problems.join('; ')}`, { hint: 'run `splitbench launch --help` for the flags' });
  }
  return Object.freeze({
    launcher: launcher as Launcher,
    ...(shards !== undefined ? { shards } : {}),
    ...(chunks !== undefined ? { chunks } : {}),
    ...(parallel !== undefined ? { parallel } : {}),
    image: String(argv.image ?? 'splitbench:latest'),
    cpus,
    mem,
    nodeSelector,
    ...(argv.exclude !== undefined ? { exclude: String(argv.exclude) } : {}),
    ...(argv.constraint !== undefined ? { constraint: String(argv.constraint) } : {}),
    sharedDir: String(argv.sharedDir ?? (launcher === 'kubernetes' ? '/results' : 'splitbench-shared')),
    pvc: String(argv.pvc ?? 'splitbench-results'),
    ...(argv.namespace !== undefined ? { namespace: String(argv.namespace) } : {}),
    leadMs: Math.round(lead * 1000),
    ...(launcher === 'kubernetes' && shards !== undefined ? { startAtMs: now + Math.round(lead * 1000) } : {}),
    out: String(argv.out ?? (launcher === 'kubernetes' ? 'splitbench.db' : DEFAULT_DB)),
    name,
    command: String(argv.splitbench ?? 'splitbench'),
    args: [...args],
    runUuid: typeof argv.runUuid === 'string' ? argv.runUuid : randomUUID(),
  });
}

/** The launch file's text. */
export function launchFile(o: LaunchOptions): string {
  return o.launcher === 'slurm' ? slurmScript(o) : kubernetesManifests(o).yaml;
}
