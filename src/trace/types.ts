/** One request of a trace, as every reader, transform and consumer sees it. */
export interface RequestSpec {
  /** Request id: from the trace where it has one, else the 0-based row index as a string. */
  readonly id: string;
  /** Seconds from the trace start (first request of the original file at 0), non-decreasing along a stream. */
  readonly arrival: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** Session / conversation id, where the format carries one. */
  readonly sessionId?: string;
  /** Prefix block hashes (Mooncake `hash_ids`, 512-token blocks), where the format carries them. */
  readonly hashIds?: readonly number[];
}
