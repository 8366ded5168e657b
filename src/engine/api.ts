/**
 * The engine's public contract, shared by the live reference backend (src/server, RealClock) and the
 * simulator (src/sim, VirtualClock). Implementations live beside this file; consumers import from
 * `src/engine/index.ts` only.
 *
 * Times are engine seconds from the clock (`Clock.now()`).
 */

/** What one iteration (batch) of one machine contains, for the performance model. */
export interface BatchShape {
  /** Prompt tokens of each prompt (or prompt chunk) in the batch. */
  readonly promptTokens: readonly number[];
  /**
   * Per entry of `promptTokens`, the tokens of that prompt already prefilled (in the KV cache) before this
   * chunk: 0 for a whole prompt or a first chunk. Absent: all 0. The performance models cost a continued
   * chunk by what its prefix adds (`chunkedIterationTime` in perf/interp.ts).
   */
  readonly promptOffsets?: readonly number[];
  /** Number of decode requests in the batch (each produces one token this iteration). */
  readonly decodes: number;
  /** Sum of the context lengths (prompt + tokens so far) of the decode requests. */
  readonly decodeContextTokens: number;
}

/** Iteration time as a function of the batch, for one (model, machine type, tensor-parallel) triple. */
export interface PerfModel {
  readonly name: string;
  /** Seconds for one iteration of this batch (prefill-only, decode-only or mixed). */
  iterationTime(batch: BatchShape): number;
  /** Seconds to prefill `tokens` prompt tokens alone in one batch. */
  prefillTime(tokens: number): number;
  /** Seconds of one decode iteration for `batchSize` requests with `contextTokens` total context. */
  decodeTime(batchSize: number, contextTokens: number): number;
}

/** A request handed to the cluster. */
export interface EngineRequest {
  readonly id: string;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** The prompt's token ids (`promptTokens` of them), when the client sent ids: a cluster running a real model feeds them to it; the emulated engine needs only the count. */
  readonly promptIds?: readonly number[];
  /**
   * Prefix hashes of the prompt's 512-token blocks (the i-th names the prompt's first i + 1 blocks): from a
   * trace's `hash_ids`, or `prefixBlockHashes(promptIds)` on a server. A machine with a prefix cache reuses
   * the KV of cached leading blocks; absent: nothing is looked up or cached.
   */
  readonly blockHashes?: readonly number[];
  /** A cluster running a real model: report each output token's log-probability (`onTokenIds`). */
  readonly logprobs?: boolean;
}

/**
 * Per-request breakdown (seconds), reported when the request ends; also the server's extension object.
 * The components add up exactly (docs/metrics.md "Metric glossary"): TTFT = queue + prefill; the wait for the second
 * token (second token − first token) = kvTransfer + decodeWait; decode = the rest (second token → last token),
 * so E2E = queue + prefill + kvTransfer + decodeWait + decode. A one-token request has kvTransfer = decodeWait =
 * decode = 0 (see `secondTokenParts`).
 */
export interface RequestBreakdown {
  /** Arrival at the cluster → prompt iteration start. */
  readonly queue: number;
  /** Prompt iteration(s) start → first token. */
  readonly prefill: number;
  /** KV transfer time within the wait for the second token (0 when prompt and decode ran on one machine). */
  readonly kvTransfer: number;
  /** The rest of the wait for the second token: (second token − first token) − kvTransfer (admission, queueing for memory or a batch slot, the first decode iteration). */
  readonly decodeWait: number;
  /** Second token → last token. */
  readonly decode: number;
  readonly promptMachine: string;
  readonly tokenMachine: string;
  /** Pool of the prompt machine: 'prompt' | 'token' | 'mixed'. */
  readonly pool: string;
  /** Times the request was preempted. */
  readonly preemptions: number;
  /** Prompt tokens its prompt machine's prefix cache supplied (last prefill there; 0: none or no cache). Added; optional. */
  readonly cachedPromptTokens?: number;
}

/** Callbacks for one request. Tokens arrive per iteration (one call per iteration that produced tokens). */
export interface RequestObserver {
  /** `tokens` new output tokens at engine time `time` (the first call is the first token). */
  onTokens(tokens: number, time: number): void;
  /**
   * Optional: what `to − from` calls of `onTokens(1, times[i])`, i from `from` up, would tell, at once. A
   * cluster created with `deferTokens` calls it, where the observer has it, for tokens it tells late. The
   * array is the cluster's: read it during the call only.
   */
  onTokenTimes?(times: Float64Array, from: number, to: number): void;
  /** Optional, from clusters running a real model: the ids (texts, log-probabilities) of the tokens the next `onTokens` counts. */
  onTokenIds?(ids: readonly number[], texts?: readonly string[], logprobs?: readonly number[]): void;
  /** All `outputTokens` produced. */
  onDone(breakdown: RequestBreakdown, time: number): void;
  /** The request cannot be served (e.g. larger than any machine's KV memory) or was cancelled. */
  onFailed(reason: string, time: number): void;
}

export interface SubmitHandle {
  /** Cancel (client disconnected): frees its KV memory; no more callbacks. */
  cancel(): void;
}

/** A machine of the emulated cluster, as reported to the store (`machines`) and `/metrics`. */
export interface MachineInfo {
  readonly id: string;
  /** Machine catalog name, e.g. 'dgx-h100'. */
  readonly type: string;
  /** Pool it was provisioned into: 'prompt' | 'token' | 'mixed'. */
  readonly pool: string;
  readonly gpus: number;
  readonly pricePerHour: number;
  readonly tdpW: number;
  readonly idleW: number;
}

/** Point-in-time state of one machine (for /metrics, timelines and the power model). */
export interface MachineSnapshot {
  readonly id: string;
  /** Pool it serves right now (a borrowed machine reports 'mixed'). */
  readonly pool: string;
  readonly queuedRequests: number;
  readonly runningRequests: number;
  readonly batchSize: number;
  readonly batchPromptTokens: number;
  readonly kvUsedTokens: number;
  readonly kvCapacityTokens: number;
  readonly watts: number;
  readonly promptTokensTotal: number;
  readonly outputTokensTotal: number;
  /** What the machine is doing now (for the power model and timelines). Added; optional. */
  readonly phase?: MachinePhase;
  /**
   * Prefix cache (added; optional, present where the machine keeps one): prompt tokens looked up and found
   * (vLLM's prefix_cache_queries / prefix_cache_hits, in tokens), requests looked up and requests with a hit,
   * and the tokens of KV the cache holds now (inside `kvUsedTokens`).
   */
  readonly prefixCache?: {
    readonly queryTokens: number;
    readonly hitTokens: number;
    readonly queries: number;
    readonly hits: number;
    readonly cachedTokens: number;
  };
}

/** What a machine's current iteration is: prompts only, decodes only, both, or nothing. */
export type MachinePhase = 'prompt' | 'decode' | 'mixed' | 'idle';

/** One iteration (or, in the SplitwiseSim-compatible mode, one contiguous decode-only run) of one machine. */
export interface IterationEvent {
  readonly machine: string;
  readonly start: number;
  /** Planned end (a compatible-mode run cut short reports its new end in `iterationEnd`). */
  readonly end: number;
  readonly phase: MachinePhase;
  readonly batchSize: number;
  readonly promptTokens: number;
  readonly decodes: number;
  /** Iterations this event covers (1 except compatible-mode decode runs). */
  readonly iterations: number;
}

export interface KvTransferEvent {
  readonly requestId: string;
  readonly from: string;
  readonly to: string;
  readonly time: number;
  readonly bytes: number;
}

/**
 * Engine event listener (timelines, Perfetto export, power). Every callback is optional; with no
 * listener the engine does no extra work. Added to the contract; backward compatible.
 */
export interface EngineEvents {
  iterationStart?(e: IterationEvent): void;
  iterationEnd?(e: IterationEvent): void;
  kvTransferStart?(e: KvTransferEvent): void;
  kvTransferEnd?(e: KvTransferEvent): void;
  requestDone?(requestId: string, breakdown: RequestBreakdown, time: number): void;
}

/**
 * A request whose prompt was prefilled elsewhere (another process's prompt machine, vLLM's disaggregated
 * serving): its first token was produced there, its KV cache comes over the interconnect.
 */
export interface RemotePrefill {
  /** Machine type (catalog name) of the prompt machine: the link is the slower of the two machines'. */
  readonly fromMachine: string;
  /** Prefill duration there (engine seconds): a layer-wise transfer overlaps it, as in one cluster. Absent: not overlapped. */
  readonly prefillSeconds?: number;
  /** Id of the prompt machine, for the breakdown (default: the token machine's). */
  readonly promptMachine?: string;
}

/** What the placements of the requests in flight hold booked on one machine (the cluster scheduler's counters). */
export interface MachineBookings {
  readonly machine: string;
  /** Prompt tokens not yet prefilled, plus one per request whose token phase is to come. */
  readonly pendingTokens: number;
  /** KV bytes reserved by placement decisions. */
  readonly reservedBytes: number;
}

/** The cluster the server and the simulator drive. */
export interface Cluster {
  /**
   * Optional: take a request prefilled elsewhere (see RemotePrefill). Its first token is reported at once
   * (the prompt machine produced it); the KV transfer is charged as for a split request of this cluster
   * (bytes per token × prompt tokens over the link, layer-wise overlapped with the remote prefill from
   * `layerwiseMinPromptTokens` on); then it decodes on the token machine the scheduler picks.
   */
  submitPrefilled?(request: EngineRequest, observer: RequestObserver, remote: RemotePrefill): SubmitHandle;
  /** Hand a request to the cluster scheduler now (clock time); callbacks follow on the clock. */
  submit(request: EngineRequest, observer: RequestObserver): SubmitHandle;
  machines(): readonly MachineInfo[];
  snapshot(): readonly MachineSnapshot[];
  /** Requests submitted and not yet done/failed/cancelled. */
  inFlight(): number;
  /**
   * Ids of the requests in flight (added; optional). When a simulator's event queue is empty and this is
   * non-empty, those requests will never complete (the SplitwiseSim-compatible mode's KV deadlock).
   */
  inFlightIds?(): readonly string[];
  /**
   * Queue an arrival in the cluster's own event queue (optional; the SplitwiseSim-compatible cluster has
   * it): `fn` runs at engine time `time` in the same queue as the cluster's internal events, so exactly
   * tied events come out in the order that queue gives (SplitwiseSim pushes every arrival into its heap,
   * in trace order, before its loop starts). `fn` typically calls `submit`.
   */
  queueArrival?(time: number, fn: () => void): void;
  /**
   * `queueArrival` for millions of arrivals (optional; with it): the returned function queues one at `time`
   * and `run(i, time)` runs at its turn for the i-th queued (0-based), with no object or closure kept per
   * arrival. Set up once per cluster.
   */
  queueArrivals?(run: (index: number, time: number) => void): (time: number) => void;
  /** The scheduler's counters per machine (optional; the engine's clusters and the worker router have it): all 0 when nothing is in flight. */
  bookings?(): readonly MachineBookings[];
}

/**
 * The second-token part of a breakdown from three instants (seconds on one clock) and the KV transfer's
 * duration: kvTransfer (capped at the wait) + decodeWait = second − first; decode = end − second. Without a
 * second token (one output token) all three are 0.
 */
export function secondTokenParts(first: number, second: number, end: number, kvTransfer: number): { kvTransfer: number; decodeWait: number; decode: number } {
  if (!(second === second) || !(first === first)) return { kvTransfer: 0, decodeWait: 0, decode: 0 };
  const wait = second - first;
  const kv = Math.min(Math.max(0, kvTransfer), Math.max(0, wait));
  return { kvTransfer: kv, decodeWait: wait - kv, decode: end - second };
}
