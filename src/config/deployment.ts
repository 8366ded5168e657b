/**
 * Reading deployment descriptors (YAML; format in src/engine/deployment.ts and docs/engine.md): validated once
 * here (zod) into the engine's frozen `Deployment`, its `profileFile` read with it. Errors name the file, line
 * and field path. Bundled descriptors live in `workloads/deployments/<name>.yaml`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { yaml } from './yaml.js';
import { z } from 'zod';
import {
  DEPLOYMENT_BOUNDS,
  PERF_MODEL_KINDS,
  SCHEDULER_NAMES,
  type Deployment,
  type DeploymentOverrides,
  type PoolLimits,
  type PoolName,
  type PoolSpec,
} from '../engine/index.js';
import { ConfigError } from '../errors.js';
import { WORKLOADS_DIR } from '../paths.js';
import { loadProfileFile } from './profiles.js';
import { bundledSnapshot } from './snapshot.js';

export const DEPLOYMENTS_DIR = path.join(WORKLOADS_DIR, 'deployments');
const B = DEPLOYMENT_BOUNDS;

/**
 * An integer with thousands separators, as `toLocaleString('en-US')` writes it, without that call's ICU set-up
 * (~14 ms of CPU on first use, which building the schemas below would cost every command's start-up).
 */
const grouped = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** An integer in [min, max], the bound named in the message. */
const intIn = (min: number, max: number) =>
  z
    .number()
    .int()
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${grouped(max)} (the bound for this field)`);
const numIn = (max: number) =>
  z
    .number()
    .finite()
    .max(max, `must be at most ${grouped(max)} (the bound for this field)`);

const limitsSchema = z
  .object({
    maxBatchTokens: intIn(1, B.maxBatchTokens).optional(),
    maxBatchSize: intIn(1, B.maxBatchSize).optional(),
    blockTokens: intIn(1, B.blockTokens).optional(),
    maxPreemptions: intIn(0, B.maxPreemptions).optional(),
  })
  .strict();

const poolSchema = z
  .object({
    machine: z.string().min(1),
    count: intIn(0, B.machines),
    instance: limitsSchema.optional(),
  })
  .strict();

const schema = z
  .object({
    name: z.string().min(1).optional(),
    description: z.string().optional(),
    kind: z.enum(['monolithic', 'split']),
    model: z.string().min(1).default('bloom-176b'),
    perfModel: z.enum(PERF_MODEL_KINDS).default('auto'),
    /** A profile file (splitbench-profile/1, e.g. written by `splitbench profile`) for every machine; relative to this file. */
    profileFile: z.string().min(1).optional(),
    scheduler: z.string().min(1).optional(),
    pools: z.object({ prompt: poolSchema.optional(), token: poolSchema.optional(), mixed: poolSchema.optional() }).strict(),
    instance: limitsSchema.optional(),
    interconnect: z
      .object({
        bandwidthGbps: numIn(B.bandwidthGbps).positive().optional(),
        layerwiseMinPromptTokens: intIn(0, B.layerwiseMinPromptTokens).optional(),
        residueMs: numIn(B.residueMs).nonnegative().optional(),
      })
      .strict()
      .optional(),
    promptMaxPendingTokens: intIn(1, B.promptMaxPendingTokens).optional(),
    prefixCache: z.boolean().optional(),
  })
  .strict();

const DEFAULT_LIMITS: PoolLimits = { maxBatchTokens: 2048, maxBatchSize: 512, blockTokens: 16, maxPreemptions: 4 };

/** Names of the bundled deployments. */
export function listDeployments(): string[] {
  try {
    return fs
      .readdirSync(DEPLOYMENTS_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.slice(0, -5))
      .sort();
  } catch {
    return [];
  }
}

/** Resolve a bundled name or a file path to a file. */
export function resolveDeploymentFile(nameOrFile: string): string {
  const looksLikeFile = /\.ya?ml$/i.test(nameOrFile) || nameOrFile.includes('/') || nameOrFile.includes(path.sep);
  if (looksLikeFile) {
    if (!fs.existsSync(nameOrFile)) throw new ConfigError(`deployment file not found: ${nameOrFile}`, { path: '--deployment' });
    return nameOrFile;
  }
  const f = path.join(DEPLOYMENTS_DIR, `${nameOrFile}.yaml`);
  if (!fs.existsSync(f)) {
    throw new ConfigError(`unknown deployment '${nameOrFile}'`, {
      path: '--deployment',
      hint: `bundled deployments: ${listDeployments().join(', ')}; or pass a YAML file path`,
    });
  }
  return f;
}

/** Load, validate and resolve a deployment by bundled name or file path. */
export function loadDeployment(nameOrFile: string, overrides: DeploymentOverrides = {}): Deployment {
  const file = resolveDeploymentFile(nameOrFile);
  const fallbackName = path.basename(file).replace(/\.ya?ml$/i, '');
  // A bundled one by name: from the bundled snapshot (src/config/snapshot.ts), checked when it was made.
  const snap = file === path.join(DEPLOYMENTS_DIR, `${nameOrFile}.yaml`) ? bundledSnapshot()?.deployments[nameOrFile] : undefined;
  if (snap) return resolveDeployment(snapshotDoc(snap), file, overrides, fallbackName);
  return parseDeployment(fs.readFileSync(file, 'utf8'), file, overrides, fallbackName);
}

/** Validate deployment YAML text (`file` is used in error messages). */
export function parseDeployment(text: string, file: string, overrides: DeploymentOverrides = {}, fallbackName = 'deployment'): Deployment {
  return resolveDeployment(readDeploymentDoc(text, file), file, overrides, fallbackName);
}

/** A deployment file's checked fields (defaults applied) and the line of a field path (for errors and `origins`). */
interface DeploymentDoc {
  readonly data: z.infer<typeof schema>;
  readonly lineOf: (p: readonly (string | number)[]) => number;
}

/** The YAML text's fields, validated; errors name the file, line and field. */
function readDeploymentDoc(text: string, file: string): DeploymentDoc {
  const lineCounter = new (yaml().LineCounter)();
  const doc = yaml().parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = lineCounter.linePos(e.pos[0]).line;
    throw new ConfigError(`${file}:${line}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const lineOf = (p: readonly (string | number)[]): number => {
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n), true);
      if (yaml().isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return 1;
  };
  const raw = doc.toJS() as unknown;
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) {
    const msgs = parsed.error.issues.map((i) => {
      const p = i.path.join('.') || '(top level)';
      const extra = i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : '';
      return `${file}:${lineOf(i.path)}: ${p}: ${i.message}${extra}`;
    });
    throw new ConfigError(msgs.join('; '), { hint: 'see the deployment format in docs/engine.md (section "Cluster, schedulers, deployments")' });
  }
  return { data: parsed.data, lineOf };
}

/**
 * A bundled deployment as the snapshot holds it: the validated fields, and the line of every field path the
 * file has ('' the document, 'pools.mixed.machine' a field), so a path resolves to the line the YAML would give.
 */
export interface DeploymentSnapshot {
  readonly data: unknown;
  readonly lines: Readonly<Record<string, number>>;
}

/** The snapshot entry of a deployment file (what `loadDeployment` reads for a bundled name). */
export function deploymentSnapshot(text: string, file: string): DeploymentSnapshot {
  const doc = readDeploymentDoc(text, file);
  const lines: Record<string, number> = {};
  const walk = (v: unknown, p: string[]): void => {
    lines[p.join('.')] = doc.lineOf(p);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(yaml().parseDocument(text).toJS(), []);
  return { data: doc.data, lines };
}

function snapshotDoc(snap: DeploymentSnapshot): DeploymentDoc {
  const lineOf = (p: readonly (string | number)[]): number => {
    for (let n = p.length; n >= 0; n--) {
      const line = snap.lines[p.slice(0, n).join('.')];
      if (line !== undefined) return line;
    }
    return 1;
  };
  return { data: snap.data as z.infer<typeof schema>, lineOf };
}

/** The deployment of checked fields, with the overrides and the cross-field checks. */
function resolveDeployment(doc: DeploymentDoc, file: string, overrides: DeploymentOverrides, fallbackName: string): Deployment {
  const { lineOf } = doc;
  const d = doc.data;
  const where = (p: string[]): string => `${file}:${lineOf(p)}: ${p.join('.')}`;
  const fail = (p: string[], msg: string, hint?: string): never => {
    throw new ConfigError(`${where(p)}: ${msg}`, hint === undefined ? {} : { hint });
  };

  const scheduler = overrides.scheduler ?? d.scheduler ?? (d.kind === 'split' ? 'splitwise-mixed-pool' : 'jsq-tokens');
  if (!SCHEDULER_NAMES.includes(scheduler)) {
    fail(overrides.scheduler ? ['--scheduler'] : ['scheduler'], `unknown scheduler '${scheduler}'`, `known schedulers: ${SCHEDULER_NAMES.join(', ')}`);
  }
  const perfModel = overrides.perfModel ?? d.perfModel;
  if (!(PERF_MODEL_KINDS as readonly string[]).includes(perfModel)) {
    fail(['perfModel'], `unknown performance model kind '${perfModel}'`, `known kinds: ${PERF_MODEL_KINDS.join(', ')}`);
  }
  if (d.profileFile !== undefined && perfModel !== 'profile' && perfModel !== 'auto') fail(['profileFile'], `needs perfModel: profile (not '${perfModel}')`);
  const profileFile = d.profileFile === undefined ? undefined : path.resolve(path.dirname(file), d.profileFile);
  if (profileFile !== undefined && !fs.existsSync(profileFile))
    fail(['profileFile'], `file not found: ${d.profileFile}`, 'a path relative to the deployment file');
  const baseLimits: PoolLimits = { ...DEFAULT_LIMITS, ...stripUndefined(d.instance ?? {}) };
  const pools: PoolSpec[] = [];
  for (const role of ['prompt', 'token', 'mixed'] as const) {
    const p = d.pools[role];
    const count = overrides.counts?.[role] ?? p?.count ?? 0;
    if (!p && count > 0 && !overrides.machines?.[role]) fail(['pools', role], `a count for pool '${role}' needs a machine type`);
    if (count === 0) continue;
    if (!Number.isInteger(count) || count < 0 || count > B.machines) {
      fail(['pools', role, 'count'], `${count} machines: must be an integer from 0 to ${B.machines.toLocaleString('en-US')} (the bound for a pool)`);
    }
    pools.push({
      role,
      machine: overrides.machines?.[role] ?? p!.machine,
      count,
      limits: Object.freeze({ ...baseLimits, ...stripUndefined(p?.instance ?? {}) }),
    });
  }
  const total = pools.reduce((n, p) => n + p.count, 0);
  if (total > B.machines) {
    fail(
      ['pools'],
      `${total.toLocaleString('en-US')} machines in all: at most ${B.machines.toLocaleString('en-US')} (the bound for a deployment, all pools together)`,
    );
  }
  const has = (r: PoolName): boolean => pools.some((p) => p.role === r);
  if (d.kind === 'monolithic') {
    if (has('prompt') || has('token')) fail(['pools'], "a monolithic deployment has only a 'mixed' pool", 'use kind: split for prompt/token pools');
    if (!has('mixed')) fail(['pools', 'mixed'], 'a monolithic deployment needs a mixed pool with count ≥ 1');
  } else {
    if (!has('prompt')) fail(['pools', 'prompt'], 'a split deployment needs a prompt pool with count ≥ 1');
    if (!has('token')) fail(['pools', 'token'], 'a split deployment needs a token pool with count ≥ 1');
  }
  if (d.prefixCache) {
    for (const p of pools) {
      if (512 % p.limits.blockTokens !== 0)
        fail(
          ['prefixCache'],
          `needs a KV block size dividing 512 (pool '${p.role}' has blockTokens ${p.limits.blockTokens})`,
          'blockTokens 16 (the default), 32, 64, … 512',
        );
    }
  }
  const ic = d.interconnect ?? {};
  const origins: Record<string, string> = { model: overrides.model !== undefined ? '--model' : where(['model']) };
  for (const p of pools) {
    origins[`pools.${p.role}.machine`] =
      overrides.machines?.[p.role] !== undefined ? `pools.${p.role}.machine (overridden)` : where(['pools', p.role, 'machine']);
  }
  return Object.freeze({
    name: d.name ?? fallbackName,
    source: file,
    description: d.description ?? '',
    kind: d.kind,
    model: overrides.model ?? d.model,
    perfModel: perfModel as Deployment['perfModel'],
    ...(profileFile === undefined ? {} : { profile: { file: profileFile, profile: loadProfileFile(profileFile) } }),
    scheduler,
    pools: Object.freeze(pools),
    interconnect: Object.freeze({
      ...(ic.bandwidthGbps === undefined ? {} : { bandwidthGbps: ic.bandwidthGbps }),
      ...(ic.residueMs === undefined ? {} : { residueMs: ic.residueMs }),
      layerwiseMinPromptTokens: ic.layerwiseMinPromptTokens ?? 512,
    }),
    promptMaxPendingTokens: d.promptMaxPendingTokens ?? 8192,
    prefixCache: d.prefixCache ?? false,
    origins: Object.freeze(origins),
  });
}

function stripUndefined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const r: { [K in keyof T]?: Exclude<T[K], undefined> } = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (r as Record<string, unknown>)[k] = v;
  return r;
}

/** Build a deployment in code (tests, `sim provision`): same checks as the YAML path. */
export function defineDeployment(spec: z.input<typeof schema>, overrides: DeploymentOverrides = {}): Deployment {
  // JSON is YAML: one validation path for files and code.
  return parseDeployment(JSON.stringify(spec), '<inline>', overrides, spec.name ?? 'inline');
}
