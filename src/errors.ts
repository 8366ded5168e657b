/**
 * Stable error codes with typed fields. Every error a user can cause is a SplitbenchError; the CLI prints
 * `message` (+ `hint`) without a stack trace and exits with `exitCode`. The exit-code table lives here and
 * in docs/exit-codes.md; keep both in step.
 */

export const ExitCode = {
  ok: 0,
  /** `gate`: at least one SLO rule failed. */
  sloFailed: 1,
  /** Bad usage or input: flags, config/YAML files, trace rows, SLO files. */
  usage: 2,
  /** `gate`: the run cannot be judged (interrupted, no ok requests, flagged for schedule lag). */
  unusableRun: 3,
  /** `replay`/`sim` finished, but some requests failed (rows with status other than ok are in the store). */
  requestErrors: 4,
  /** The target failed preflight or became unreachable; or `--max-error-rate` stopped the run. */
  target: 5,
  /** The results store cannot be used (not a splitbench store, newer schema, unwritable). */
  store: 6,
  /** Interrupted by SIGINT/SIGTERM (the run is marked `interrupted`). */
  interrupted: 130,
  /** A bug: an unexpected exception. */
  internal: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class SplitbenchError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;
  constructor(code: string, message: string, opts: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? ExitCode.usage;
  }
}

/** Bad flags or configuration; `path` is the option path (`--rate`, `pools[1].machines`). */
export class ConfigError extends SplitbenchError {
  readonly path: string | undefined;
  constructor(message: string, opts: { path?: string; hint?: string; cause?: unknown } = {}) {
    super('SB_CONFIG', opts.path ? `${opts.path}: ${message}` : message, { ...opts, exitCode: ExitCode.usage });
    this.path = opts.path;
  }
}

/** A bad row or header in a trace file: names file, line (1-based) and field. */
export class TraceFormatError extends SplitbenchError {
  readonly file: string;
  readonly line: number;
  readonly field: string | undefined;
  constructor(file: string, line: number, field: string | undefined, message: string, hint?: string) {
    super('SB_TRACE_FORMAT', `${file}:${line}${field ? `:${field}` : ''}: ${message}`, {
      ...(hint === undefined ? {} : { hint }),
      exitCode: ExitCode.usage,
    });
    this.file = file;
    this.line = line;
    this.field = field;
  }
}

/** The results store cannot be opened or written. */
export class StoreError extends SplitbenchError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('SB_STORE', message, { ...opts, exitCode: ExitCode.store });
  }
}

/** The target answered with an HTTP error (status and an excerpt of the body). */
export class TargetHttpError extends SplitbenchError {
  readonly status: number;
  readonly bodyExcerpt: string;
  constructor(status: number, bodyExcerpt: string, message?: string) {
    super('SB_HTTP', message ?? `HTTP ${status}: ${bodyExcerpt}`, { exitCode: ExitCode.target });
    this.status = status;
    this.bodyExcerpt = bodyExcerpt;
  }
}

/** The target is unreachable or failed preflight. */
export class TargetError extends SplitbenchError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('SB_TARGET', message, { ...opts, exitCode: ExitCode.target });
  }
}

/** What the SSE parser saw that is not a valid OpenAI-style stream. */
export class StreamProtocolError extends SplitbenchError {
  constructor(message: string) {
    super('SB_STREAM', message, { exitCode: ExitCode.target });
  }
}

export type TimeoutPhase = 'connect' | 'headers' | 'first-token' | 'between-tokens' | 'total';

/** A per-phase timeout of one request. */
export class StallTimeoutError extends SplitbenchError {
  readonly phase: TimeoutPhase;
  constructor(phase: TimeoutPhase, limitS: number) {
    super('SB_TIMEOUT', `timed out in phase ${phase} after ${limitS} s`, { exitCode: ExitCode.target });
    this.phase = phase;
  }
}

/** An SLO file or rule that cannot be parsed or evaluated (names file, line and rule). */
export class SloSpecError extends SplitbenchError {
  constructor(message: string, hint?: string) {
    super('SB_SLO', message, { ...(hint === undefined ? {} : { hint }), exitCode: ExitCode.usage });
  }
}

export function isSplitbenchError(e: unknown): e is SplitbenchError {
  return e instanceof SplitbenchError;
}
