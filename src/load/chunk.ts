/**
 * What the recorder reads from one streamed completion chunk (the `data` of one SSE event), two ways:
 *
 * - `readChunk`, the reference: `JSON.parse`, then the fields looked up on the parsed object.
 * - `scanChunk`, the fast path: one pass over the text that validates it as JSON and picks out the same
 *   fields without building the object (no allocation). It accepts a subset of JSON: wherever the text is
 *   not valid JSON, is not an object, carries an `error` or `splitbench` member that is not null, has a
 *   non-array `choices`, repeats a member the recorder reads, has an escape in a member name, nests deeper
 *   than `MAX_DEPTH`, or has anything else it was not written for, it says so (returns false) and the
 *   caller falls back to `readChunk`. Where it returns true, its facts are those `readChunk` gives
 *   (test/load/chunk.test.ts checks that on the shapes vLLM, SGLang, OpenAI and our server send, and on
 *   random mutations of them).
 *
 * The fields (docs/replay.md, "token counting"): whether `choices` has a first element; whether that choice
 * carries text (`text`, or when there is no `text`, the first non-null of `delta.content`,
 * `delta.reasoning_content`, `delta.reasoning`, being a non-empty string); whether it has a non-null
 * `finish_reason`; and the numbers `usage.prompt_tokens`, `usage.completion_tokens`,
 * `usage.prompt_tokens_details.cached_tokens` (NaN where absent or not a finite number).
 */

export class ChunkFacts {
  hasChoice = false;
  hasText = false;
  finished = false;
  prompt = Number.NaN;
  completion = Number.NaN;
  cached = Number.NaN;

  clear(): void {
    this.hasChoice = false;
    this.hasText = false;
    this.finished = false;
    this.prompt = Number.NaN;
    this.completion = Number.NaN;
    this.cached = Number.NaN;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The reference: JSON.parse.

/** How `readChunk` ended: the facts are filled (`ok`), or the chunk is a failure of the stream. */
export type ChunkVerdict =
  | { readonly kind: 'ok'; readonly obj: Record<string, unknown> }
  | { readonly kind: 'malformed' | 'not-object' | 'bad-choices' }
  | { readonly kind: 'error'; readonly message: string };

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** Parse `data` with JSON.parse and fill `f` (cleared first) with what the recorder reads. */
export function readChunk(data: string, f: ChunkFacts): ChunkVerdict {
  f.clear();
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return { kind: 'malformed' };
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { kind: 'not-object' };
  const o = obj as Record<string, unknown>;
  if (o.error !== undefined && o.error !== null) {
    const e = o.error as Record<string, unknown> | string;
    return { kind: 'error', message: typeof e === 'string' ? e : (str(e.message) ?? JSON.stringify(e)) };
  }
  const choices = o.choices;
  if (Array.isArray(choices) && choices.length > 0) {
    f.hasChoice = true;
    const c = choices[0] as Record<string, unknown> | null;
    if (c && typeof c === 'object') {
      let text: unknown = c.text;
      if (text === undefined && c.delta && typeof c.delta === 'object') {
        const d = c.delta as Record<string, unknown>;
        text = d.content ?? d.reasoning_content ?? d.reasoning;
      }
      f.hasText = typeof text === 'string' && text.length > 0;
      if (c.finish_reason !== undefined && c.finish_reason !== null) f.finished = true;
    }
  } else if (choices !== undefined && !Array.isArray(choices)) {
    return { kind: 'bad-choices' };
  }
  const usage = o.usage;
  if (usage && typeof usage === 'object') {
    const u = usage as Record<string, unknown>;
    f.completion = num(u.completion_tokens);
    f.prompt = num(u.prompt_tokens);
    const details = u.prompt_tokens_details;
    if (details && typeof details === 'object') f.cached = num((details as Record<string, unknown>).cached_tokens);
  }
  return { kind: 'ok', obj: o };
}

// ---------------------------------------------------------------------------------------------------------
// The fast path. Each function takes the text and a position and returns the position after what it
// read, or BAIL (the caller gives up and falls back to readChunk). `s.charCodeAt` past the end is NaN,
// which no test below accepts, so bounds need no separate checks.

const BAIL = -1;
/** Deeper nesting than this is left to JSON.parse. */
export const MAX_DEPTH = 32;

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const LF = 10;

function ws(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** A string starting at the quote at `i`. */
function skipString(s: string, i: number): number {
  i++;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      const e = s.charCodeAt(i + 1);
      if (e === 117 /* u */) {
        if (!(isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5)))) return BAIL;
        i += 6;
      } else if (e === QUOTE || e === BACKSLASH || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
        i += 2;
      } else return BAIL;
    } else if (c >= 32) i++;
    else return BAIL; // a control character (JSON.parse rejects it) or the end of the text (NaN)
  }
}

/** A member name starting at the quote at `i`: as a string, but an escape in it is left to JSON.parse. */
function skipKey(s: string, i: number): number {
  i++;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c >= 32 && c !== BACKSLASH) i++;
    else return BAIL;
  }
}

function digits(s: string, i: number): number {
  let c = s.charCodeAt(i);
  while (c >= 48 && c <= 57) c = s.charCodeAt(++i);
  return i;
}

/** A number (the JSON grammar) starting at `i`. */
function skipNumber(s: string, i: number): number {
  if (s.charCodeAt(i) === 45 /* - */) i++;
  const c = s.charCodeAt(i);
  if (c === 48) i++;
  else if (c >= 49 && c <= 57) i = digits(s, i + 1);
  else return BAIL;
  if (s.charCodeAt(i) === 46 /* . */) {
    const j = digits(s, i + 1);
    if (j === i + 1) return BAIL;
    i = j;
  }
  const e = s.charCodeAt(i);
  if (e === 101 || e === 69 /* e E */) {
    i++;
    const sign = s.charCodeAt(i);
    if (sign === 43 || sign === 45) i++;
    const j = digits(s, i);
    if (j === i) return BAIL;
    i = j;
  }
  return i;
}

/** The value of the number text from `a` to `b` (already validated), as JSON.parse gives it; NaN if not finite. */
function numberValue(s: string, a: number, b: number): number {
  let i = a;
  const neg = s.charCodeAt(a) === 45;
  if (neg) i++;
  let v = 0;
  if (b - i <= 15) {
    for (; i < b; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
    }
    if (i === b) return neg ? -v : v;
  }
  const x = Number(s.slice(a, b));
  return Number.isFinite(x) ? x : Number.NaN;
}

/** `c` starts a number. */
function isNumber(c: number): boolean {
  return c === 45 || (c >= 48 && c <= 57);
}

// Roles of the scalar values the recorder reads (0: a value it does not read).
const R_TEXT = 1;
const R_CONTENT = 2;
const R_REASONING_CONTENT = 3;
const R_REASONING = 4;
const R_FINISH = 5;
const R_COMPLETION = 6;
const R_PROMPT = 7;
const R_CACHED = 8;

/** The scalar values of the chunk being scanned, for learning a template: start, end, role (three ints each). */
const REC_MAX = 128;
const rec = new Int32Array(REC_MAX * 3);
let recN = 0;
/** The scan's values can make a template (none of the read members holds an object or array, not too many values). */
let recOk = true;
/** Role of the value about to be read. */
let role = 0;

/** A string, number, true, false or null starting at `i`. */
function skipScalar(s: string, i: number): number {
  const c = s.charCodeAt(i);
  let end: number;
  if (c === QUOTE) end = skipString(s, i);
  else if (c === 110 /* n */) end = s.startsWith('null', i) ? i + 4 : BAIL;
  else if (c === 116 /* t */) end = s.startsWith('true', i) ? i + 4 : BAIL;
  else if (c === 102 /* f */) end = s.startsWith('false', i) ? i + 5 : BAIL;
  else end = skipNumber(s, i);
  return end;
}

/** Any value starting at `i` (no whitespace before it); scalars are recorded with the current role. */
function skipValue(s: string, i: number, depth: number): number {
  const c = s.charCodeAt(i);
  if (c === LBRACE || c === LBRACKET) {
    if (role !== 0) {
      recOk = false;
      role = 0;
    }
    if (depth >= MAX_DEPTH) return BAIL;
    return c === LBRACE ? walkObject(s, i, depth, skipMember) : walkArray(s, i, depth, skipValue);
  }
  const end = skipScalar(s, i);
  if (end >= 0) {
    if (recN < REC_MAX) {
      const k = recN * 3;
      rec[k] = i;
      rec[k + 1] = end;
      rec[k + 2] = role;
      recN++;
    } else recOk = false;
  }
  role = 0;
  return end;
}

/** The member name from `a` to `b` (the quotes included) is `name`. */
function isKey(s: string, a: number, b: number, name: string): boolean {
  return b - a === name.length + 2 && s.startsWith(name, a + 1);
}

// Text states of a choice's candidate text fields: absent or null / present, not a non-empty string / a non-empty string.
const T_NONE = 0;
const T_OTHER = 1;
const T_TEXT = 2;

/** State of the value starting at `i` ending at `end`, as a candidate text. */
function textState(s: string, i: number, end: number): number {
  const c = s.charCodeAt(i);
  if (c === QUOTE) return end - i > 2 ? T_TEXT : T_OTHER;
  return c === 110 /* null */ ? T_NONE : T_OTHER;
}

/** Walk an array starting at the `[` at `i`: its first element with `first`, the others skipped. Returns the position after `]`. */
function walkArray(s: string, i: number, depth: number, first: (s: string, i: number, depth: number) => number): number {
  i = ws(s, i + 1);
  if (s.charCodeAt(i) === RBRACKET) return i + 1;
  i = first(s, i, depth + 1);
  for (;;) {
    if (i < 0) return BAIL;
    i = ws(s, i);
    const d = s.charCodeAt(i);
    if (d === RBRACKET) return i + 1;
    if (d !== COMMA) return BAIL;
    i = skipValue(s, ws(s, i + 1), depth + 1);
  }
}

/**
 * Walk an object's members starting at the `{` at `i`, calling `member(nameStart, nameEnd, valueStart)`
 * for each; `member` returns the position after the value, or BAIL. Returns the position after `}`.
 */
type Member = (s: string, ka: number, kb: number, v: number, depth: number) => number;

function walkObject(s: string, i: number, depth: number, member: Member): number {
  i = ws(s, i + 1);
  if (s.charCodeAt(i) === RBRACE) return i + 1;
  for (;;) {
    if (s.charCodeAt(i) !== QUOTE) return BAIL;
    // A member name with an escape could be one the scan reads: left to JSON.parse, except in skipped objects.
    const kb = member === skipMember ? skipString(s, i) : skipKey(s, i);
    if (kb < 0) return BAIL;
    let v = ws(s, kb);
    if (s.charCodeAt(v) !== COLON) return BAIL;
    v = ws(s, v + 1);
    const end = member(s, i, kb, v, depth + 1);
    if (end < 0) return BAIL;
    i = ws(s, end);
    const d = s.charCodeAt(i);
    if (d === RBRACE) return i + 1;
    if (d !== COMMA) return BAIL;
    i = ws(s, i + 1);
  }
}

const skipMember: Member = (s, _ka, _kb, v, depth) => skipValue(s, v, depth);

// The scan's results, in module state (one scan at a time; nothing here is re-entrant or asynchronous).
let out: ChunkFacts = new ChunkFacts();
// The objects whose members the scan reads, for `seen`.
const L_TOP = 0;
const L_CHOICE = 1;
const L_DELTA = 2;
const L_USAGE = 3;
const L_DETAILS = 4;
/** Members already seen in the object being walked at each level (one bit each). */
const seen = new Int32Array(5);
/** Text states of the first choice's `text` and its delta's `content`, `reasoning_content`, `reasoning` (index: role − 1). */
const texts = new Int32Array(4);
let hasTextMember = false;
let deltaIsObject = false;

/** Which of `names` the member name from `ka` to `kb` is: its bit (1, 2, 4), 0 for none of them. */
function memberBit(s: string, ka: number, kb: number, names: readonly string[]): number {
  for (let k = 0; k < names.length; k++) if (isKey(s, ka, kb, names[k]!)) return 1 << k;
  return 0;
}

/** Member `bit` of the object at `level` is read for the first time (a repeated one is left to JSON.parse, which keeps the last). */
function first(level: number, bit: number): boolean {
  if ((seen[level]! & bit) !== 0) return false;
  seen[level]! |= bit;
  return true;
}

/** A candidate text value with role `r` (R_TEXT … R_REASONING). */
function textMember(s: string, v: number, depth: number, r: number): number {
  role = r;
  const end = skipValue(s, v, depth);
  if (end >= 0) texts[r - 1] = textState(s, v, end);
  return end;
}

/** A counter with role `r` (R_COMPLETION, R_PROMPT, R_CACHED). */
function counterMember(s: string, v: number, depth: number, r: number): number {
  role = r;
  const end = skipValue(s, v, depth);
  if (end >= 0 && isNumber(s.charCodeAt(v))) setCounter(out, r, numberValue(s, v, end));
  return end;
}

function setCounter(f: ChunkFacts, r: number, x: number): void {
  if (r === R_COMPLETION) f.completion = x;
  else if (r === R_PROMPT) f.prompt = x;
  else f.cached = x;
}

/** Member `bit` (with a value starting at `v`) is an object, walked with `member`; else it is skipped. */
function objectMember(s: string, v: number, depth: number, level: number, member: Member): number {
  if (s.charCodeAt(v) !== LBRACE) return skipValue(s, v, depth);
  seen[level] = 0;
  return walkObject(s, v, depth, member);
}

const DETAILS = ['cached_tokens'];
const detailsMember: Member = (s, ka, kb, v, depth) => {
  const bit = memberBit(s, ka, kb, DETAILS);
  if (bit === 0) return skipValue(s, v, depth);
  return first(L_DETAILS, bit) ? counterMember(s, v, depth, R_CACHED) : BAIL;
};

const USAGE = ['completion_tokens', 'prompt_tokens', 'prompt_tokens_details'];
const usageMember: Member = (s, ka, kb, v, depth) => {
  const bit = memberBit(s, ka, kb, USAGE);
  if (bit === 0) return skipValue(s, v, depth);
  if (!first(L_USAGE, bit)) return BAIL;
  if (bit === 4) return objectMember(s, v, depth, L_DETAILS, detailsMember);
  return counterMember(s, v, depth, bit === 1 ? R_COMPLETION : R_PROMPT);
};

const DELTA = ['content', 'reasoning_content', 'reasoning'];
const deltaMember: Member = (s, ka, kb, v, depth) => {
  const bit = memberBit(s, ka, kb, DELTA);
  if (bit === 0) return skipValue(s, v, depth);
  if (!first(L_DELTA, bit)) return BAIL;
  return textMember(s, v, depth, bit === 1 ? R_CONTENT : bit === 2 ? R_REASONING_CONTENT : R_REASONING);
};

const CHOICE = ['text', 'delta', 'finish_reason'];
const choiceMember: Member = (s, ka, kb, v, depth) => {
  const bit = memberBit(s, ka, kb, CHOICE);
  if (bit === 0) return skipValue(s, v, depth);
  if (!first(L_CHOICE, bit)) return BAIL;
  if (bit === 1) {
    hasTextMember = true;
    return textMember(s, v, depth, R_TEXT);
  }
  if (bit === 2) {
    // An array is an object to the reference too, but has none of the members: no text either way.
    deltaIsObject = s.charCodeAt(v) === LBRACE;
    return objectMember(s, v, depth, L_DELTA, deltaMember);
  }
  role = R_FINISH;
  const end = skipValue(s, v, depth);
  if (end >= 0) out.finished = s.charCodeAt(v) !== 110 /* null */;
  return end;
};

/** `choices`, starting at `v`: an array, its first element read as a choice, the rest skipped. */
function choicesValue(s: string, v: number, depth: number): number {
  if (s.charCodeAt(v) !== LBRACKET) return BAIL; // null, an object, …: the reference fails the stream
  if (depth >= MAX_DEPTH) return BAIL;
  return walkArray(s, v, depth, firstChoice);
}

function firstChoice(s: string, i: number, depth: number): number {
  out.hasChoice = true;
  return objectMember(s, i, depth, L_CHOICE, choiceMember);
}

const TOP = ['choices', 'usage', 'error', 'splitbench'];
const topMember: Member = (s, ka, kb, v, depth) => {
  const bit = memberBit(s, ka, kb, TOP);
  if (bit === 0) return skipValue(s, v, depth);
  if (bit >= 4) return s.startsWith('null', v) ? v + 4 : BAIL; // error, splitbench: the reference reads them
  if (!first(L_TOP, bit)) return BAIL;
  return bit === 1 ? choicesValue(s, v, depth) : objectMember(s, v, depth, L_USAGE, usageMember);
};

/**
 * Whether the first choice carries text, from the text states of its members: `text` where it has one,
 * else the first non-null of its delta's `content`, `reasoning_content`, `reasoning`.
 */
function hasText(t: Int32Array, textMember: boolean, deltaObject: boolean): boolean {
  if (textMember) return t[0] === T_TEXT;
  if (!deltaObject) return false;
  return (t[1] !== T_NONE ? t[1] : t[2] !== T_NONE ? t[2] : t[3]) === T_TEXT;
}

/**
 * The fast path: fill `f` (cleared first) from the chunk text `s`, as `readChunk` would, without parsing it
 * into an object. Returns false where it cannot tell (see the file comment): then `f` means nothing and the
 * caller uses `readChunk`.
 */
export function scanChunk(s: string, f: ChunkFacts): boolean {
  f.clear();
  out = f;
  seen[L_TOP] = 0;
  recN = 0;
  recOk = true;
  role = 0;
  texts.fill(T_NONE);
  hasTextMember = false;
  deltaIsObject = false;
  const i = ws(s, 0);
  if (s.charCodeAt(i) !== LBRACE) return false;
  const end = walkObject(s, i, 0, topMember);
  if (end < 0 || ws(s, end) !== s.length) return false;
  f.hasText = hasText(texts, hasTextMember, deltaIsObject);
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Templates. The chunks of one stream mostly differ only in a few values (the text, the counters, the
// finish reason); the rest (the id, the model, every member name) is the same text each time. A template is
// a chunk the scan accepted, cut into constant text and slots, one slot per scalar value that differed
// between two consecutive chunks or that the recorder reads. A chunk that is the constant text with a valid
// scalar in each slot is valid JSON of the same structure, so its facts are the template's with the read
// slots read again: matching costs a `startsWith` per constant piece and a short scan per slot.

class Template {
  /** Text states while matching (index: role − 1), from `baseText`. */
  private readonly texts = new Int32Array(4);

  /** No constant piece holds a line end: a match inside an SSE event cannot span lines (see `ChunkReader.readEvent`). */
  readonly oneLine: boolean;

  constructor(
    /** Constant pieces, one more than there are slots: piece 0, slot 0, piece 1, … */
    private readonly pieces: readonly string[],
    private readonly roles: Int32Array,
    /** The facts of the chunk it was learnt from; the read slots override them. */
    private readonly base: ChunkFacts,
    /** Text states of the chunk it was learnt from (as `texts`). */
    private readonly baseText: Int32Array,
    private readonly hasTextMember: boolean,
    private readonly deltaIsObject: boolean,
  ) {
    this.oneLine = pieces.every((p) => p.indexOf('\n') < 0 && p.indexOf('\r') < 0);
  }

  /** Whether `s` is a chunk of this template (then `f` holds its facts). */
  match(s: string, f: ChunkFacts): boolean {
    return this.matchAt(s, 0, f) === s.length;
  }

  /**
   * Match the template against `s` from `start`: the position after its last piece, or -1. Where it returns
   * a position, `f` holds the facts of the chunk `s.slice(start, that position)`; else `f` means nothing.
   */
  matchAt(s: string, start: number, f: ChunkFacts): number {
    const pieces = this.pieces;
    const roles = this.roles;
    const base = this.base;
    const t = this.texts;
    const bt = this.baseText;
    // (Four assignments: TypedArray.prototype.set costs more than the whole rest of a short chunk's match.)
    t[0] = bt[0]!;
    t[1] = bt[1]!;
    t[2] = bt[2]!;
    t[3] = bt[3]!;
    f.finished = base.finished;
    f.completion = base.completion;
    f.prompt = base.prompt;
    f.cached = base.cached;
    let pos = start;
    const n = roles.length;
    for (let k = 0; k < n; k++) {
      const piece = pieces[k]!;
      const next = pos + piece.length;
      // slice + === compares natively; startsWith walks character by character (several times slower).
      if (s.slice(pos, next) !== piece) return -1;
      pos = next;
      const end = skipScalar(s, pos);
      if (end < 0) return -1;
      const r = roles[k]!;
      if (r >= R_COMPLETION) setCounter(f, r, isNumber(s.charCodeAt(pos)) ? numberValue(s, pos, end) : Number.NaN);
      else if (r === R_FINISH) f.finished = s.charCodeAt(pos) !== 110 /* null */;
      else if (r !== 0) t[r - 1] = textState(s, pos, end);
      pos = end;
    }
    const last = pieces[n]!;
    const end = pos + last.length;
    if (end > s.length || s.slice(pos, end) !== last) return -1;
    f.hasChoice = base.hasChoice;
    f.hasText = hasText(t, this.hasTextMember, this.deltaIsObject);
    return end;
  }
}

/** `data:` at `i` of `s` (startsWith compares character by character through a slower path). */
function isDataField(s: string, i: number): boolean {
  return s.charCodeAt(i) === 100 && s.charCodeAt(i + 1) === 97 && s.charCodeAt(i + 2) === 116 && s.charCodeAt(i + 3) === 97 && s.charCodeAt(i + 4) === COLON;
}

/**
 * The template learnt last, by any stream: a new stream tries it on its first chunks before learning its own
 * (the streams of one run mostly share a layout). A template that matches gives a chunk's facts whichever
 * stream it was learnt from: its constant text and values are the whole chunk.
 */
let recent: Template | undefined;

/** Template misses (the final usage chunk, a changed layout) tolerated before the template is learnt anew. */
const MISSES = 4;

/**
 * The template of two scanned chunks of the same layout, `prev` (its values `pr`) and `cur` (the chunk just
 * scanned, its values `cr`; its facts still in the scan's state); undefined where their layouts differ.
 */
function templateOf(prev: string | undefined, pr: Int32Array | undefined, cur: string, cr: Int32Array): Template | undefined {
  if (prev === undefined || pr === undefined || pr.length !== cr.length) return undefined;
  // Same layout: the text between values is the same in both.
  const m = cr.length / 3;
  let pa = 0;
  let ca = 0;
  for (let k = 0; k <= m; k++) {
    const pb = k < m ? pr[k * 3]! : prev.length;
    const cb = k < m ? cr[k * 3]! : cur.length;
    if (pb - pa !== cb - ca || prev.slice(pa, pb) !== cur.slice(ca, cb)) return undefined;
    if (k < m) {
      pa = pr[k * 3 + 1]!;
      ca = cr[k * 3 + 1]!;
    }
  }
  const pieces: string[] = [];
  const roles: number[] = [];
  let from = 0;
  for (let k = 0; k < m; k++) {
    const a = cr[k * 3]!;
    const b = cr[k * 3 + 1]!;
    // A value the same in both chunks is constant text, read or not (the template keeps its fact).
    if (prev.slice(pr[k * 3]!, pr[k * 3 + 1]!) === cur.slice(a, b)) continue;
    pieces.push(cur.slice(from, a));
    roles.push(cr[k * 3 + 2]!);
    from = b;
  }
  pieces.push(cur.slice(from));
  const base = new ChunkFacts();
  base.hasChoice = out.hasChoice;
  base.finished = out.finished;
  base.completion = out.completion;
  base.prompt = out.prompt;
  base.cached = out.cached;
  return new Template(pieces, Int32Array.from(roles), base, texts.slice(), hasTextMember, deltaIsObject);
}

/**
 * The chunks a stream sees once, at its end: its last choice (with its finish reason) and the usage block
 * after it (no choice). They miss the stream's template, but the streams of a run end alike: each kind has
 * a template learnt from two such chunks of the same layout, by any streams (the last one scanned, and the
 * template).
 */
class EndTemplate {
  private prev: string | undefined;
  private prevRec: Int32Array | undefined;
  template: Template | undefined;

  /** A chunk of this kind that missed its stream's template was just scanned: learn from it and the last one. */
  learn(cur: string): void {
    const cr = rec.slice(0, recN * 3);
    const t = templateOf(this.prev, this.prevRec, cur, cr);
    if (t !== undefined) this.template = t;
    this.prev = cur;
    this.prevRec = cr;
  }
}

const lastChoice = new EndTemplate();
const usageBlock = new EndTemplate();

/** The end template whose chunk `s` (from `start`) is, and `f` its facts: the position after it, or -1. */
function matchEnd(s: string, start: number, f: ChunkFacts, oneLine: boolean): number {
  const a = lastChoice.template;
  if (a !== undefined && (!oneLine || a.oneLine)) {
    const end = a.matchAt(s, start, f);
    if (end >= 0) return end;
  }
  const b = usageBlock.template;
  return b !== undefined && (!oneLine || b.oneLine) ? b.matchAt(s, start, f) : -1;
}

/**
 * Reads the chunks of one stream: through its template once one is learnt (from the stream's first two
 * chunks of the same layout) or taken over (the last one learnt, where it matches), a chunk that misses it through
 * an end template where one matches (the last choice, the usage block), else with the scan. `read` fills `f` as `readChunk` would and returns true,
 * or returns false where the caller must use `readChunk`.
 */
export class ChunkReader {
  private template: Template | undefined;
  private misses = 0;
  /** The previous scanned chunk and its values, to learn a template from it and the next. */
  private prev: string | undefined;
  private prevRec: Int32Array | undefined;
  /** Chunks read through the template. */
  hits = 0;

  read(data: string, f: ChunkFacts): boolean {
    const t = this.template;
    if (t === undefined && recent !== undefined && recent.match(data, f)) {
      this.template = recent;
      this.hits++;
      return true;
    }
    if (t !== undefined) {
      if (t.match(data, f)) {
        this.hits++;
        return true;
      }
      // The stream's last choice or the usage block: the layouts the last streams ended with.
      if (matchEnd(data, 0, f, false) === data.length) {
        this.hits++;
        return true;
      }
      // (`f` is half-filled: the scan clears it.)
      if (++this.misses <= MISSES) {
        if (!scanChunk(data, f)) return false;
        if (recOk && !f.hasChoice) usageBlock.learn(data);
        else if (recOk && f.finished) lastChoice.learn(data);
        return true;
      }
      this.template = undefined;
      this.misses = 0;
    }
    if (!scanChunk(data, f)) return false;
    if (recOk) this.learn(data);
    return true;
  }

  /**
   * The SSE event at `at` of `text` (a read, the event parser at an event boundary), where it is one
   * `data:` line holding a chunk this stream's template (or, once it has one, an end template) matches and a blank line: `f` holds the chunk's
   * facts (as `read` would give for the event's data) and the position after the event is returned; else
   * -1 and nothing changed (the caller hands the text to the event parser). The SSE parser would dispatch
   * the same one event: the template's pieces hold no line end and its values cannot (a JSON scalar has no
   * raw control character), so the line ends at the match's end.
   */
  readEvent(text: string, at: number, f: ChunkFacts): number {
    const t = this.template ?? recent;
    if (t === undefined || !isDataField(text, at)) return -1;
    const v = text.charCodeAt(at + 5) === 32 ? at + 6 : at + 5;
    let end = t.oneLine ? t.matchAt(text, v, f) : -1;
    const own = end >= 0;
    if (!own && this.template !== undefined) end = matchEnd(text, v, f, true);
    if (end < 0 || text.charCodeAt(end) !== LF || text.charCodeAt(end + 1) !== LF) return -1;
    if (own) this.template = t;
    this.hits++;
    return end + 2;
  }

  /** Whether a template is in use (for tests). */
  get templated(): boolean {
    return this.template !== undefined;
  }

  private learn(cur: string): void {
    const prev = this.prev;
    const pr = this.prevRec;
    const cr = rec.slice(0, recN * 3);
    this.prev = cur;
    this.prevRec = cr;
    const t = templateOf(prev, pr, cur, cr);
    if (t === undefined) return;
    this.template = t;
    recent = t;
    this.misses = 0;
    this.prev = undefined;
    this.prevRec = undefined;
  }
}
