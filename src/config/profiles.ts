/**
 * Reading performance profiles: `*.profile.json` files (format `splitbench-profile/1`, see
 * src/engine/perf/profile.ts and workloads/profiles/README.md) and SplitwiseSim's perf_model.csv, validated into
 * the engine's `Profiles`. Errors name the file and the field (the CSV: file, line and column).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { parse } from 'csv-parse/sync';
import { z } from 'zod';
import {
  PROFILE_FORMAT,
  Profiles,
  SPLITWISE_HW_ALIASES,
  convertSplitwiseRows,
  formatProfileJson,
  profileFileName,
  type ProfileData,
  type ProfileIndexEntry,
  type SplitwiseRow,
} from '../engine/index.js';
import { ConfigError } from '../errors.js';
import { WORKLOADS_DIR } from '../paths.js';
import { bundledSnapshot } from './snapshot.js';

/** Folder of the bundled profiles. */
export const DEFAULT_PROFILES_DIR: string = path.join(WORKLOADS_DIR, 'profiles');
/** SplitwiseSim's profiled data, bundled (MIT, (c) 2024 Pratyush Patel). */
export const SPLITWISE_CSV: string = path.join(DEFAULT_PROFILES_DIR, 'splitwise-sim', 'perf_model.csv');

const num = z.number().finite();
const prefillSeries = z
  .object({ tokens: z.array(num.positive()).min(1), ms: z.array(num.positive()).min(1) })
  .strict()
  .refine((s) => s.tokens.length === s.ms.length, { message: 'tokens and ms must have the same length' })
  .refine((s) => s.tokens.every((v, i, a) => i === 0 || v > a[i - 1]!), { message: 'tokens must be strictly increasing' });

export const ProfileSchema = z
  .object({
    format: z.literal(PROFILE_FORMAT),
    model: z.string().min(1),
    hardware: z.string().min(1),
    tp: z.number().int().positive(),
    source: z.string().min(1),
    notes: z.string().optional(),
    prefill: prefillSeries,
    decode: z
      .object({
        curves: z
          .array(
            z
              .object({ contextTokens: num.positive(), batch: z.array(num.positive()).min(1), ms: z.array(num.positive()).min(1) })
              .strict()
              .refine((c) => c.batch.length === c.ms.length, { message: 'batch and ms must have the same length' })
              .refine((c) => c.batch.every((v, i, a) => i === 0 || v > a[i - 1]!), { message: 'batch must be strictly increasing' }),
          )
          .min(1)
          .refine((cs) => cs.every((c, i) => i === 0 || c.contextTokens > cs[i - 1]!.contextTokens), {
            message: 'curves must be sorted by strictly increasing contextTokens',
          }),
        contextSweep: z
          .object({ batch: num.positive(), contextTokens: z.array(num.positive()).min(2), ms: z.array(num.positive()).min(2) })
          .strict()
          .refine((c) => c.contextTokens.length === c.ms.length, { message: 'contextTokens and ms must have the same length' })
          .optional(),
      })
      .strict(),
    mixed: z.array(z.object({ promptTokens: num.positive(), decodes: num.positive(), contextTokens: num.positive(), ms: num.positive() }).strict()).optional(),
    splitwise: z
      .object({ x: z.array(num.positive()).min(1), promptMs: z.array(num.positive()).min(1), tokenMs: z.array(num.positive()).min(1) })
      .strict()
      .optional(),
  })
  .strict();

/** Validate a parsed profile object; errors name the file and the field path. */
export function parseProfile(data: unknown, file: string): ProfileData {
  const r = ProfileSchema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.join('.') || '(document)';
  const detail = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
  throw new ConfigError(`${file}: ${field}: ${detail}`, { hint: 'see the profile file format in workloads/profiles/README.md' });
}

/** One profile file: from the bundled snapshot when it is a bundled one (checked when it was made), else read and validated. */
export function loadProfileFile(file: string): ProfileData {
  const abs = path.resolve(file);
  const root = path.resolve(DEFAULT_PROFILES_DIR);
  if (abs.startsWith(root + path.sep)) {
    const rel = path.relative(root, abs).split(path.sep).join('/');
    const hit = bundledSnapshot()?.profiles.find((e) => e.file === rel);
    if (hit) return hit.profile;
  }
  return readProfileFile(file);
}

/** Read and validate one profile file. */
export function readProfileFile(file: string): ProfileData {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read profile file: ${(e as Error).message}`, { path: file, cause: e });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  return parseProfile(data, file);
}

/** Every `*.profile.json` under `dir` (one level of sub-folders), loaded and validated. */
export function readProfileIndex(dir: string): ProfileIndexEntry[] {
  const files: string[] = [];
  const walk = (d: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && depth < 1) walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith('.profile.json')) files.push(p);
    }
  };
  walk(path.resolve(dir), 0);
  return files.map((file) => ({ file, profile: readProfileFile(file) }));
}

const COLUMNS = ['model', 'hardware', 'prompt_size', 'batch_size', 'token_size', 'prompt_time', 'token_time', 'tensor_parallel'];

/**
 * What csv-parse gives for `text` (`columns: true, skip_empty_lines: true, info: true`: each record keyed by the
 * header's names, with its line number) when the text is plain: no quotes, no CR, a first line that is the
 * header and every other non-empty line with as many fields. Undefined otherwise, for csv-parse to read (and
 * word its errors). The bundled file is plain: this saves most of start-up's CSV time (~50 ms of CPU).
 */
function plainCsvRecords(text: string): { record: Record<string, string>; info: { lines: number } }[] | undefined {
  if (text.includes('"') || text.includes('\r')) return undefined;
  const lines = text.split('\n');
  const header = lines[0]!.split(',');
  if (lines[0] === '' || new Set(header).size !== header.length) return undefined;
  const out: { record: Record<string, string>; info: { lines: number } }[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const fields = line.split(',');
    if (fields.length !== header.length) return undefined;
    const record: Record<string, string> = {};
    for (let c = 0; c < header.length; c++) record[header[c]!] = fields[c]!;
    out.push({ record, info: { lines: i + 1 } });
  }
  return out;
}

/** Parse SplitwiseSim's perf_model.csv text; a bad row names file, line and column. */
export function parseSplitwiseCsv(text: string, file = 'perf_model.csv'): SplitwiseRow[] {
  const records =
    plainCsvRecords(text) ??
    // csv-parse only for a file that is not plain (loaded then: most runs never need it).
    ((createRequire(import.meta.url)('csv-parse/sync') as { parse: typeof parse }).parse(text, { columns: true, skip_empty_lines: true, info: true }) as {
      record: Record<string, string>;
      info: { lines: number };
    }[]);
  const rows: SplitwiseRow[] = [];
  for (const { record, info } of records) {
    for (const c of COLUMNS) {
      if (record[c] === undefined) throw new ConfigError(`${file}:${info.lines}:${c}: missing column`);
    }
    const n = (c: string): number => {
      const v = Number(record[c]);
      if (!Number.isFinite(v) || record[c]!.trim() === '') throw new ConfigError(`${file}:${info.lines}:${c}: not a number: "${record[c]}"`);
      return v;
    };
    const hw = record['hardware']!;
    rows.push({
      model: record['model']!,
      hardware: SPLITWISE_HW_ALIASES[hw] ?? hw,
      promptSize: n('prompt_size'),
      batchSize: n('batch_size'),
      tokenSize: n('token_size'),
      promptMs: n('prompt_time'),
      tokenMs: n('token_time'),
      tp: n('tensor_parallel'),
    });
  }
  return rows;
}

/** SplitwiseSim's perf_model.csv at `file`, read and checked. */
export function readSplitwiseRows(file: string): SplitwiseRow[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read SplitwiseSim profile data: ${(e as Error).message}`, { path: file, cause: e });
  }
  return parseSplitwiseCsv(text, file);
}

/** The bundled folder's profiles from the snapshot (src/config/snapshot.ts), validated when it was made. */
function bundledIndex(root: string): ProfileIndexEntry[] | undefined {
  if (root !== path.resolve(DEFAULT_PROFILES_DIR)) return undefined;
  return bundledSnapshot()?.profiles.map((e) => ({ file: path.join(root, e.file), profile: e.profile }));
}

const profilesCache = new Map<string, Profiles>();
const indexCache = new Map<string, ProfileIndexEntry[]>();
const rowsCache = new Map<string, readonly SplitwiseRow[]>();

/**
 * The profiles of `dir` (default: the bundled ones) with SplitwiseSim's rows from `splitwiseCsv` (default: the
 * bundled perf_model.csv; `false`: without them, for callers that need neither the compatible mode nor the
 * `splitwise` reference: parsing the CSV costs ~60 ms of CPU). Each file is read and validated once per process;
 * the bundled folder and CSV come from the bundled snapshot when there is one.
 */
export function loadProfiles(dir: string = DEFAULT_PROFILES_DIR, splitwiseCsv: string | false = SPLITWISE_CSV): Profiles {
  const root = path.resolve(dir);
  const csv = splitwiseCsv === false ? undefined : path.resolve(splitwiseCsv);
  const key = `${root}|${csv ?? ''}`;
  let hit = profilesCache.get(key);
  if (!hit) {
    let entries = indexCache.get(root);
    if (!entries) indexCache.set(root, (entries = bundledIndex(root) ?? readProfileIndex(root)));
    let rows = csv === undefined ? undefined : rowsCache.get(csv);
    if (csv !== undefined && !rows)
      rowsCache.set(csv, (rows = (csv === path.resolve(SPLITWISE_CSV) ? bundledSnapshot()?.splitwise : undefined) ?? readSplitwiseRows(csv)));
    profilesCache.set(key, (hit = new Profiles(root, entries, rows)));
  }
  return hit;
}

/** Convert the CSV at `csvFile` and write the profiles into `outDir` (used to produce the bundled files). */
export function writeSplitwiseProfiles(csvFile: string, outDir: string): string[] {
  const profiles = convertSplitwiseRows(parseSplitwiseCsv(fs.readFileSync(csvFile, 'utf8'), csvFile));
  fs.mkdirSync(outDir, { recursive: true });
  return profiles.map((p) => {
    const f = path.join(outDir, profileFileName(p));
    fs.writeFileSync(f, `${formatProfileJson(p)}\n`);
    return f;
  });
}
