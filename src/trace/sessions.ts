/**
 * Multi-turn session workloads: a closed loop within each session, an open loop across sessions.
 *
 * A session is a conversation: turn k + 1's prompt is turn k's prompt, plus turn k's answer, plus new user
 * tokens, and it is sent a think time after turn k's answer completed. Sessions start on the trace's schedule
 * (their first turn's arrival), whatever the others are doing.
 *
 * This module is the closed-loop seam both drivers plug into (the live replay and the simulator): it is fed
 * the trace's rows in arrival order (`feed`) and told when a turn finished (`complete`), and hands back the
 * turns to send and when (`SessionTurn.dueS`, seconds from t0 on the driver's clock). It keeps no clock.
 *
 * Turns of a trace (docs/traces.md "Sessions"):
 * - Rows with a session id (`session_id`, `conversation_id`, `chat_id`) are the turns of that session, in
 *   trace order.
 * - Rows without one but with prefix block hashes continue the session whose latest turn's blocks they begin
 *   with: all of that turn's hash ids, or all but its last (the partial block, which the next turn fills:
 *   the Mooncake synthetic trace's multi-turn order). Of several candidates the longest match wins, and of
 *   equal ones the session that registered it last. Other rows start a session of their own (its id: the
 *   row's request id).
 * - Think time before turn k + 1: the gap between the two rows' trace arrivals. A trace written by
 *   `trace synth --sessions` stores each turn at the previous one's arrival plus its drawn think time, so
 *   reading it back gives exactly the drawn think times.
 * - Turn k + 1's prompt: the trace's, but at least turn k's prompt + answer + 1 new token (a trace whose
 *   prompt is shorter than that is lengthened; `lengthened` counts them).
 * - Prefix blocks (512 tokens each): a session is one growing stream of blocks. Turn 0's blocks are the
 *   row's hash ids (or fresh ids where the row has none); a later turn extends the stream with the row's
 *   hash ids at the new positions, or fresh ids where it has none. A turn's hash ids are the stream's first
 *   ⌈prompt / 512⌉ blocks, so on the wire (one fixed token block per hash id, the last one cut to length)
 *   turn k + 1's prompt begins with turn k's prompt and the tokens standing for its answer, and a prefix
 *   cache (the engine's, or a real server's) hits on every whole block of them. Fresh ids are negative
 *   (−1, −2, …), clear of any trace's own ids.
 * - A turn that did not complete (error, timeout, cancelled) ends its session: it has no answer to continue
 *   from; the session's later turns are not sent (`dropped`).
 *
 * Memory: one small record per session seen (its block list included), for the whole run.
 */
import { MOONCAKE_BLOCK_TOKENS } from './readers/mooncake.js';
import type { RequestSpec } from './types.js';

/** One turn to send: its request (arrival = when it is due), its session and its index there. */
export interface SessionTurn {
  /** The request: `arrival` = `dueS`, `sessionId` set, prompt and hash ids those of the session's context. */
  readonly spec: RequestSpec;
  readonly sessionId: string;
  /** 0-based turn index within the session. */
  readonly turn: number;
  /** When the turn is due (seconds from t0): its trace arrival for turn 0, else the previous answer's end + think time. */
  readonly dueS: number;
  /** Think time before this turn (seconds; 0 for turn 0). */
  readonly thinkS: number;
}

/** Counts over the workload so far. */
export interface SessionCounts {
  readonly sessions: number;
  /** Turns handed out to send (and sent). */
  readonly released: number;
  /** Turns never sent: an earlier turn of their session did not complete, or they were past the run's limits. */
  readonly dropped: number;
  /** Turns whose trace prompt was shorter than the previous prompt + answer + 1, and was lengthened. */
  readonly lengthened: number;
}

interface Pending {
  readonly row: RequestSpec;
  readonly thinkS: number;
}

interface Session {
  readonly id: string;
  /** Turns released so far. */
  turns: number;
  /** The last released turn's prompt and output tokens. */
  promptTokens: number;
  outputTokens: number;
  readonly blocks: number[];
  /** Trace arrival of the last row fed. */
  lastArrival: number;
  /** Rows fed, not yet released. */
  readonly queue: Pending[];
  /** A turn is in flight. */
  busy: boolean;
  /** When its last turn ended (undefined while the first is in flight). */
  endS: number | undefined;
  /** A turn failed: later turns are dropped. */
  ended: boolean;
  /** Prefix-chain keys registered for it (rows without session ids). */
  keys: string[];
}

/** Tokens per prefix block (Mooncake's `hash_ids` block). */
export const SESSION_BLOCK_TOKENS = MOONCAKE_BLOCK_TOKENS;

export class SessionWorkload {
  private readonly byId = new Map<string, Session>();
  private readonly byPrefix = new Map<string, Session>();
  private nextFresh = -1;
  private sessions = 0;
  private released = 0;
  private dropped = 0;
  private lengthened = 0;
  private inFlight = 0;
  private queued = 0;

  /** Counts so far. */
  counts(): SessionCounts {
    return { sessions: this.sessions, released: this.released, dropped: this.dropped, lengthened: this.lengthened };
  }

  /** Turns in flight or waiting for their session's previous turn: 0 once every fed row was dealt with. */
  get open(): number {
    return this.inFlight + this.queued;
  }

  /**
   * The next trace row, in arrival order. Returns the turn to send (due at `dueS`, never before the row's
   * arrival) when it can go now, i.e. it starts a session or its session is idle; undefined when it waits
   * for its session's turn in flight (then `complete` releases it), or is dropped.
   */
  feed(row: RequestSpec): SessionTurn | undefined {
    const s = this.sessionOf(row);
    if (s === undefined) return this.start(row);
    const thinkS = Math.max(0, row.arrival - s.lastArrival);
    s.lastArrival = row.arrival;
    if (row.sessionId === undefined && row.hashIds) this.register(s, row.hashIds);
    if (s.ended) {
      this.dropped++;
      return undefined;
    }
    if (!s.busy && s.queue.length === 0 && s.endS !== undefined) return this.release(s, row, thinkS, s.endS + thinkS);
    s.queue.push({ row, thinkS });
    this.queued++;
    return undefined;
  }

  /**
   * A turn finished at `endS` (seconds from t0, the driver's clock); `ok`: it completed with an answer.
   * Returns the session's next turn (due at `endS` + its think time) when its row was already fed.
   */
  complete(turn: SessionTurn, endS: number, ok: boolean): SessionTurn | undefined {
    const s = this.byId.get(turn.sessionId);
    if (s === undefined || !s.busy) throw new Error(`session ${turn.sessionId}: turn ${turn.turn} completed but none is in flight`);
    s.busy = false;
    this.inFlight--;
    if (!ok) {
      s.ended = true;
      this.dropped += s.queue.length;
      this.queued -= s.queue.length;
      s.queue.length = 0;
      return undefined;
    }
    s.endS = endS;
    const next = s.queue.shift();
    if (next === undefined) return undefined;
    this.queued--;
    return this.release(s, next.row, next.thinkS, endS + next.thinkS);
  }

  /**
   * A released turn the driver did not send (past `--max-requests` / `--duration`): it counts as dropped, and
   * its session ends there (it has no answer to continue from).
   */
  unsent(turn: SessionTurn): void {
    this.complete(turn, turn.dueS, false);
    this.released--;
    this.dropped++;
  }

  private sessionOf(row: RequestSpec): Session | undefined {
    if (row.sessionId !== undefined) return this.byId.get(row.sessionId);
    const h = row.hashIds;
    if (!h || h.length === 0) return undefined;
    // Longest registered prefix of h.
    let key = '';
    let best: Session | undefined;
    for (let k = 0; k < h.length; k++) {
      key = k === 0 ? String(h[0]) : `${key},${h[k]}`;
      const s = this.byPrefix.get(key);
      if (s !== undefined) best = s;
    }
    return best;
  }

  /** Prefix-chain keys of a session's latest row: all its hash ids, and all but the last. */
  private register(s: Session, h: readonly number[]): void {
    for (const k of s.keys) if (this.byPrefix.get(k) === s) this.byPrefix.delete(k);
    s.keys = [];
    const all = h.join(',');
    this.byPrefix.set(all, s);
    s.keys.push(all);
    if (h.length >= 2) {
      const butLast = h.slice(0, -1).join(',');
      this.byPrefix.set(butLast, s);
      s.keys.push(butLast);
    }
  }

  private start(row: RequestSpec): SessionTurn {
    const id = row.sessionId ?? row.id;
    // A row without a session id whose request id names an existing session: keep ids distinct.
    let sid = id;
    for (let n = 2; this.byId.has(sid); n++) sid = `${id}#${n}`;
    const s: Session = {
      id: sid,
      turns: 0,
      promptTokens: 0,
      outputTokens: 0,
      blocks: [],
      lastArrival: row.arrival,
      queue: [],
      busy: false,
      endS: undefined,
      ended: false,
      keys: [],
    };
    this.byId.set(sid, s);
    this.sessions++;
    if (row.sessionId === undefined && row.hashIds) this.register(s, row.hashIds);
    return this.release(s, row, 0, row.arrival);
  }

  private release(s: Session, row: RequestSpec, thinkS: number, dueS: number): SessionTurn {
    let prompt = row.promptTokens;
    if (s.turns > 0) {
      const least = s.promptTokens + s.outputTokens + 1;
      if (prompt < least) {
        prompt = least;
        this.lengthened++;
      }
    }
    const n = Math.ceil(prompt / SESSION_BLOCK_TOKENS);
    const h = row.hashIds;
    for (let i = s.blocks.length; i < n; i++) s.blocks.push(h !== undefined && i < h.length ? h[i]! : this.nextFresh--);
    const turn = s.turns++;
    s.promptTokens = prompt;
    s.outputTokens = row.outputTokens;
    s.busy = true;
    this.inFlight++;
    this.released++;
    const spec: RequestSpec = {
      id: row.id,
      arrival: dueS,
      promptTokens: prompt,
      outputTokens: row.outputTokens,
      sessionId: s.id,
      hashIds: s.blocks.slice(0, n),
    };
    return { spec, sessionId: s.id, turn, dueS, thinkS };
  }
}
