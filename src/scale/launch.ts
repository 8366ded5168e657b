/**
 * `splitbench launch slurm|kubernetes`: ready-to-submit launch files. splitbench ships no scheduler of its
 * own; Slurm and Kubernetes start the copies.
 *
 * Slurm
 * - `--shards N -- replay ...`: an sbatch script with one shard per node by default (`--nodes`,
 *   `--ntasks-per-node`, CPUs passed to `srun`); a `splitbench time-server` on the first allocated node is
 *   every shard's clock reference; shards write node-locally and copy their stores to the shared folder;
 *   the merge runs on local disk (with `--max-offset-ms`) and is moved into place.
 * - `--chunks K [--parallel P] -- sweep|provision ...`: an array script `--array=0-(K-1)%P` (`--chunk auto`
 *   from SLURM_ARRAY_TASK_ID), chunk stores copied back with `--copy-db-to`; run it with `bash FILE`: it
 *   submits itself as the array, then the collect job (`--dependency=afterok --kill-on-invalid-dep=yes`).
 * - Placement: `--exclude NODES` / `--constraint FEATURE` keep load generators off the GPU nodes.
 *
 * Kubernetes
 * - Shards: a time server Job + Service (clock reference and start barrier: shards agree on the start once
 *   all are running), an Indexed Job, and a merge Job that fails when an index fails or after a deadline.
 * - Chunks: an Indexed Job and the same fail-fast merge Job running `--collect`.
 * - Placement: `--node-selector k=v`, optional `--avoid-gpu-nodes`, a preferred pod anti-affinity spreading
 *   the load generators over hosts. Image: `--image` (src/scale/Containerfile builds it).
 */
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { ConfigError } from '../errors.js';
import { Problems } from '../flagspec.js';
import type { LaunchFlags } from './options.js';
import { VERSION } from '../version.js';

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
  /** ms between the launch's start (Slurm: the batch script's; Kubernetes: the start barrier's release) and the shards' shared start. */
  readonly leadMs: number;
  /** Kubernetes: seconds the merge Job waits for every index (then fails naming the missing ones); the Jobs' deadline. */
  readonly mergeDeadlineS: number;
  /** Kubernetes: keep the pods off nodes labelled nvidia.com/gpu.present. */
  readonly avoidGpuNodes: boolean;
  /** The merged store (Slurm default: run.db in the run's shared folder, one file per run). */
  readonly out?: string;
  /** Slurm: shards per node (default 1: one per node). */
  readonly perNode: number;
  /** Passed to `splitbench merge --max-offset-ms` (default: merge's own, 1 ms). */
  readonly maxOffsetMs?: number;
  readonly name: string;
  /** The splitbench command on the nodes. */
  readonly command: string;
  /** The replay, sweep or provision arguments after `--`. */
  readonly args: readonly string[];
  readonly runUuid: string;
}

/** Flags launch adds itself; the passthrough arguments must not carry them. */
const OWNED: Record<string, readonly string[]> = {
  replay: ['--shard', '--shard-count', '--start-at', '--run-uuid', '--time-url', '--db', '--procs', '--json'],
  sweep: ['--plan', '--chunk', '--chunk-count', '--collect', '--db', '--copy-db-to', '--json'],
  provision: ['--plan', '--chunk', '--chunk-count', '--collect', '--db', '--copy-db-to', '--json'],
};

/** Commands a plan split into chunks can run. */
const CHUNKED = ['sweep', 'provision'] as const;
type LaunchKind = 'replay' | (typeof CHUNKED)[number];

function checkArgs(o: Pick<LaunchOptions, 'shards' | 'chunks' | 'args'>): LaunchKind {
  const cmd = o.args[0];
  const want: LaunchKind | undefined =
    o.shards !== undefined ? (cmd === 'replay' ? 'replay' : undefined) : (CHUNKED as readonly string[]).includes(cmd ?? '') ? (cmd as LaunchKind) : undefined;
  if (want === undefined) {
    throw new ConfigError(
      `${o.shards !== undefined ? '--shards launches a replay' : '--chunks launches a sweep or a provision'}: give \`-- ${o.shards !== undefined ? 'replay' : 'sweep|provision'} <its arguments>\` after the launch flags (got ${cmd === undefined ? 'nothing' : `'${cmd}'`})`,
      { path: '--' },
    );
  }
  for (const a of o.args.slice(1)) {
    const flag = a.split('=')[0]!;
    if (OWNED[want]!.includes(flag))
      throw new ConfigError(`${flag}: launch sets it for every ${o.shards !== undefined ? 'shard' : 'chunk'}; leave it out`, { path: '--' });
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

/** `--mem` per task times the tasks on one node, in the same unit (Slurm's --mem is per node). */
function memPerNode(mem: string, tasks: number): string {
  if (tasks === 1) return mem;
  const m = /^(\d+(?:\.\d+)?)(.*)$/.exec(mem)!;
  return `${Math.ceil(Number(m[1]) * tasks)}${m[2]}`;
}

export function slurmScript(o: LaunchOptions): string {
  const kind = checkArgs(o);
  const head = [
    '#!/bin/bash',
    `# Written by \`splitbench launch slurm\`. ${kind === 'replay' ? 'Submit with: sbatch THIS_FILE' : 'Submit with: bash THIS_FILE (submits the array, then the merge job depending on it)'}`,
    `#SBATCH --job-name=${o.name}`,
  ];
  const place = [
    `#SBATCH --output=${o.name}-%${kind === 'replay' ? 'j' : 'A_%a'}.out`,
    ...(o.exclude ? [`#SBATCH --exclude=${o.exclude}`] : []),
    ...(o.constraint ? [`#SBATCH --constraint=${o.constraint}`] : []),
  ];
  const nodeTmp = 'NODE_TMP=${SLURM_TMPDIR:-${TMPDIR:-/tmp}}';
  if (kind === 'replay') {
    const N = o.shards!;
    const K = Math.min(o.perNode, N);
    const nodes = Math.ceil(N / K);
    const timeArg = ' --time-url "$TIME_URL"';
    const shardCmd =
      `LOCAL=$NODE_TMP/splitbench-$RUN_UUID-$SLURM_PROCID; rc=0; $SB ${line(o.args)} --shard auto --start-at "$START_AT" --run-uuid "$RUN_UUID"${timeArg} --db "$LOCAL.db" || rc=$?; ` +
      `if [ -f "$LOCAL.db" ]; then cp "$LOCAL.db" "$SHARED/.shard-$SLURM_PROCID.db.tmp" && mv "$SHARED/.shard-$SLURM_PROCID.db.tmp" "$SHARED/shard-$SLURM_PROCID.db"; fi; ` +
      `rm -f "$LOCAL.db" "$LOCAL.db-wal" "$LOCAL.db-shm"; exit $rc`;
    return [
      ...head,
      '# One shard per task; by default one task per node (load generators do not share a node, its CPUs or its --mem).',
      `#SBATCH --nodes=${nodes}`,
      `#SBATCH --ntasks=${N}`,
      `#SBATCH --ntasks-per-node=${K}`,
      `#SBATCH --cpus-per-task=${o.cpus}`,
      `#SBATCH --mem=${memPerNode(o.mem, K)}`,
      ...place,
      'set -euo pipefail',
      `SB=${shq(o.command)}`,
      `RUN_UUID=${shq(o.runUuid)}`,
      `SHARED=${dq(o.sharedDir)}/$RUN_UUID`,
      `OUT=${o.out === undefined ? '"$SHARED/run.db"' : dq(o.out)}`,
      nodeTmp,
      'mkdir -p "$SHARED"',
      ...[
        '# The clock reference: a time server on this, the first allocated node; every shard measures its offset to it.',
        'PORT_FILE="$NODE_TMP/splitbench-$RUN_UUID.time-port"',
        'rm -f "$PORT_FILE"',
        '$SB time-server --host 0.0.0.0 --port 0 --port-file "$PORT_FILE" &',
        'TIME_PID=$!',
        'MERGE_DIR="$NODE_TMP/splitbench-$RUN_UUID-merge"',
        'trap \'kill "$TIME_PID" 2>/dev/null || true; rm -rf "$PORT_FILE" "$MERGE_DIR"\' EXIT',
        'for _ in $(seq 1 300); do [ -s "$PORT_FILE" ] && break; kill -0 "$TIME_PID" 2>/dev/null || break; sleep 0.1; done',
        '[ -s "$PORT_FILE" ] || { echo "splitbench: the time server did not start on $(hostname)" >&2; exit 1; }',
        'NODE=${SLURMD_NODENAME:-$(hostname -s)}',
        "TIME_HOST=$(scontrol show node \"$NODE\" 2>/dev/null | tr ' ' '\\n' | sed -n 's/^NodeAddr=//p' | head -1)",
        'TIME_URL="http://${TIME_HOST:-$NODE}:$(cat "$PORT_FILE")/time"',
        'echo "splitbench: clock reference $TIME_URL" >&2',
      ],
      "# One start instant for every shard: now + lead on this node's clock (shards correct theirs by the clock check).",
      `START_AT=$(( $(date +%s%3N) + ${o.leadMs} ))`,
      'export SB RUN_UUID SHARED START_AT NODE_TMP TIME_URL',
      '# Each shard writes its store on node-local disk (SQLite WAL needs it), then copies it to the shared folder.',
      `srun --ntasks=${N} --ntasks-per-node=${K} --cpus-per-task=${o.cpus} --kill-on-bad-exit=0 bash -c ${shq(shardCmd)} || echo "splitbench: some shards exited non-zero (see above)" >&2`,
      '# Merge on node-local disk, then move the merged store into place (never SQLite writes over the network filesystem).',
      'rm -rf "$MERGE_DIR" && mkdir -p "$MERGE_DIR"',
      'cp "$SHARED"/shard-*.db "$MERGE_DIR"/',
      'if [ -f "$OUT" ]; then cp "$OUT" "$MERGE_DIR/out.db"; fi',
      `$SB merge "$MERGE_DIR"/shard-*.db --out "$MERGE_DIR/out.db"${o.maxOffsetMs !== undefined ? ` --max-offset-ms ${o.maxOffsetMs}` : ''}`,
      'mkdir -p "$(dirname "$OUT")"',
      'cp "$MERGE_DIR/out.db" "$OUT.tmp-$RUN_UUID" && mv -f "$OUT.tmp-$RUN_UUID" "$OUT"',
      'echo "splitbench: run $RUN_UUID merged into $OUT" >&2',
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
    '#SBATCH --ntasks=1',
    `#SBATCH --cpus-per-task=${o.cpus}`,
    `#SBATCH --mem=${o.mem}`,
    ...place,
    'set -euo pipefail',
    'if [ -z "${SLURM_JOB_ID:-}" ]; then',
    '  # Not inside Slurm: submit this file as the array, then the merge depending on it; a failed chunk',
    '  # makes the dependency impossible, and --kill-on-invalid-dep cancels the merge instead of leaving it pending.',
    `  mkdir -p ${dq(o.sharedDir)}`,
    '  jid=$(sbatch --parsable "$0")',
    `  mid=$(sbatch --parsable --job-name=${o.name}-merge --dependency=afterok:"$jid" --kill-on-invalid-dep=yes --ntasks=1 --cpus-per-task=1 --mem=${o.mem} --output=${o.name}-merge-%j.out --wrap=${shq(collect)})`,
    '  echo "splitbench: submitted array job $jid and its merge job $mid"',
    '  exit 0',
    'fi',
    '# One array task = one chunk of the plan; configurations already done are skipped (a rerun redoes only what is missing).',
    '# Its store is written on node-local disk, then copied to the shared folder (the results name the copy).',
    nodeTmp,
    `LOCAL=$NODE_TMP/splitbench-${o.name}-$SLURM_ARRAY_JOB_ID-$SLURM_ARRAY_TASK_ID.db`,
    'trap \'rm -f "$LOCAL" "$LOCAL-wal" "$LOCAL-shm"\' EXIT',
    `${o.command} ${line(o.args)} --plan ${plan} --chunk auto --chunk-count ${K} --db "$LOCAL" --copy-db-to ${dq(`${o.sharedDir}/${o.name}.chunks`)}/chunk-$SLURM_ARRAY_JOB_ID-$SLURM_ARRAY_TASK_ID.db`,
    '',
  ].join('\n');
}

export interface K8sManifests {
  readonly job: Record<string, unknown>;
  readonly merge: Record<string, unknown>;
  /** Replays: the time server (clock reference and start barrier) as a one-pod Job, and its Service. */
  readonly time?: Record<string, unknown>;
  readonly service?: Record<string, unknown>;
  readonly yaml: string;
}

/** Port of the time server (Kubernetes Service and container). */
export const TIME_PORT = 18780;

/** Kubernetes: the start barrier fails this long after the first shard arrives (s), or at the merge deadline if sooner. */
export const BARRIER_TIMEOUT_S = 1800;

export function kubernetesManifests(o: LaunchOptions): K8sManifests {
  const kind = checkArgs(o);
  const n = kind === 'replay' ? o.shards! : o.chunks!;
  const id = o.runUuid
    .slice(0, 8)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '0');
  const jobName = `${o.name}-${id}`;
  const timeName = `${jobName}-time`;
  const labels = { 'app.kubernetes.io/name': 'splitbench', 'splitbench.io/run': id };
  const shared = `${o.sharedDir}/${o.runUuid}`;
  const sb = o.command;
  const deadline = o.mergeDeadlineS;
  const timeUrl = `http://${timeName}${o.namespace ? `.${o.namespace}.svc` : ''}:${TIME_PORT}/time`;
  // A shard or chunk that fails leaves failed-<index> (its last lines) on the shared volume: the merge Job fails on it.
  const failNote = (what: string): string =>
    `[ "$rc" = 0 ] || { echo "${what} $JOB_COMPLETION_INDEX exited $rc on $(hostname)" > "${shared}/failed-$JOB_COMPLETION_INDEX"; }`;
  const work =
    kind === 'replay'
      ? `${sb} ${line(o.args)} --shard auto --start-at barrier --time-url ${timeUrl} --run-uuid ${shq(o.runUuid)} --db /scratch/shard.db || rc=$?; ` +
        `if [ -f /scratch/shard.db ]; then cp /scratch/shard.db "${shared}/.shard-$JOB_COMPLETION_INDEX.tmp" && mv "${shared}/.shard-$JOB_COMPLETION_INDEX.tmp" "${shared}/shard-$JOB_COMPLETION_INDEX.db"; fi; ${failNote('shard')}`
      : `${sb} ${line(o.args)} --plan ${shq(`${shared}/plan.json`)} --chunk auto --db /scratch/chunk.db --copy-db-to "${shared}/chunk-$JOB_COMPLETION_INDEX.db" || rc=$?; ` +
        `if [ "$rc" = 0 ]; then touch "${shared}/chunk-$JOB_COMPLETION_INDEX.done"; fi; ${failNote('chunk')}`;
  const volumes = [
    { name: 'shared', persistentVolumeClaim: { claimName: o.pvc } },
    { name: 'scratch', emptyDir: {} },
  ];
  const mounts = [
    { name: 'shared', mountPath: o.sharedDir },
    { name: 'scratch', mountPath: '/scratch' },
  ];
  const resources = { requests: { cpu: String(o.cpus), memory: o.mem }, limits: { cpu: String(o.cpus), memory: o.mem } };
  const small = { requests: { cpu: '1', memory: o.mem }, limits: { cpu: '1', memory: o.mem } };
  const nodeSelector = Object.keys(o.nodeSelector).length > 0 ? { nodeSelector: { ...o.nodeSelector } } : {};
  // Load generators off the GPU nodes only when asked (a cluster of GPU nodes only would leave every pod Pending).
  const nodeAffinity = o.avoidGpuNodes
    ? {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'nvidia.com/gpu.present', operator: 'DoesNotExist' }] }],
          },
        },
      }
    : {};
  const affinity = {
    ...nodeAffinity,
    // Spread the load generators over hosts where the cluster can (preferred, never blocking).
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
      activeDeadlineSeconds: deadline,
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
  const waitFor = kind === 'replay' ? 'shard-*.db' : 'chunk-*.done';
  const finish =
    kind === 'replay'
      ? `mkdir -p /scratch/in && cp "${shared}"/shard-*.db /scratch/in/ && ${sb} merge /scratch/in/shard-*.db --out /scratch/run.db${o.maxOffsetMs !== undefined ? ` --max-offset-ms ${o.maxOffsetMs}` : ''} && ` +
        `cp /scratch/run.db "${shared}/.run.db.tmp" && mv "${shared}/.run.db.tmp" ${shq(`${shared}/${o.out ?? 'run.db'}`)}`
      : `${sb} ${line(o.args)} --plan ${shq(`${shared}/plan.json`)} --collect --json > "${shared}/.result.json.tmp" && mv "${shared}/.result.json.tmp" "${shared}/result.json"`;
  // Wait for every index's output; fail at once when one failed, or when the deadline passes (naming the missing ones).
  const waitScript = [
    'set -u',
    `cleanup() { ${kind === 'replay' ? `touch "${shared}/done"` : ':'}; }`,
    'trap cleanup EXIT',
    'start=$(date +%s)',
    `until [ "$(ls "${shared}"/${waitFor} 2>/dev/null | wc -l)" -ge ${n} ]; do`,
    `  if ls "${shared}"/failed-* >/dev/null 2>&1; then echo "splitbench merge: failed, nothing merged: $(cat "${shared}"/failed-* | tr '\\n' ';')" >&2; exit 1; fi`,
    `  if [ $(( $(date +%s) - start )) -ge ${deadline} ]; then`,
    `    missing=""; i=0; while [ $i -lt ${n} ]; do [ -e "${shared}/${kind === 'replay' ? 'shard-$i.db' : 'chunk-$i.done'}" ] || missing="$missing $i"; i=$((i+1)); done`,
    `    echo "splitbench merge: no output after ${deadline} s from index(es)$missing of ${n} (evicted, unschedulable or still running; see kubectl get pods -l splitbench.io/run=${id})" >&2; exit 1`,
    '  fi',
    '  sleep 5',
    'done',
    finish,
  ].join('\n');
  // A one-pod Job that runs to its end once (the merge, and the time server of a replay).
  const onePodJob = (name: string, podLabels: Record<string, string>, container: Record<string, unknown>, podVolumes: unknown[]): Record<string, unknown> => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(name),
    spec: {
      completions: 1,
      parallelism: 1,
      backoffLimit: 0,
      activeDeadlineSeconds: deadline + 600,
      ttlSecondsAfterFinished: 86400,
      template: {
        metadata: { labels: podLabels },
        spec: {
          restartPolicy: 'Never',
          ...nodeSelector,
          ...(o.avoidGpuNodes ? { affinity: nodeAffinity } : {}),
          containers: [container],
          volumes: podVolumes,
        },
      },
    },
  });
  const merge = onePodJob(
    `${jobName}-merge`,
    { ...labels, 'splitbench.io/role': 'merge' },
    { name: 'merge', image: o.image, command: ['/bin/sh', '-c', waitScript], resources: small, volumeMounts: mounts },
    volumes,
  );
  let time: Record<string, unknown> | undefined;
  let service: Record<string, unknown> | undefined;
  if (kind === 'replay') {
    const timeLabels = { ...labels, 'splitbench.io/role': 'time' };
    // The clock reference and start barrier: one pod, reached through a Service; it exits when the merge is done.
    time = onePodJob(
      timeName,
      timeLabels,
      {
        name: 'time',
        image: o.image,
        command: [
          '/bin/sh',
          '-c',
          `mkdir -p "${shared}" && exec ${sb} time-server --host 0.0.0.0 --port ${TIME_PORT} --barrier ${n} --barrier-lead-s ${o.leadMs / 1000} --barrier-timeout-s ${Math.min(deadline, BARRIER_TIMEOUT_S)} --exit-when "${shared}/done"`,
        ],
        ports: [{ name: 'time', containerPort: TIME_PORT, protocol: 'TCP' }],
        resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
        volumeMounts: [mounts[0]!],
      },
      [volumes[0]!],
    );
    service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(timeName),
      spec: { selector: timeLabels, ports: [{ name: 'time', port: TIME_PORT, targetPort: TIME_PORT, protocol: 'TCP' }] },
    };
  }
  const docs = [...(service ? [service, time!] : []), job, merge];
  const yaml =
    `# Written by \`splitbench launch kubernetes\`: kubectl apply -f THIS_FILE\n` +
    (kind === 'replay'
      ? `# The shards meet at the time server's start barrier (${timeName}) once all ${n} are running, and start ${o.leadMs / 1000} s later (the barrier fails ${Math.min(deadline, BARRIER_TIMEOUT_S)} s after the first arrives without all); the merge Job fails after ${deadline} s without every shard, or as soon as one fails.\n`
      : `# The merge Job fails after ${deadline} s without every chunk, or as soon as one fails.\n`) +
    docs.map((d) => stringify(d, { aliasDuplicateObjects: false })).join('---\n');
  return { job, merge, ...(time ? { time, service: service! } : {}), yaml };
}

/**
 * The checked launch flags (their problems in `problems`), the launcher and the command line after `--` into
 * LaunchOptions; every problem at once (one ConfigError).
 */
export function resolveLaunchOptions(launcher: string, f: LaunchFlags, args: readonly string[], problems = new Problems()): LaunchOptions {
  // Given on the command line: a value, or a bad one (its problem is in `problems`).
  const given = (v: unknown, flag: string): boolean => v !== undefined || problems.flagged(flag);
  if (!(LAUNCHERS as readonly string[]).includes(launcher)) problems.push(`launcher: expected ${LAUNCHERS.join(' or ')}, got '${launcher}'`);
  const int = (v: number | undefined, flag: string, min: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < min) {
      problems.push(`${flag}: expected an integer >= ${min}, got ${v}`);
      return undefined;
    }
    return v;
  };
  const shards = int(f.shards, '--shards', 1);
  const chunks = int(f.chunks, '--chunks', 1);
  const parallel = int(f.parallel, '--parallel', 1);
  const cpus = int(f.cpus, '--cpus', 1) ?? 2;
  // Neither given, or both the same number (and then both bad, or both good: one more problem below).
  const sameGiven = f.shards === f.chunks && !problems.flagged('--shards') && !problems.flagged('--chunks');
  if ((shards === undefined) === (chunks === undefined) && sameGiven)
    problems.push('give --shards N (a sharded replay) or --chunks K (a sweep or provision plan split into chunks)');
  if (shards !== undefined && chunks !== undefined) problems.push('--shards and --chunks: give one');
  if (parallel !== undefined && chunks === undefined) problems.push('--parallel: applies to --chunks (shards all run at once)');
  const mem = f.mem ?? (launcher === 'kubernetes' ? '4Gi' : '4G');
  if (!/^\d+(\.\d+)?([KMGT]i?|[kMGT])?$/.test(mem)) problems.push(`--mem: expected a size like 4G (Slurm) or 4Gi (Kubernetes), got '${mem}'`);
  const nodeSelector: Record<string, string> = {};
  const sel = f.nodeSelector ?? [];
  for (const s of sel) {
    const m = /^([A-Za-z0-9./_-]+)=([A-Za-z0-9._-]*)$/.exec(s);
    if (!m) problems.push(`--node-selector: expected key=value, got '${s}'`);
    else nodeSelector[m[1]!] = m[2]!;
  }
  if (sel.length > 0 && launcher === 'slurm') problems.push('--node-selector: Kubernetes only; on Slurm use --exclude NODES or --constraint FEATURE');
  for (const k of ['exclude', 'constraint'] as const)
    if (f[k] !== undefined && launcher === 'kubernetes') problems.push(`--${k}: Slurm only; on Kubernetes use --node-selector`);
  const lead = f.leadS ?? (launcher === 'kubernetes' ? 10 : 30);
  if (!(lead > 0)) problems.push(`--lead-s: expected seconds > 0, got ${lead}`);
  const perNode = int(f.perNode, '--per-node', 1) ?? 1;
  if (given(f.perNode, '--per-node') && (launcher !== 'slurm' || shards === undefined)) problems.push('--per-node: applies to Slurm --shards');
  const mergeDeadline = int(f.mergeDeadlineS, '--merge-deadline-s', 1) ?? 86400;
  if (given(f.mergeDeadlineS, '--merge-deadline-s') && launcher !== 'kubernetes')
    problems.push('--merge-deadline-s: Kubernetes only (Slurm fails the merge step itself)');
  if (f.avoidGpuNodes !== undefined && launcher !== 'kubernetes')
    problems.push('--avoid-gpu-nodes: Kubernetes only; on Slurm use --exclude NODES or --constraint FEATURE');
  const maxOffset = f.maxOffsetMs;
  if (maxOffset !== undefined && !(Number.isFinite(maxOffset) && maxOffset >= 0)) problems.push(`--max-offset-ms: expected a number >= 0, got ${maxOffset}`);
  if (given(maxOffset, '--max-offset-ms') && shards === undefined) problems.push('--max-offset-ms: applies to --shards (the merge of a replay)');
  if (f.out !== undefined && chunks !== undefined) problems.push('--out: applies to --shards (chunks write their results next to the plan in --shared-dir)');
  if (f.out !== undefined && launcher === 'kubernetes' && !/^[A-Za-z0-9._-]+$/.test(f.out))
    problems.push(`--out: on Kubernetes a file name in the run's folder of --shared-dir, got '${f.out}'`);
  const name = f.name ?? (shards !== undefined ? 'splitbench-replay' : args[0] === 'provision' ? 'splitbench-provision' : 'splitbench-sweep');
  if (!/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(name))
    problems.push(`--name: expected lowercase letters, digits and '-' (a Kubernetes name), got '${name}'`);
  try {
    if (shards !== undefined || chunks !== undefined)
      checkArgs({ ...(shards !== undefined ? { shards } : {}), ...(chunks !== undefined ? { chunks } : {}), args });
  } catch (e) {
    problems.push((e as Error).message);
  }
  problems.throwIfAny('launch');
  return Object.freeze({
    launcher: launcher as Launcher,
    ...(shards !== undefined ? { shards } : {}),
    ...(chunks !== undefined ? { chunks } : {}),
    ...(parallel !== undefined ? { parallel } : {}),
    image: f.image ?? `splitbench:${VERSION}`,
    cpus,
    mem,
    nodeSelector,
    ...(f.exclude !== undefined ? { exclude: f.exclude } : {}),
    ...(f.constraint !== undefined ? { constraint: f.constraint } : {}),
    sharedDir: f.sharedDir ?? (launcher === 'kubernetes' ? '/results' : 'splitbench-shared'),
    pvc: f.pvc ?? 'splitbench-results',
    ...(f.namespace !== undefined ? { namespace: f.namespace } : {}),
    leadMs: Math.round(lead * 1000),
    mergeDeadlineS: mergeDeadline,
    avoidGpuNodes: f.avoidGpuNodes === true,
    perNode,
    ...(maxOffset !== undefined ? { maxOffsetMs: maxOffset } : {}),
    ...(f.out !== undefined ? { out: f.out } : {}),
    name,
    command: f.splitbench ?? 'splitbench',
    args: [...args],
    runUuid: f.runUuid ?? randomUUID(),
  });
}

/** The launch file's text. */
export function launchFile(o: LaunchOptions): string {
  return o.launcher === 'slurm' ? slurmScript(o) : kubernetesManifests(o).yaml;
}
