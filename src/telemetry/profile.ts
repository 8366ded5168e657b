/**
 * `splitbench profile`: measure a live OpenAI-compatible endpoint's performance model and write it as a profile
 * file (`splitbench-profile/1`, workloads/profiles/README.md) that the `profile` performance model loads.
 *
 * - Floor: the round trip of `GET /v1/models` (network and HTTP handling, no engine work): the median of seven at
 *   the start, and one right before each prefill request (the smaller of the two is subtracted).
 * - Prefill vs prompt length: one request at a time (the engine otherwise idle), prompt of exactly P token ids,
 *   one output token; prefill(P) = median (or, with `estimator: 'min'`, minimum) over repeats of (TTFT − floor).
 * - Decode vs batch size: B requests sent together (prompt `context − output/2` tokens, so the mean KV context
 *   over the measurement is `context`), each streaming `output` tokens; the steady-state window is from the last
 *   request's first token to the first request's last token (all B decoding); decode(B) = median of the per-token
 *   gaps of every stream inside the window.
 * Wall times are multiplied by `timeScale` (a reference backend serving K times faster than real GPUs).
 * Every measurement is sequential and uses the monotonic clock (performance.now()).
 */
import { type Dispatcher, request } from 'undici';
import { ConfigError, TargetError } from '../errors.js';
import { TARGET_PRESETS } from './targets.js';

export interface ProfileOptions {
  readonly url: string;
  readonly model?: string;
  readonly promptSizes: readonly number[];
  readonly batchSizes: readonly number[];
  readonly contexts: readonly number[];
  /** Output tokens of each decode request. */
  readonly decodeTokens: number;
  readonly repeats: number;
  /** How the repeats of a prefill point combine: 'median' (default) or 'min' (delays only add: on a busy client or server host the minimum is the better estimate). */
  readonly estimator?: 'median' | 'min';
  readonly timeScale: number;
  /** Header fields of the profile file. */
  readonly profileModel?: string;
  readonly hardware: string;
  readonly tp: number;
  readonly apiKey?: string;
  readonly log?: (line: string) => void;
}

export interface ProfileResult {
  readonly profile: Record<string, unknown>;
  readonly floorMs: number;
  readonly model: string;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function headers(o: ProfileOptions): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'text/event-stream', ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}) };
}

/** Distinct token ids (no shared prefix between requests: `salt` differs). */
function promptIds(n: number, salt: number): string {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(1000 + ((salt * 7919 + i * 104729) % 29000));
  return ids.join(',');
}

interface Stream {
  /** Monotonic ms of each token-bearing event, with its token count. */
  readonly events: { t: number; tokens: number }[];
  readonly startMs: number;
}

async function streamOne(o: ProfileOptions, model: string, promptTokens: number, outputTokens: number, salt: number): Promise<Stream> {
  const fields = TARGET_PRESETS.vllm!.fields(outputTokens, 'completions');
  const body = `{"model":${JSON.stringify(model)},"prompt":[${promptIds(promptTokens, salt)}],"stream":true,${JSON.stringify(fields).slice(1)}`;
  const startMs = performance.now();
  const res = await request(new URL('/v1/completions', o.url), { method: 'POST', headers: headers(o), body, headersTimeout: 600_000, bodyTimeout: 600_000 });
  if (res.statusCode !== 200) {
    const text = await res.body.text();
    throw new TargetError(`${o.url}: POST /v1/completions answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  }
  const events: { t: number; tokens: number }[] = [];
  let buf = '';
  let lastUsage = 0;
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    const t = performance.now();
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of ev.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') continue;
        let j: { choices?: { text?: string }[]; usage?: { completion_tokens?: number } | null };
        try {
          j = JSON.parse(data);
        } catch {
          throw new TargetError(`${o.url}: the stream carried something that is not JSON: ${data.slice(0, 120)}`);
        }
        const text = j.choices?.[0]?.text ?? '';
        const used = j.usage?.completion_tokens;
        let k = 0;
        if (typeof used === 'number') {
          k = used - lastUsage;
          lastUsage = used;
        } else if (text !== '') k = 1;
        if (k > 0 && (j.choices?.length ?? 0) > 0) events.push({ t, tokens: k });
      }
    }
  }
  return { events, startMs };
}

async function modelOf(o: ProfileOptions): Promise<string> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(new URL('/v1/models', o.url), { method: 'GET', headers: headers(o), headersTimeout: 30_000, bodyTimeout: 30_000 });
  } catch (e) {
    throw new TargetError(`${o.url} is unreachable: ${(e as Error).message}`, { hint: 'check --url and that the server is up' });
  }
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new TargetError(`${o.url}: GET /v1/models answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  const ids = ((JSON.parse(text) as { data?: { id?: string }[] }).data ?? []).map((d) => d.id).filter((x): x is string => typeof x === 'string');
  if (o.model) {
    if (ids.length > 0 && !ids.includes(o.model)) throw new TargetError(`${o.url} does not serve '${o.model}'; it lists ${ids.join(', ')}`);
    return o.model;
  }
  if (ids.length === 0) throw new TargetError(`${o.url} lists no models`, { hint: 'pass --model' });
  return ids[0]!;
}

async function roundTripMs(o: ProfileOptions): Promise<number> {
  const s = performance.now();
  const r = await request(new URL('/v1/models', o.url), { method: 'GET', headers: headers(o) });
  await r.body.text();
  return performance.now() - s;
}

async function floorMs(o: ProfileOptions): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 7; i++) xs.push(await roundTripMs(o));
  return median(xs);
}

export async function profileEndpoint(o: ProfileOptions): Promise<ProfileResult> {
  const log = o.log ?? (() => undefined);
  const model = await modelOf(o);
  const floor = await floorMs(o);
  log(`floor (GET /v1/models round trip): ${floor.toFixed(2)} ms`);
  // Warm-up: one small request.
  await streamOne(o, model, 16, 2, 999_999);
  let salt = 0;
  const prefillMs: number[] = [];
  for (const p of o.promptSizes) {
    const xs: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      // The floor right before each request, so a machine whose load drifts is judged against its present floor.
      const f = await roundTripMs(o);
      const s = await streamOne(o, model, p, 1, ++salt);
      const first = s.events[0];
      if (!first) throw new TargetError(`${o.url}: a ${p}-token prompt streamed no token`);
      xs.push(Math.max(0, first.t - s.startMs - Math.min(f, floor)) * o.timeScale);
    }
    const v = o.estimator === 'min' ? Math.min(...xs) : median(xs);
    prefillMs.push(v);
    log(`prefill ${p} tokens: ${v.toFixed(2)} ms (${o.estimator ?? 'median'} of ${xs.map((x) => x.toFixed(1)).join(', ')})`);
  }
  const curves: { contextTokens: number; batch: number[]; ms: number[] }[] = [];
  for (const ctx of o.contexts) {
    const prompt = Math.max(1, Math.round(ctx - o.decodeTokens / 2));
    const ms: number[] = [];
    for (const b of o.batchSizes) {
      const streams = await Promise.all(Array.from({ length: b }, () => streamOne(o, model, prompt, o.decodeTokens, ++salt)));
      const from = Math.max(...streams.map((s) => s.events[0]?.t ?? Infinity));
      const to = Math.min(...streams.map((s) => s.events[s.events.length - 1]?.t ?? -Infinity));
      const gaps: number[] = [];
      for (const s of streams) {
        for (let i = 1; i < s.events.length; i++) {
          const e = s.events[i]!;
          const prev = s.events[i - 1]!;
          if (prev.t < from || e.t > to) continue;
          const g = (e.t - prev.t) / e.tokens;
          for (let k = 0; k < e.tokens; k++) gaps.push(g);
        }
      }
      if (gaps.length < 3) {
        throw new TargetError(`batch ${b} at context ${ctx}: too few token gaps while all ${b} requests were decoding (${gaps.length})`, {
          hint: 'raise --decode-tokens, or check that the server batches concurrent requests on one instance',
        });
      }
      ms.push(median(gaps) * o.timeScale);
      log(`decode batch ${b} at context ${ctx}: ${ms[ms.length - 1]!.toFixed(2)} ms per iteration (${gaps.length} gaps)`);
    }
    curves.push({ contextTokens: ctx, batch: [...o.batchSizes], ms });
  }
  const profile = {
    format: 'splitbench-profile/1',
    model: o.profileModel ?? model,
    hardware: o.hardware,
    tp: o.tp,
    source: `splitbench profile of ${o.url} (model ${model}), ${new Date().toISOString().slice(0, 10)}: single-request TTFT minus a ${floor.toFixed(2)} ms floor (${o.estimator ?? 'median'} of ${o.repeats}); decode = median steady-state token gap with B concurrent streams`,
    notes: `time scale ${o.timeScale}; decode requests: ${o.decodeTokens} output tokens`,
    prefill: { tokens: [...o.promptSizes], ms: prefillMs },
    decode: { curves },
  };
  return { profile, floorMs: floor, model };
}

/** Parse a comma-separated list of positive integers, strictly increasing (a profile's x values). */
export function parseSizes(v: unknown, flag: string): number[] {
  const s = Array.isArray(v) ? v.join(',') : String(v);
  const xs = s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
    .map(Number);
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x <= 0))
    throw new ConfigError(`expected positive integers separated by commas, got '${s}'`, { path: flag });
  for (let i = 1; i < xs.length; i++) if (xs[i]! <= xs[i - 1]!) throw new ConfigError(`values must be strictly increasing, got '${s}'`, { path: flag });
  return xs;
}
