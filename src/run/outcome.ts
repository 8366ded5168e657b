/**
 * How one request ended, as both drivers report it: the live one (HTTP/SSE to a target, src/load) and the
 * simulated one (the engine on a virtual clock, src/sim). One discriminated union, one mapping to the stored
 * columns (`status`, `error_code`, `error`, `http_status`, `timeout_phase`), so a live run and a sim write
 * the same words for the same ending. Codes come from the one table in src/errors.ts.
 */
import { RequestErrorCode, type SystemErrorCode, type TimeoutPhase } from '../errors.js';
import type { RequestRow } from '../store/index.js';

export type RequestOutcome =
  /** Completed with an answer. */
  | { readonly kind: 'ok' }
  /** Failed: a code of the table (or a connection's own code), a message, and the HTTP status where one was answered. */
  | { readonly kind: 'error'; readonly code: RequestErrorCode | SystemErrorCode; readonly message: string; readonly httpStatus?: number }
  /** A per-request timeout fired in `phase` after `limitS` seconds (wall). */
  | { readonly kind: 'timeout'; readonly phase: TimeoutPhase; readonly limitS: number }
  /** Cancelled by the run (second interrupt, grace period over, target lost). */
  | { readonly kind: 'cancelled'; readonly message: string }
  /** Still in flight when the run ended and nothing was left that could finish it (a simulated KV deadlock). */
  | { readonly kind: 'never-completed'; readonly message: string };

/** The stored columns of an outcome (RequestRow fields). */
export interface OutcomeColumns {
  readonly status: RequestRow['status'];
  readonly errorCode?: string;
  readonly error?: string;
  readonly httpStatus?: number;
  readonly timeoutPhase?: string;
}

/** The one ok outcome (no allocation per request). */
export const OK: RequestOutcome = Object.freeze({ kind: 'ok' });
const OK_COLUMNS: OutcomeColumns = Object.freeze({ status: 'ok' });

/** The message a timeout is stored with. */
export function timeoutMessage(phase: TimeoutPhase, limitS: number): string {
  return `timed out in phase ${phase} after ${limitS} s`;
}

/** An outcome's stored columns. */
export function outcomeColumns(o: RequestOutcome): OutcomeColumns {
  switch (o.kind) {
    case 'ok':
      return OK_COLUMNS;
    case 'error':
      return { status: 'error', errorCode: o.code, error: o.message, ...(o.httpStatus === undefined ? {} : { httpStatus: o.httpStatus }) };
    case 'timeout':
      return { status: 'timeout', errorCode: RequestErrorCode.timeout, error: timeoutMessage(o.phase, o.limitS), timeoutPhase: o.phase };
    case 'cancelled':
      return { status: 'cancelled', errorCode: RequestErrorCode.cancelled, error: o.message };
    case 'never-completed':
      return { status: 'never-completed', error: o.message };
  }
}

/** The error code of an outcome (undefined: ok or never-completed). */
export function outcomeCode(o: RequestOutcome): string | undefined {
  return outcomeColumns(o).errorCode;
}
