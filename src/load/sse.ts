/**
 * Incremental Server-Sent Events parser (the WHATWG "event stream" grammar) for streamed completions.
 *
 * Feed it decoded text as it arrives (`push`), in pieces of any size: an event may be split across
 * reads at any character, one read may carry several events. Lines end in CRLF, LF or a lone CR (a CR
 * at the end of one read followed by an LF at the start of the next is one line end). Lines starting
 * with `:` are comments (keep-alives) and are ignored; `data:` lines of one event are joined with `\n`;
 * `event:` sets the event type; `id:` and `retry:` are accepted and ignored; a blank line dispatches.
 * A field name without a colon is a field with an empty value (per the spec).
 *
 * It allocates one string per dispatched event (its data), none per character.
 */

export interface SseSink {
  /** One complete event: `type` is `message` unless an `event:` line said otherwise. */
  onEvent(type: string, data: string): void;
}

const LF = 10;

export class SseParser {
  private readonly sink: SseSink;
  /** Unfinished line carried over from the previous push. */
  private partial = '';
  /** The previous push ended in CR: an LF at the start of the next one belongs to it. */
  private skipLf = false;
  private data = '';
  private hasData = false;
  private type = '';

  constructor(sink: SseSink) {
    this.sink = sink;
  }

  /** Between events: no line, event data or type carried over (the next text starts a new event). */
  get atBoundary(): boolean {
    return this.partial.length === 0 && !this.hasData && !this.skipLf && this.type.length === 0;
  }

  push(text: string): void {
    this.pushFrom(text, 0, false);
  }

  /**
   * Feed `text` from `from`; where `untilBoundary`, stop after the first line that leaves the parser at an
   * event boundary (an event dispatched, a comment) and return the position after it, so that a caller with
   * a faster reader for whole events (src/load/stream.ts) can take over there. Returns `text.length` where
   * it consumed the rest (any unfinished line carried over).
   */
  pushFrom(text: string, from: number, untilBoundary: boolean): number {
    let start = from;
    const n = text.length;
    if (this.skipLf) {
      this.skipLf = false;
      if (start < n && text.charCodeAt(start) === LF) start++;
    }
    // Line ends are found with indexOf (native, fast) rather than char by char. The next CR is searched
    // once and remembered: most streams have none, and then one search covers the whole read.
    let cr = text.indexOf('\r', start);
    while (start < n) {
      let lf = text.indexOf('\n', start);
      if (lf < 0) lf = n;
      if (cr >= 0 && cr < start) cr = text.indexOf('\r', start);
      const isCr = cr >= 0 && cr < lf;
      const i = isCr ? cr : lf;
      if (i >= n) break;
      if (this.partial.length > 0) {
        const line = this.partial + text.slice(start, i);
        this.partial = '';
        this.line(line, 0, line.length);
      } else this.line(text, start, i);
      let next = i + 1;
      if (isCr) {
        if (next < n) {
          if (text.charCodeAt(next) === LF) next++;
        } else {
          this.skipLf = true;
        }
      }
      start = next;
      if (untilBoundary && this.atBoundary) return start;
    }
    if (start < n) this.partial += text.slice(start);
    return n;
  }

  /** End of stream: an unterminated last event is discarded, as the spec says. Returns true if one was. */
  end(): boolean {
    const dangling = this.partial.length > 0 || this.hasData;
    this.partial = '';
    this.data = '';
    this.hasData = false;
    this.type = '';
    return dangling;
  }

  /** One line: `src` from `a` to `b` (exclusive), without its line end. */
  private line(src: string, a: number, b: number): void {
    if (a === b) {
      if (this.hasData) {
        const type = this.type || 'message';
        const data = this.data;
        this.data = '';
        this.hasData = false;
        this.type = '';
        this.sink.onEvent(type, data);
      } else {
        this.type = '';
      }
      return;
    }
    const c0 = src.charCodeAt(a);
    if (c0 === 58 /* ':' */) return;
    let value: string;
    // The usual line, `data: …` / `data:…`, without slicing out its field name first.
    if (c0 === 100 /* 'd' */ && b - a >= 5 && src.startsWith('data:', a)) {
      const v = src.charCodeAt(a + 5) === 32 && a + 5 < b ? a + 6 : a + 5;
      value = src.slice(v, b);
      if (this.hasData) this.data += `\n${value}`;
      else {
        this.data = value;
        this.hasData = true;
      }
      return;
    }
    const colon = src.indexOf(':', a);
    let field: string;
    if (colon < 0 || colon >= b) {
      field = src.slice(a, b);
      value = '';
    } else {
      field = src.slice(a, colon);
      value = src.charCodeAt(colon + 1) === 32 && colon + 1 < b ? src.slice(colon + 2, b) : src.slice(colon + 1, b);
    }
    if (field === 'data') {
      if (this.hasData) this.data += `\n${value}`;
      else {
        this.data = value;
        this.hasData = true;
      }
    } else if (field === 'event') {
      this.type = value;
    }
    // 'id', 'retry' and unknown fields are ignored.
  }
}
