/**
 * The chunk fast path (src/load/chunk.ts) against its reference, JSON.parse: on the chunk shapes vLLM,
 * SGLang, OpenAI and our server send (with and without usage, escapes, unicode, errors mid-stream), on whole
 * streams read through a learnt template, and on random mutations of them. Wherever the fast path answers,
 * its facts must be the reference's; on the real shapes it must answer (else it is no fast path).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkFacts, ChunkReader, MAX_DEPTH, readChunk, scanChunk } from '../../src/load/chunk.js';
import type { SseParser } from '../../src/load/sse.js';
import { CompletionStream } from '../../src/load/stream.js';
import { createRng } from '../../src/trace/index.js';

type Facts = Omit<ChunkFacts, 'clear'>;

function plain(f: ChunkFacts): Facts {
  return { hasChoice: f.hasChoice, hasText: f.hasText, finished: f.finished, prompt: f.prompt, completion: f.completion, cached: f.cached };
}

/** The reference's facts, or undefined where it fails the chunk (not JSON, error, bad choices). */
function reference(data: string): Facts | undefined {
  const f = new ChunkFacts();
  return readChunk(data, f).kind === 'ok' ? plain(f) : undefined;
}

/** The scan agrees with the reference where it answers; returns whether it answered. */
function scanAgrees(data: string): boolean {
  const f = new ChunkFacts();
  if (!scanChunk(data, f)) return false;
  assert.deepEqual(plain(f), reference(data), `scan of ${JSON.stringify(data)}`);
  return true;
}

// A stream of `n` chunks of one engine's shape: text of chunk i, the counters, the finish reason at the end.
type Shape = (i: number, n: number) => string;
const TEXTS = [' the', ' "quoted"', ' back\\slash', ' tab\there', ' émigré', ' 日本語', ' 🙂', '', '\n', ' \u2028', ' \ud83d', 'a/b'];
const text = (i: number): string => TEXTS[i % TEXTS.length]!;

const vllmCompletion =
  (usage: 'continuous' | 'null' | 'absent'): Shape =>
  (i, n) =>
    JSON.stringify({
      id: 'cmpl-4f0c2a9e1b7d4c3aa2d1e0f9c8b7a6d5',
      object: 'text_completion',
      created: 1733500000,
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      choices: [{ index: 0, text: text(i), logprobs: null, finish_reason: i === n ? 'length' : null, stop_reason: null }],
      ...(usage === 'continuous'
        ? { usage: { prompt_tokens: 128, total_tokens: 128 + i, completion_tokens: i, prompt_tokens_details: null } }
        : usage === 'null'
          ? { usage: null }
          : {}),
    });
const vllmChat: Shape = (i, n) =>
  JSON.stringify({
    id: 'chatcmpl-9b1e',
    object: 'chat.completion.chunk',
    created: 1733500000,
    model: 'Qwen/Qwen3-8B',
    choices: [
      {
        index: 0,
        delta: i === 0 ? { role: 'assistant', content: '' } : i < 3 ? { reasoning_content: text(i) } : { content: text(i) },
        logprobs: null,
        finish_reason: i === n ? 'stop' : null,
      },
    ],
    usage: { prompt_tokens: 20, total_tokens: 20 + i, completion_tokens: i },
  });
const sglangChat: Shape = (i, n) =>
  JSON.stringify({
    id: '6c8e5f0c0f1a4a1c9a3b',
    object: 'chat.completion.chunk',
    created: 1733500001,
    model: 'default',
    choices: [
      {
        index: 0,
        delta: { role: null, content: text(i), reasoning_content: null, tool_calls: null },
        logprobs: null,
        finish_reason: i === n ? 'length' : null,
        matched_stop: null,
      },
    ],
    usage: null,
  });
const sglangCompletion: Shape = (i, n) =>
  JSON.stringify({
    id: '6c8e5f0c0f1a4a1c9a3c',
    object: 'text_completion',
    created: 1733500001,
    model: 'default',
    choices: [{ index: 0, text: text(i), logprobs: null, finish_reason: i === n ? 'length' : null, matched_stop: null }],
    usage: null,
  });
const openaiChat: Shape = (i, n) =>
  JSON.stringify({
    id: 'chatcmpl-AbC123',
    object: 'chat.completion.chunk',
    created: 1733500002,
    model: 'gpt-4o-mini-2024-07-18',
    service_tier: 'default',
    system_fingerprint: 'fp_0ba0d124f1',
    choices: [{ index: 0, delta: i === n ? {} : { content: text(i) }, logprobs: null, finish_reason: i === n ? 'stop' : null }],
    usage: null,
    obfuscation: 'x'.repeat(1 + ((i * 7) % 13)),
  });
/** Our server (src/server/generation.ts): logprobs and token ids when asked, the splitbench object at the end. */
const ourServer: Shape = (i, n) =>
  JSON.stringify({
    id: 'cmpl-sb-12',
    object: 'text_completion',
    created: 0,
    model: 'bench-model',
    choices: [
      {
        index: 0,
        text: text(i),
        logprobs: { tokens: [text(i)], token_logprobs: [-0.25 * i], top_logprobs: [{ [text(i)]: -0.25 * i }], text_offset: [i * 3] },
        finish_reason: i === n ? 'length' : null,
        stop_reason: null,
        token_ids: [1000 + i],
      },
    ],
    usage: { prompt_tokens: 64, completion_tokens: i, total_tokens: 64 + i },
    ...(i === n ? { splitbench: { queue_s: 0.5, prefill_s: 0.1, decode_s: 0.2, prompt_machine: 'p0' } } : {}),
  });
/** Our server as a benchmark asks it: no logprobs, no token ids. */
const ourServerPlain: Shape = (i, n) =>
  JSON.stringify({
    id: 'cmpl-sb-13',
    object: 'text_completion',
    created: 0,
    model: 'bench-model',
    choices: [{ index: 0, text: text(i), logprobs: null, finish_reason: i === n ? 'length' : null, stop_reason: null }],
    usage: { prompt_tokens: 64, completion_tokens: i, total_tokens: 64 + i },
    ...(i === n ? { splitbench: { queue_s: 0.5, prefill_s: 0.1, decode_s: 0.2, prompt_machine: 'p0' } } : {}),
  });
/** Python's json.dumps defaults: a space after every ':' and ','. */
const spaced: Shape = (i, n) => vllmCompletion('continuous')(i, n).replace(/("(?:[^"\\]|\\.)*")|([,:])/g, (m, str) => (str ? m : `${m} `));
/** Two choices (n = 2): the recorder reads the first. */
const twoChoices: Shape = (i, n) =>
  JSON.stringify({
    id: 'cmpl-n2',
    choices: [
      { index: i % 2, text: text(i), finish_reason: i === n ? 'length' : null },
      { index: 1, text: 'other', finish_reason: 'stop' },
    ],
  });

const SHAPES: Record<string, Shape> = {
  'vLLM completions, per-chunk usage': vllmCompletion('continuous'),
  'vLLM completions, usage null': vllmCompletion('null'),
  'vLLM completions, no usage member': vllmCompletion('absent'),
  'vLLM chat with reasoning': vllmChat,
  'SGLang chat': sglangChat,
  'SGLang completions': sglangCompletion,
  'OpenAI chat': openaiChat,
  'our server with logprobs and token ids': ourServer,
  'our server': ourServerPlain,
  'json.dumps spacing': spaced,
  'two choices': twoChoices,
};

/** The final chunks engines send: the usage block (with or without details), error objects. */
const FINALS = [
  '{"id":"cmpl-x","object":"text_completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":128,"total_tokens":384,"completion_tokens":256,"prompt_tokens_details":null}}',
  '{"id":"cmpl-x","choices":[],"usage":{"prompt_tokens":128,"completion_tokens":256,"total_tokens":384,"prompt_tokens_details":{"cached_tokens":96}}}',
  '{"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}',
  '{"error":{"message":"overloaded","type":"server_error","param":null,"code":503}}',
  '{"object":"error","message":"max tokens exceeded","type":"BadRequestError","param":null,"code":400}',
  '{"error":"plain string"}',
  '{"choices":null}',
  '{"choices":{"0":{"text":"a"}}}',
  '[1,2]',
  '"str"',
  'null',
  '{"choices":[{"text":"a"}]} x',
  '{"choices":[{"text":"a",}]}',
  '{"choices":[{"text":"a\u0001"}]}',
  '{"choices":[{"te\\u0078t":"a"}]}',
  '{"usage":{"completion_tokens":1e400}}',
  '{"usage":{"completion_tokens":-0,"prompt_tokens":1.5e2}}',
  '{"usage":{"completion_tokens":12345678901234567890,"prompt_tokens":"7"}}',
  '{"usage":[1,2],"choices":[[1]]}',
  '{"choices":[{"text":null,"delta":{"content":"x"}}]}',
  '{"choices":[{"delta":{"content":null,"reasoning_content":"","reasoning":"x"}}]}',
  '{"choices":[{"delta":{"content":false,"reasoning":"x"}}]}',
  '{"choices":[{"delta":[],"finish_reason":0}]}',
  '{"choices":[{"delta":"x","finish_reason":false}]}',
  '{"choices":[null,{"text":"a"}]}',
  '{"choices":[{"text":"a","text":""}]}',
  '{"usage":null,"usage":{"completion_tokens":3}}',
  '{"usage":{"completion_tokens":3},"usage":null}',
  '{"choices":[{"delta":{"content":"x"},"delta":null}]}',
  '{"choices":[{"finish_reason":"stop","finish_reason":null}]}',
  '{"usage":{"prompt_tokens_details":{"cached_tokens":3},"prompt_tokens_details":null}}',
  '{"splitbench":null,"error":null,"choices":[{"text":"a"}]}',
  '{"__proto__":{"text":"a"},"choices":[{"__proto__":{"text":"b"},"finish_reason":null}]}',
  ' \t\r\n{ "choices" : [ { "text" : "a" } ] } \n',
  `{"deep":${'['.repeat(MAX_DEPTH + 2)}${']'.repeat(MAX_DEPTH + 2)},"choices":[{"text":"a"}]}`,
  '',
  '{',
  '{"choices":[{"text":"\\u12"}]}',
  '{"choices":[{"text":"\\x"}]}',
  '{"n":01}',
  '{"n":1.}',
  '{"n":-}',
  '{"n":.5}',
  '{"n":1e+}',
  '{"n":tru}',
];

test('the scan agrees with JSON.parse on every chunk of every engine shape, and answers on them all', () => {
  for (const [name, shape] of Object.entries(SHAPES)) {
    const n = 40;
    for (let i = 0; i <= n; i++) {
      const data = shape(i, n);
      // Our server's last chunk carries the splitbench object: left to JSON.parse (it is read from there).
      const expectAnswer = !(name.startsWith('our server') && i === n);
      assert.equal(scanAgrees(data), expectAnswer, `${name}, chunk ${i}: ${data}`);
    }
  }
});

test('the scan agrees with JSON.parse on final, error, odd and malformed chunks', () => {
  let answered = 0;
  for (const data of FINALS) if (scanAgrees(data)) answered++;
  // The usage blocks and the valid odd shapes are answered; errors and malformed text are not.
  assert.ok(answered >= 15, `answered ${answered}`);
  for (const bad of ['{"error":{"message":"x"}}', '{"choices":null}', '[1,2]', '', '{"n":01}', '{"choices":[{"text":"a\u0001"}]}']) {
    assert.equal(scanChunk(bad, new ChunkFacts()), false, bad);
  }
});

test('a stream read through its learnt template gives the facts JSON.parse gives, chunk by chunk', () => {
  for (const [name, shape] of Object.entries(SHAPES)) {
    const n = 60;
    const reader = new ChunkReader();
    const f = new ChunkFacts();
    let answered = 0;
    for (let i = 0; i <= n; i++) {
      const data = shape(i, n);
      if (reader.read(data, f)) {
        answered++;
        assert.deepEqual(plain(f), reference(data), `${name}, chunk ${i}: ${data}`);
      }
      // With logprobs, a member name (top_logprobs' token) changes from chunk to chunk: no template, the scan reads them.
      if (i === 10) assert.equal(reader.templated, !name.includes('logprobs'), `${name}: a template after ten chunks`);
    }
    for (const data of FINALS) if (reader.read(data, f)) assert.deepEqual(plain(f), reference(data), `${name} then ${data}`);
    assert.ok(answered >= n - 1, `${name}: answered ${answered} of ${n + 1}`);
    if (!name.includes('logprobs')) assert.ok(reader.hits >= n - 12, `${name}: ${reader.hits} chunks matched the template`);
  }
});

/** A seeded uniform generator. */
function rng(seed: number): () => number {
  const g = createRng(seed);
  return () => g.next();
}

const ALPHABET = [
  '"',
  '\\',
  ',',
  ':',
  '{',
  '}',
  '[',
  ']',
  '0',
  '1',
  '-',
  '.',
  'e',
  'n',
  'u',
  'l',
  't',
  ' ',
  '\n',
  '\u0001',
  'x',
  'é',
  '🙂',
  'null',
  '"text"',
  '"usage"',
  '"choices"',
  '"delta"',
  '"content"',
  '"finish_reason"',
  '"completion_tokens"',
  '"prompt_tokens"',
  '"cached_tokens"',
  '"error"',
  '"splitbench"',
  '"reasoning"',
  '{}',
  '[]',
];

function mutate(s: string, r: () => number): string {
  const at = Math.floor(r() * (s.length + 1));
  const ins = ALPHABET[Math.floor(r() * ALPHABET.length)]!;
  const k = r();
  if (k < 0.3) return s.slice(0, at) + s.slice(at + 1); // delete a character
  if (k < 0.6) return s.slice(0, at) + ins + s.slice(at); // insert
  if (k < 0.9) return s.slice(0, at) + ins + s.slice(at + ins.length); // overwrite
  const b = Math.floor(r() * s.length); // copy a piece elsewhere (repeated members)
  return s.slice(0, at) + s.slice(Math.min(at, b), Math.max(at, b)) + s.slice(at);
}

test('random mutations: wherever the scan or a template answers, it agrees with JSON.parse', () => {
  const r = rng(18);
  let answered = 0;
  let tried = 0;
  const shapes = Object.values(SHAPES);
  for (let round = 0; round < 4000; round++) {
    const shape = shapes[round % shapes.length]!;
    const n = 8;
    // Prime a reader with a clean stream so its template is in use, then feed it a mutated chunk.
    const reader = new ChunkReader();
    const f = new ChunkFacts();
    for (let i = 0; i < 4; i++) reader.read(shape(i, n), f);
    let data = shape(4 + (round % 4), n);
    const times = 1 + Math.floor(r() * 3);
    for (let m = 0; m < times; m++) data = mutate(data, r);
    tried++;
    if (scanAgrees(data)) answered++;
    if (reader.read(data, f)) assert.deepEqual(plain(f), reference(data), `template read of ${JSON.stringify(data)}`);
  }
  // Some mutations keep the text valid JSON (inside strings, extra digits): the check had cases on both sides.
  assert.ok(answered > 100 && answered < tried, `answered ${answered} of ${tried}`);
});

test('random chunk values of every type at the members the recorder reads', () => {
  const r = rng(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const scalars = [null, true, false, 0, -0, 1, 7, -3, 1.5, 1e21, 2.5e-8, '', 'a', ' tok', 'é\n"', [], {}, [1], { a: 1 }];
  const maybe = (o: Record<string, unknown>, k: string, v: unknown): void => {
    if (r() < 0.7) o[k] = v;
  };
  for (let round = 0; round < 3000; round++) {
    const delta: Record<string, unknown> = {};
    maybe(delta, 'content', pick(scalars));
    maybe(delta, 'reasoning_content', pick(scalars));
    maybe(delta, 'reasoning', pick(scalars));
    const choice: Record<string, unknown> = {};
    maybe(choice, 'index', 0);
    if (r() < 0.5) maybe(choice, 'text', pick(scalars));
    maybe(choice, 'delta', r() < 0.8 ? delta : pick(scalars));
    maybe(choice, 'finish_reason', pick(scalars));
    const details: Record<string, unknown> = {};
    maybe(details, 'cached_tokens', pick(scalars));
    const usage: Record<string, unknown> = {};
    maybe(usage, 'prompt_tokens', pick(scalars));
    maybe(usage, 'completion_tokens', pick(scalars));
    maybe(usage, 'prompt_tokens_details', r() < 0.7 ? details : pick(scalars));
    const o: Record<string, unknown> = { id: 'x' };
    maybe(o, 'choices', r() < 0.9 ? (r() < 0.8 ? [choice] : []) : pick(scalars));
    maybe(o, 'usage', r() < 0.8 ? usage : pick(scalars));
    const data = r() < 0.5 ? JSON.stringify(o) : JSON.stringify(o, null, r() < 0.5 ? 1 : '\t');
    scanAgrees(data);
    // As the second chunk of a stream too: the first one is the same shape with other values.
    const reader = new ChunkReader();
    const f = new ChunkFacts();
    reader.read(data, f);
    reader.read(data, f);
    if (reader.read(data, f)) assert.deepEqual(plain(f), reference(data), data);
  }
});

/** What a stream recorded (reconciled). */
function streamResult(s: CompletionStream) {
  return {
    done: s.done,
    method: s.reconcile(),
    tokens: s.tokens,
    chunkMs: [...s.chunkMs],
    chunkTokens: [...s.chunkTokens],
    coalesced: s.coalesced,
    first: s.firstTokenMs,
    last: s.lastTokenMs,
    finished: s.finished,
    prompt: s.usagePrompt,
    completion: s.usageCompletion,
    cached: s.usageCachedPrompt,
    breakdown: s.breakdown,
    failure: s.failure,
  };
}

test('CompletionStream: the same result whether its chunks go through the fast path or JSON.parse', () => {
  // The fast path answers for these (checked above); the alternate spellings below are equal JSON that
  // it leaves to JSON.parse (an escape in a member name), so both paths are compared on the same stream.
  for (const [name, shape] of Object.entries(SHAPES)) {
    const n = 30;
    const fast = new CompletionStream(0);
    const slow = new CompletionStream(0);
    for (let i = 0; i <= n; i++) {
      const data = shape(i, n);
      fast.push(`data: ${data}\n\n`, i);
      slow.push(`data: ${data.replace('"choices"', '"\\u0063hoices"')}\n\n`, i);
    }
    fast.push('data: [DONE]\n\n', n + 1);
    slow.push('data: [DONE]\n\n', n + 1);
    assert.deepEqual(streamResult(fast), streamResult(slow), name);
  }
});

test('CompletionStream: whole events read without the event parser give what the parser gives, however reads cut them', () => {
  const r = rng(31);
  // Lines that are not one plain `data:` event: the parser's, between and inside the templated ones.
  const odd = [
    ': keep-alive\n\n',
    'event: ping\ndata: {}\n\n',
    'id: 7\n',
    'retry: 10\n',
    '\n',
    'data: [DONE]\n\n',
    'event: error\ndata: {"message":"boom"}\n\n',
  ];
  const shapes = Object.entries(SHAPES);
  for (let round = 0; round < 600; round++) {
    const [name, shape] = shapes[round % shapes.length]!;
    const n = 20;
    let text = '';
    for (let i = 0; i <= n; i++) {
      let data = shape(i, n);
      const k = r();
      if (k < 0.05) data = mutate(data, r);
      // Spellings of the same event: no space after the colon, CRLF or CR line ends, data split over two lines.
      const cut = 1 + Math.floor(r() * (data.length - 1));
      const k2 = r();
      if (k2 < 0.05) text += `data:${data}\n\n`;
      else if (k2 < 0.1) text += `data: ${data}\r\n\r\n`;
      else if (k2 < 0.12) text += `data: ${data}\r\r`;
      else if (k2 < 0.15) text += `data: ${data.slice(0, cut)}\ndata: ${data.slice(cut)}\n\n`;
      else text += `data: ${data}\n\n`;
      if (r() < 0.1) text += odd[Math.floor(r() * odd.length)]!;
    }
    text += r() < 0.5 ? `data: ${FINALS[round % 3]}\n\ndata: [DONE]\n\n` : `data: ${shape(n + 1, n)}`; // or cut off
    // Reads: mostly whole events, some joined, some cut anywhere.
    const reads: string[] = [];
    for (let at = 0; at < text.length; ) {
      const k3 = r();
      let end: number;
      if (k3 < 0.2) end = at + 1 + Math.floor(r() * 300);
      else {
        end = at;
        for (let e = 0, events = k3 < 0.9 ? 1 : 2 + Math.floor(r() * 3); e < events && end < text.length; e++) {
          const b = text.indexOf('\n\n', end);
          end = b < 0 ? text.length : b + 2;
        }
      }
      reads.push(text.slice(at, Math.min(end, text.length)));
      at = Math.min(end, text.length);
    }
    // The reference: every read handed to the stream's event parser alone (its events to `onEvent`), the
    // read's arrival time and count set as `push` sets them.
    const fast = new CompletionStream(0);
    const parsed = new CompletionStream(0);
    const ref = parsed as unknown as { parser: SseParser; now: number; reads: number };
    reads.forEach((x, i) => {
      fast.push(x, i + 1);
      ref.now = i + 1;
      ref.reads++;
      ref.parser.push(x);
    });
    assert.deepEqual({ dangling: fast.end(), ...streamResult(fast) }, { dangling: parsed.end(), ...streamResult(parsed) }, `${name}, round ${round}`);
  }
});

test('CompletionStream: after a read that ends inside an event, the next whole events are read without the event parser', () => {
  const n = 60;
  let text = '';
  for (let i = 1; i <= n; i++) text += `data: ${SHAPES['our server']!(i, n)}\n\n`;
  text += 'data: [DONE]\n\n';
  const s = new CompletionStream(0);
  let parsed = 0;
  const onEvent = s.onEvent.bind(s);
  s.onEvent = (type: string, data: string): void => {
    parsed++;
    onEvent(type, data);
  };
  // Reads of a few events each, every one cut inside an event (as TCP segments cut a burst of them).
  const size = Math.floor(text.length / 12) + 7;
  for (let at = 0, i = 1; at < text.length; at += size, i++) s.push(text.slice(at, at + size), i);
  assert.equal(s.done, true);
  assert.equal(s.tokens, n);
  // The parser's: the first chunks (before a template is learnt), the end of each cut event, the last ones.
  assert.ok(parsed <= 12 + 6, `${parsed} of ${n + 1} events went through the event parser`);
});

test('CompletionStream: a template learnt from data over several lines is not used on one event (its line end splits it)', () => {
  // Pretty-printed chunks, one data line per line: the template's constant text holds line ends.
  const chunk = (i: number): string => JSON.stringify({ choices: [{ text: ' t', finish_reason: null }], usage: { completion_tokens: i } }, null, 1);
  const asEvent = (data: string): string =>
    `${data
      .split('\n')
      .map((l) => `data: ${l}`)
      .join('\n')}\n\n`;
  const s = new CompletionStream(0);
  for (let i = 1; i <= 4; i++) s.push(asEvent(chunk(i)), i);
  assert.equal(s.tokens, 4);
  // The same text as one `data:` line and its continuation lines: to the event parser, a data line `{` and
  // fields named `"choices"`, … : not JSON.
  s.push(`data: ${chunk(5)}\n\n`, 5);
  assert.equal(s.failure?.code, 'SB_STREAM');
  assert.equal(s.tokens, 4);
});

test('a new stream takes over the template the last stream learnt where it matches, and learns its own where not', () => {
  const shape = SHAPES['our server']!;
  const first = new ChunkReader();
  const f = new ChunkFacts();
  for (let i = 0; i < 4; i++) first.read(shape(i, 9), f);
  assert.equal(first.templated, true);
  // The next stream of the same server: its first chunk already matches.
  const next = new ChunkReader();
  assert.equal(next.read(shape(1, 9), f), true);
  assert.deepEqual(plain(f), reference(shape(1, 9)));
  assert.equal(next.hits, 1);
  assert.equal(next.templated, true);
  // A stream with another id (vLLM: one per request) does not match it: scanned, then its own template.
  const other = new ChunkReader();
  const otherChunk = (i: number): string => shape(i, 9).replace(/"id":"[^"]*"/, '"id":"cmpl-other-request"');
  assert.equal(other.read(otherChunk(1), f), true);
  assert.deepEqual(plain(f), reference(otherChunk(1)));
  assert.equal(other.hits, 0);
  other.read(otherChunk(2), f);
  other.read(otherChunk(3), f);
  assert.equal(other.hits, 1);
});

test("a stream's last choice and the usage block after it are read through templates once a stream ended that way", () => {
  for (const [s, name] of ['vLLM completions, per-chunk usage', 'vLLM chat with reasoning', 'SGLang completions', 'SGLang chat'].entries()) {
    const shape = SHAPES[name]!;
    // (One usage layout per shape: a member name differs; the shapes' last choices differ already.)
    const usage = (k: number): string =>
      `{"id":"cmpl-${k}","object":"text_completion","created":1,"model":"m","shape${s}":0,"choices":[],"usage":{"prompt_tokens":${100 + k},"completion_tokens":${20 + k},"total_tokens":${120 + 2 * k}}}`;
    const f = new ChunkFacts();
    for (let k = 0; k < 4; k++) {
      const n = 20 + k;
      const reader = new ChunkReader();
      const stream = [...Array.from({ length: n + 1 }, (_, i) => shape(i, n)), usage(k)];
      const hitsOfLastTwo: boolean[] = [];
      for (const [i, data] of stream.entries()) {
        const before = reader.hits;
        assert.equal(reader.read(data, f), true, `${name}, stream ${k}, chunk ${i}`);
        assert.deepEqual(plain(f), reference(data), `${name}, stream ${k}, chunk ${i}: ${data}`);
        if (i >= stream.length - 2) hitsOfLastTwo.push(reader.hits > before);
      }
      // From the third stream on, the last choice and the usage block match the end templates the two
      // streams before learnt.
      assert.deepEqual(hitsOfLastTwo, [k >= 2, k >= 2], `${name}, stream ${k}`);
    }
  }
});
