/**
 * A run's events and the one recorder both drivers hand their requests to (the run/tracker split of
 * autocannon): the driver says what happened (a request started, a request ended with an outcome, time
 * passed, the run ended); the recorder turns an ending into its stored row; progress lines, live stats,
 * live Prometheus metrics and the scale-out hooks subscribe instead of being called inline.
 */
import type { RequestRow, Store } from '../store/index.js';
import type { RequestSpec, SessionTurn } from '../trace/index.js';
import { outcomeColumns, type RequestOutcome } from './outcome.js';

/** A request handed to the target (live) or the engine (sim); `lagS` is its send − scheduled (trace seconds). */
export interface RequestStarted {
  readonly lagS: number;
}

/** What the run's end event tells its subscribers (the run row is finished by then). */
export interface RunEnd {
  readonly store: Store;
  readonly runId: number;
}

/** A subscriber: any subset of the events. `Tick` is what a driver's tick carries (the sim's progress; nothing live). */
export interface RunListener<Tick = void> {
  requestStarted?(e: RequestStarted): void;
  /** A request ended: its stored row (written already, or the write failed) and its outcome. */
  outcome?(row: RequestRow, outcome: RequestOutcome): void;
  /** A few times a second while the run runs (live), or after each block of arrivals (sim). */
  tick?(t: Tick): void;
  /** The run row is finished; awaited before the closing summary. */
  end?(e: RunEnd): void | Promise<void>;
}

/** The run's event bus. Listeners run in the order they subscribed. */
export class RunEvents<Tick = void> {
  private readonly started: ((e: RequestStarted) => void)[] = [];
  private readonly outcomes: ((row: RequestRow, o: RequestOutcome) => void)[] = [];
  private readonly ticks: ((t: Tick) => void)[] = [];
  private readonly ends: ((e: RunEnd) => void | Promise<void>)[] = [];

  on(l: RunListener<Tick>): this {
    if (l.requestStarted) this.started.push(l.requestStarted.bind(l));
    if (l.outcome) this.outcomes.push(l.outcome.bind(l));
    if (l.tick) this.ticks.push(l.tick.bind(l));
    if (l.end) this.ends.push(l.end.bind(l));
    return this;
  }

  get hasTickListeners(): boolean {
    return this.ticks.length > 0;
  }

  requestStarted(e: RequestStarted): void {
    for (const f of this.started) f(e);
  }

  outcome(row: RequestRow, o: RequestOutcome): void {
    for (const f of this.outcomes) f(row, o);
  }

  tick(t: Tick): void {
    for (const f of this.ticks) f(t);
  }

  async end(e: RunEnd): Promise<void> {
    for (const f of this.ends) await f(e);
  }
}

/** A row's fields other than its outcome's (the driver's measurements). */
export type RequestFields = Omit<RequestRow, 'status' | 'errorCode' | 'error' | 'httpStatus' | 'timeoutPhase'>;

/** The fields every row takes from what was asked: sequence number, trace ids, session turn, arrival and sizes. */
export function specFields(seq: number, spec: RequestSpec, turn: SessionTurn | undefined) {
  return {
    seq,
    traceId: spec.id,
    ...(spec.sessionId === undefined ? {} : { sessionId: spec.sessionId }),
    ...(turn === undefined ? {} : { sessionTurn: turn.turn }),
    arrival: spec.arrival,
    promptTokens: spec.promptTokens,
    outputTokens: spec.outputTokens,
  };
}

/** Where rows go (a RunWriter, or a sim's in-memory sink). */
export interface RowSink {
  addRequest(row: RequestRow): void;
}

/**
 * The one recorder: a request's fields and its outcome become one stored row, and the outcome event goes
 * out, in that order. A failing write still announces the outcome (counts and in-flight stay right) and then
 * throws for the driver to stop the run.
 */
export class Recorder<Tick = void> {
  constructor(
    private readonly sink: RowSink,
    private readonly events: RunEvents<Tick> | undefined,
  ) {}

  /** `fields` is taken over: the outcome's columns are added to it (a sim writes millions of rows; no copy). */
  record(fields: RequestFields, outcome: RequestOutcome): RequestRow {
    const row: RequestRow = Object.assign(fields, outcomeColumns(outcome));
    try {
      this.sink.addRequest(row);
    } finally {
      this.events?.outcome(row, outcome);
    }
    return row;
  }
}
