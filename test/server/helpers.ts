/** HTTP helpers for the server tests (undici, loopback only). */
import { request } from 'undici';

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

export async function call(base: string, method: string, path: string, body?: unknown, raw?: string): Promise<Reply> {
  const r = await request(base + path, {
    method: method as 'GET',
    headers: body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {},
    body: raw ?? (body === undefined ? null : JSON.stringify(body)),
  });
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
}

export const post = (base: string, path: string, body: unknown): Promise<Reply> => call(base, 'POST', path, body);

export type SseEvent = Record<string, any> | '[DONE]'; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Split an SSE body into its `data:` events (JSON-parsed, or the string '[DONE]'). */
export function sse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((e) => e.trim() !== '')
    .map((e) => {
      if (!e.startsWith('data: ')) throw new Error(`not an SSE data event: ${JSON.stringify(e)}`);
      const d = e.slice(6);
      return d === '[DONE]' ? '[DONE]' : (JSON.parse(d) as Record<string, unknown>);
    });
}

/** Read one Prometheus sample value: `name{labels…}` where every given label matches. */
export function promValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([^{\s]+)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls: Record<string, string> = {};
    for (const p of (m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)) ls[p[1]!] = p[2]!;
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) return Number(m[4]);
  }
  return undefined;
}

export interface TimedEvent {
  /** Milliseconds from send to the read that completed this event. */
  readonly ms: number;
  readonly event: SseEvent;
}

/** POST a streaming request and timestamp every SSE event as it is parsed (monotonic clock). */
export async function timedStream(base: string, path: string, body: unknown): Promise<{ status: number; events: TimedEvent[] }> {
  const payload = JSON.stringify(body);
  const t0 = performance.now();
  const r = await request(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
  const events: TimedEvent[] = [];
  let buf = '';
  for await (const chunk of r.body) {
    const ms = performance.now() - t0;
    buf += (chunk as Buffer).toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const raw = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (raw.trim() === '') continue;
      events.push({ ms, event: sse(`${raw}\n\n`)[0]! });
    }
  }
  return { status: r.statusCode, events };
}
