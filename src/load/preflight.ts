/**
 * Preflight, before the run's clock starts (STYLE 13): the target lists its models (GET /v1/models),
 * answers one streamed one-token request, and reports `usage` in the stream. Any failure is a
 * TargetError (exit 5) with what was seen, and the run is never created.
 */
import { TargetError } from '../errors.js';
import { outcomeColumns } from '../run/outcome.js';
import type { LoadClient } from './client.js';
import { BodyBuilder, ENDPOINT_PATHS, type Endpoint, type PromptMode } from './prompt.js';
import { excerpt } from './stream.js';

export interface PreflightResult {
  /** The model to use: the one asked for, else the first the target lists. */
  readonly model: string;
  readonly models: readonly string[];
  /** Whether the probe's chunks carried continuous usage (per-chunk token counts). */
  readonly continuousUsage: boolean;
  /** The model's vocabulary size where the target states it (`vocab_size` in its /v1/models entry). */
  readonly vocabSize?: number;
}

export interface PreflightOptions {
  readonly model?: string | undefined;
  readonly endpoint: Endpoint;
  readonly prompt: PromptMode;
  readonly extraBody?: Record<string, unknown> | undefined;
  /** Output-length and usage fields of a target preset (see BodyOptions.fields). */
  readonly fields?: ((outputTokens: number, endpoint: Endpoint) => Record<string, unknown>) | undefined;
  readonly timeoutMs?: number;
}

export async function preflight(client: LoadClient, opts: PreflightOptions): Promise<PreflightResult> {
  const where = client.base.href;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let res: { status: number; body: string };
  try {
    res = await client.getJson('/v1/models', timeoutMs);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    throw new TargetError(
      `target ${where} is unreachable: GET /v1/models failed: ${err.code ?? ''} ${excerpt(err.message ?? String(e))}`.replace(/ {2,}/g, ' '),
      {
        hint: 'check --url (scheme, host, port) and that the server is up',
      },
    );
  }
  if (res.status === 401 || res.status === 403) {
    throw new TargetError(`target ${where} refused GET /v1/models with HTTP ${res.status}: ${excerpt(res.body)}`, {
      hint: 'pass --api-key (or set SPLITBENCH_API_KEY) or --header',
    });
  }
  if (res.status !== 200) throw new TargetError(`target ${where}: GET /v1/models answered HTTP ${res.status}: ${excerpt(res.body)}`);
  let models: string[];
  let entries: { id?: unknown; vocab_size?: unknown }[];
  try {
    const doc = JSON.parse(res.body) as { data?: { id?: unknown; vocab_size?: unknown }[] };
    if (!Array.isArray(doc.data)) throw new Error('no "data" array');
    entries = doc.data;
    models = doc.data.map((m) => m?.id).filter((id): id is string => typeof id === 'string');
  } catch (e) {
    throw new TargetError(`target ${where}: GET /v1/models did not return an OpenAI model list (${(e as Error).message}): ${excerpt(res.body)}`);
  }
  let model = opts.model;
  if (model === undefined) {
    if (models.length === 0) throw new TargetError(`target ${where} lists no models at /v1/models`, { hint: 'pass --model' });
    model = models[0]!;
  } else if (models.length > 0 && !models.includes(model)) {
    throw new TargetError(`target ${where} does not serve model '${model}'; it lists: ${models.slice(0, 10).join(', ')}`, {
      hint: 'pass --model with one of the listed models',
    });
  }
  const v = entries.find((m) => m?.id === model)?.vocab_size;
  const vocabSize = typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
  const builder = new BodyBuilder({
    endpoint: opts.endpoint,
    prompt: opts.prompt,
    model,
    seed: 0x5eed,
    ...(opts.extraBody ? { extraBody: opts.extraBody } : {}),
    ...(opts.fields ? { fields: opts.fields } : {}),
    ...(vocabSize === undefined ? {} : { vocabSize }),
  });
  const body = builder.build({ seq: 0, promptTokens: 8, outputTokens: 1 });
  const route = ENDPOINT_PATHS[opts.endpoint];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const r = await client.stream(route, body, performance.now(), ac.signal);
  clearTimeout(timer);
  if (r.outcome.kind === 'cancelled')
    throw new TargetError(`target ${where}: the one-token probe on POST ${route} got no complete answer within ${timeoutMs / 1000} s`);
  if (r.outcome.kind !== 'ok')
    throw new TargetError(`target ${where}: the one-token probe on POST ${route} failed: ${outcomeColumns(r.outcome).error ?? r.outcome.kind}`);
  const s = r.stream!;
  if (s.tokens < 1) throw new TargetError(`target ${where}: the one-token probe on POST ${route} streamed no token`);
  if (s.usageCompletion === undefined) {
    throw new TargetError(`target ${where}: the streamed probe on POST ${route} carried no usage block`, {
      hint: 'the target must honour stream_options.include_usage, so token counts can be checked',
    });
  }
  return { model, models, continuousUsage: s.sawContinuousUsage, ...(vocabSize === undefined ? {} : { vocabSize }) };
}
