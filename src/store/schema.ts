/**
 * The results store's schema: the contract between replay/sim (writers) and summary/gate/report (readers).
 *
 * Conventions:
 * - All per-request times are seconds on the run's clock, relative to the run's t0 (the instant the
 *   schedule starts), in **trace seconds**: a live run against an emulation at `--time-scale K` stores
 *   measured monotonic seconds × K, so numbers read as real-GPU seconds; a simulation stores virtual time.
 * - Derived per-request columns (ttft, tpot, e2e, ...) are written by the writer from the raw timestamps
 *   with the formulas of `src/metrics` (docs/metrics.md "Metric glossary"), so SQL users need not re-derive them.
 * - `token_times` is a compact blob of per-chunk arrivals (see `codec.ts`).
 *
 * Bump SCHEMA_VERSION and add a migration to MIGRATIONS for every change; never edit a shipped migration.
 */

export const APPLICATION_ID = 0x53504c42; // 'SPLB', in SQLite's header (PRAGMA application_id)
export const SCHEMA_VERSION = 4;

export const RUN_KINDS = ['live', 'sim'] as const;
export type RunKind = (typeof RUN_KINDS)[number];
export const RUN_STATUSES = ['running', 'completed', 'interrupted', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const REQUEST_STATUSES = ['ok', 'error', 'timeout', 'cancelled', 'never-completed'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** Migration i (0-based) takes the store from user_version i to i+1. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE runs (
    id                 INTEGER PRIMARY KEY,
    uuid               TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('live','sim')),
    status             TEXT NOT NULL CHECK (status IN ('running','completed','interrupted','failed')),
    started_at         TEXT NOT NULL,            -- ISO-8601 wall time of t0
    ended_at           TEXT,
    start_wall_ms      REAL NOT NULL,            -- epoch ms of t0 (wall clock, read once)
    target             TEXT,                     -- URL, or 'reference:<deployment>' / 'sim:<deployment>'
    deployment         TEXT,                     -- deployment name or file
    model              TEXT,
    trace_path         TEXT,
    trace_sha256       TEXT,
    time_scale         REAL NOT NULL DEFAULT 1,
    offered_rate       REAL,                     -- req/s offered (rate-driven runs and sweeps)
    warmup_s           REAL NOT NULL DEFAULT 0,  -- requests scheduled before this are excluded from summaries
    lag_flagged        INTEGER NOT NULL DEFAULT 0,
    lag_p99_s          REAL,
    options_json       TEXT NOT NULL,            -- the resolved options (defaults < files < env < flags)
    tags_json          TEXT NOT NULL DEFAULT '{}',
    env_json           TEXT NOT NULL DEFAULT '{}',  -- node, host, cpu, platform
    splitbench_version TEXT NOT NULL,
    seed               INTEGER,
    notes_json         TEXT NOT NULL DEFAULT '{}'   -- free-form extras (never-completed counts, flags)
  );
  CREATE INDEX runs_name ON runs(name);

  CREATE TABLE requests (
    run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    shard             INTEGER NOT NULL DEFAULT 0,
    seq               INTEGER NOT NULL,          -- position in the (transformed) trace
    trace_id          TEXT NOT NULL,
    session_id        TEXT,
    arrival           REAL NOT NULL,             -- trace arrival, seconds from trace start (after transforms)
    prompt_tokens     INTEGER NOT NULL,          -- asked
    output_tokens     INTEGER NOT NULL,          -- asked
    warmup            INTEGER NOT NULL DEFAULT 0,
    scheduled         REAL NOT NULL,             -- when the schedule said to send (s from t0)
    send              REAL,                      -- handed to the HTTP client / engine
    first_token       REAL,
    end               REAL,                      -- last token (ok) or failure time
    lag               REAL,                      -- send - scheduled
    status            TEXT NOT NULL CHECK (status IN ('ok','error','timeout','cancelled','never-completed')),
    error_code        TEXT,
    error             TEXT,
    http_status       INTEGER,
    timeout_phase     TEXT,
    tokens_received   INTEGER NOT NULL DEFAULT 0,  -- counted by the client (chunk usage, reconciled)
    usage_prompt      INTEGER,                   -- server's final usage block
    usage_completion  INTEGER,
    count_method      TEXT,                      -- 'usage-continuous' | 'usage-final' | 'chunks' | 'exact'
    ttft              REAL,                      -- first_token - send
    tpot              REAL,                      -- (e2e - ttft) / (tokens_received - 1)
    e2e               REAL,                      -- end - send (ok only)
    ttft_sched        REAL,                      -- first_token - scheduled
    e2e_sched         REAL,                      -- end - scheduled
    max_stall         REAL,                      -- longest gap between consecutive chunks (incl. TTFT? no: after first)
    queue_s           REAL,                      -- server breakdown (reference backend / sim), when given
    prefill_s         REAL,
    kv_transfer_s     REAL,
    decode_wait_s     REAL,
    decode_s          REAL,
    prompt_machine    TEXT,
    token_machine     TEXT,
    pool              TEXT,                      -- pool that ran the prompt phase
    token_times       BLOB,                      -- per-chunk arrivals, codec.ts
    PRIMARY KEY (run_id, shard, seq)
  ) WITHOUT ROWID;
  CREATE INDEX requests_status ON requests(run_id, status);

  CREATE TABLE machines (
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    machine_id    TEXT NOT NULL,               -- e.g. 'prompt-0', or a host name for real GPUs
    machine_type  TEXT NOT NULL,               -- catalog name, e.g. 'dgx-h100'
    pool          TEXT NOT NULL,               -- 'prompt' | 'token' | 'mixed' | user role
    gpus          INTEGER,
    price_per_hour REAL,
    tdp_w         REAL,
    idle_w        REAL,
    PRIMARY KEY (run_id, machine_id)
  ) WITHOUT ROWID;

  CREATE TABLE power_samples (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    t           REAL NOT NULL,                 -- s from t0 (trace seconds)
    machine_id  TEXT NOT NULL,
    role        TEXT NOT NULL,                 -- pool or user-given role
    source      TEXT NOT NULL,                 -- 'model' | 'nvidia-smi' | 'dcgm' | 'prometheus'
    watts       REAL,                          -- NULL marks a gap (source failed)
    energy_j    REAL                           -- cumulative counter where the source has one
  );
  CREATE INDEX power_samples_run ON power_samples(run_id, t);

  CREATE TABLE timeline_samples (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    t           REAL NOT NULL,
    source      TEXT NOT NULL,                 -- 'engine' | 'client' | scrape URL
    role        TEXT NOT NULL DEFAULT '',      -- pool / role
    name        TEXT NOT NULL,                 -- e.g. 'in_flight', 'queue_depth', 'batch_size', 'kv_used_frac'
    labels_json TEXT NOT NULL DEFAULT '{}',
    value       REAL NOT NULL
  );
  CREATE INDEX timeline_samples_run ON timeline_samples(run_id, name, t);

  CREATE TABLE slo_results (
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    evaluated_at    TEXT NOT NULL,
    slo_file        TEXT NOT NULL,
    rule            TEXT NOT NULL,             -- the rule as written
    metric          TEXT NOT NULL,
    value           REAL,
    limit_value     REAL,
    op              TEXT NOT NULL,
    passed          INTEGER NOT NULL,
    baseline_run_id INTEGER,
    detail          TEXT
  );
  CREATE INDEX slo_results_run ON slo_results(run_id);
  `,
  // 1 → 2: sharded runs (src/scale). A shard's store holds one row for its own shard; a merged store one row
  // per merged shard, with the sha256 of the file it came from (re-merging the same file is a no-op).
  `
  CREATE TABLE shards (
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    run_uuid        TEXT NOT NULL,             -- the identity shared by every shard of one run (--run-uuid)
    shard_index     INTEGER NOT NULL,          -- 0-based
    shard_count     INTEGER NOT NULL,
    host            TEXT,
    start_at_ms     REAL,                      -- the shared start instant (reference clock, epoch ms)
    t0_local_ms     REAL NOT NULL,             -- this shard's t0 on its own wall clock (epoch ms, uncorrected)
    time_ref        TEXT,                      -- URL of the clock reference; NULL: not measured
    offset_start_ms REAL,                      -- reference − local wall clock at start (ms)
    rtt_start_ms    REAL,                      -- round trip of that measurement (offset exact within ±rtt/2)
    offset_end_ms   REAL,
    rtt_end_ms      REAL,
    late_ms         REAL,                      -- how late the shard was ready for start_at (ms; <= 0: on time)
    late            INTEGER NOT NULL DEFAULT 0,
    file_sha256     TEXT,                      -- merged store: sha256 of the merged shard file
    source_run_uuid TEXT,                      -- merged store: runs.uuid of the shard's run in that file
    merged_at       TEXT,
    PRIMARY KEY (run_id, shard_index)
  ) WITHOUT ROWID;
  CREATE INDEX shards_uuid ON shards(run_uuid);
  `,
  // 2 → 3: live runs that check themselves (docs/replay.md "Twin check"). A live run against the bundled
  // backend is flagged distorted (with the reason) when its simulated twin, the server's emission delay, the
  // client's chunk coalescing or the send lag say the machine distorted it; twin_run_id links the sim run of
  // the same requests. requests.coalesced: token-carrying chunks that arrived in the same read as the one
  // before them (the client could not tell them apart in time); NULL where not measured (sims).
  `
  ALTER TABLE runs ADD COLUMN distorted INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE runs ADD COLUMN distorted_reason TEXT;
  ALTER TABLE runs ADD COLUMN twin_run_id INTEGER;
  ALTER TABLE requests ADD COLUMN coalesced INTEGER;
  `,
  // 3 → 4: prompt tokens the target's prefix cache supplied (engine breakdown; vLLM usage's cached_tokens).
  `
  ALTER TABLE requests ADD COLUMN cached_prompt_tokens INTEGER;   -- NULL: not reported
  `,
];
