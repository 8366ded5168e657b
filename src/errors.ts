/**
 * Stable error codes with typed fields. Every error a user can cause is a SplitbenchError; the CLI prints
 * `message` (+ `hint`) without a stack trace and exits with `exitCode`. The exit-code table lives here:
 * `--help` prints EXIT_CODE_SUMMARY, and test/cli/tables.test.ts checks docs/exit-codes.md against ExitCode.
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

/** A few words per exit code, for `splitbench --help` (docs/exit-codes.md has the long form). */
export const EXIT_CODE_WORDS: Readonly<Record<keyof typeof ExitCode, string>> = {
  ok: 'ok',
  sloFailed: 'SLO failed',
  usage: 'bad usage or input',
  unusableRun: 'run unusable',
  requestErrors: 'request errors',
  target: 'target failed',
  store: 'store error',
  internal: 'internal error',
  interrupted: 'interrupted',
};

/** The one-line exit-code summary `splitbench --help` ends with, in code order. */
export const EXIT_CODE_SUMMARY: string = `Exit codes: ${(Object.keys(ExitCode) as (keyof typeof ExitCode)[])
  .sort((a, b) => ExitCode[a] - ExitCode[b])
  .map((k) => `${ExitCode[k]} ${EXIT_CODE_WORDS[k]}`)
  .join(', ')}.`;

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

/** The target is unreachable or failed preflight. */
export class TargetError extends SplitbenchError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('SB_TARGET', message, { ...opts, exitCode: ExitCode.target });
  }
}

/** A SIGINT/SIGTERM came before the run started (nothing was recorded, or merged). */
export class InterruptedError extends SplitbenchError {
  constructor(message: string) {
    super('SB_INTERRUPTED', message, { exitCode: ExitCode.interrupted });
  }
}

/** An SLO file or rule that cannot be parsed or evaluated (names file, line and rule). */
export class SloSpecError extends SplitbenchError {
  constructor(message: string, hint?: string) {
    super('SB_SLO', message, { ...(hint === undefined ? {} : { hint }), exitCode: ExitCode.usage });
  }
}

/**
 * Per-request error codes (`requests.error_code`, the `code` of a RequestOutcome of kind error, timeout or
 * cancelled): the one table. Every code a driver records comes from it; docs/store.md lists it (checked by
 * test/run/outcome.test.ts). A connection that could not be made or broke is the exception: it keeps the
 * code Node or undici gave it (`ECONNREFUSED`, `ECONNRESET`, `UND_ERR_SOCKET`, …), see `SystemErrorCode`.
 */
export const RequestErrorCode = {
  http: 'SB_HTTP',
  stream: 'SB_STREAM',
  targetError: 'SB_TARGET_ERROR',
  truncated: 'SB_STREAM_TRUNCATED',
  timeout: 'SB_TIMEOUT',
  cancelled: 'SB_CANCELLED',
  engine: 'SB_ENGINE',
  unknown: 'ERR_UNKNOWN',
} as const;
export type RequestErrorCode = (typeof RequestErrorCode)[keyof typeof RequestErrorCode];

/** One line per request error code: what it means (docs/store.md repeats these lines). */
export const REQUEST_ERROR_MEANINGS: Readonly<Record<RequestErrorCode, string>> = {
  SB_HTTP: 'the target answered with an HTTP error status (`http_status`; `error` has the body excerpt)',
  SB_STREAM: 'the response body is not a valid OpenAI-style event stream',
  SB_TARGET_ERROR: 'the server sent an error event or error object inside the stream',
  SB_STREAM_TRUNCATED: 'the stream ended before `[DONE]` or a finish reason',
  SB_TIMEOUT: 'a per-request timeout fired (`timeout_phase`: connect, first-token, between-tokens, total)',
  SB_CANCELLED: 'cancelled by the run: a second interrupt, the grace period over, or the target lost',
  SB_ENGINE: 'the simulated cluster failed the request (`error` has the reason)',
  ERR_UNKNOWN: 'the connection failed with an error that carried no code',
};

/** The phase of a request in which its timeout fired (`requests.timeout_phase`). */
export type TimeoutPhase = 'connect' | 'headers' | 'first-token' | 'between-tokens' | 'total';

/** The code Node or undici gave a connection that could not be made or broke (`ECONNREFUSED`, `UND_ERR_SOCKET`, …). */
export type SystemErrorCode = string & { readonly __system: true };

/** Connection codes that mean the request never reached a server (the replay counts them to notice a lost target). */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/** The code of a failed connection: the system's own code, else the error's name, else `ERR_UNKNOWN`. */
export function systemErrorCode(e: unknown): SystemErrorCode | typeof RequestErrorCode.unknown {
  const err = e as { code?: unknown; name?: unknown };
  if (typeof err?.code === 'string') return err.code as SystemErrorCode;
  if (typeof err?.name === 'string') return err.name as SystemErrorCode;
  return RequestErrorCode.unknown;
}

export function isSplitbenchError(e: unknown): e is SplitbenchError {
  return e instanceof SplitbenchError;
}
