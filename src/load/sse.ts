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
const CR = 13;

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

  push(text: string): void {
    let start = 0;
    const n = text.length;
    if (this.skipLf) {
      this.skipLf = false;
      if (n > 0 && text.charCodeAt(0) === LF) start = 1;
    }
    let i = start;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) {
        i++;
        continue;
      }
      let line = text.slice(start, i);
      if (this.partial.length > 0) {
        line = this.partial + line;
        this.partial = '';
      }
      this.line(line);
      if (c === CR) {
        if (i + 1 < n) {
          if (text.charCodeAt(i + 1) === LF) i++;
        } else {
          this.skipLf = true;
        }
      }
      i++;
      start = i;
    }
    if (start < n) this.partial += text.slice(start);
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

  private line(line: string): void {
    if (line.length === 0) {
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
    if (line.charCodeAt(0) === 58 /* ':' */) return;
    const colon = line.indexOf(':');
    let field: string;
    let value: string;
    if (colon < 0) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
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
