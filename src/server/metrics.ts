/**
 * `/metrics` of the reference backend: Prometheus text exposition from a private prom-client Registry.
 * Machine series are read from the cluster's snapshot at scrape time; energy is integrated from the power
 * model's watts by a sampler (trapezoid rule over engine seconds, i.e. real-GPU joules) and at each scrape.
 * Names are listed in the README (section "Reference backend").
 */
import { Counter, Gauge, Registry, Summary, collectDefaultMetrics } from 'prom-client';
import type { Clock, Cluster, MachineInfo, MachineSnapshot } from '../engine/index.js';

type Labels = Record<string, string>;

export class ServerMetrics {
  readonly registry = new Registry();
  private snap: readonly MachineSnapshot[] = [];
  private readonly info = new Map<string, MachineInfo>();
  private readonly energyJ = new Map<string, number>();
  private readonly lastWatts = new Map<string, number>();
  private lastSampleT: number;
  private readonly emitDelay: Summary;
  private readonly emitDelayMax: Gauge;
  private readonly httpRequests: Counter;
  private maxDelay = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly clock: Clock & { realNow?(): number },
    private readonly modelName: string,
  ) {
    for (const m of cluster.machines()) this.info.set(m.id, m);
    this.lastSampleT = this.observedNow();
    const r = this.registry;
    // Process figures (CPU seconds, memory, event-loop lag) of the server itself.
    collectDefaultMetrics({ register: r });
    const self = this;
    const machineLabels = (s: MachineSnapshot): Labels => ({
      machine: s.id,
      pool: s.pool,
      type: this.info.get(s.id)?.type ?? 'unknown',
    });
    const vllmLabels = (s: MachineSnapshot): Labels => ({ model_name: this.modelName, engine: s.id, pool: s.pool });

    const gauge = (name: string, help: string, labels: string[], value: (s: MachineSnapshot) => number, lab = machineLabels) =>
      new Gauge({
        name,
        help,
        labelNames: labels,
        registers: [r],
        collect() {
          this.reset();
          for (const s of self.snap) this.set(lab(s), value(s));
        },
      });
    const counter = (name: string, help: string, labels: string[], value: (s: MachineSnapshot) => number, lab = machineLabels) =>
      new Counter({
        name,
        help,
        labelNames: labels,
        registers: [r],
        collect() {
          this.reset();
          for (const s of self.snap) this.inc(lab(s), value(s));
        },
      });
    const ml = ['machine', 'pool', 'type'];
    const kvFrac = (s: MachineSnapshot): number => (s.kvCapacityTokens > 0 ? s.kvUsedTokens / s.kvCapacityTokens : 0);
    gauge('splitbench_queue_depth', 'Requests waiting on the machine (not yet in a batch).', ml, (s) => s.queuedRequests);
    gauge('splitbench_running_requests', 'Requests admitted on the machine (holding KV memory).', ml, (s) => s.runningRequests);
    gauge('splitbench_batch_size', 'Requests in the machine\'s current iteration.', ml, (s) => s.batchSize);
    gauge('splitbench_batch_prompt_tokens', 'Prompt tokens in the machine\'s current iteration.', ml, (s) => s.batchPromptTokens);
    gauge('splitbench_kv_used_fraction', 'Fraction of the machine\'s KV-cache capacity in use (0-1).', ml, kvFrac);
    gauge('splitbench_kv_used_tokens', 'KV-cache tokens in use on the machine.', ml, (s) => s.kvUsedTokens);
    gauge('splitbench_kv_capacity_tokens', 'KV-cache capacity of the machine in tokens.', ml, (s) => s.kvCapacityTokens);
    counter('splitbench_prompt_tokens_total', 'Prompt tokens processed by the machine.', ml, (s) => s.promptTokensTotal);
    counter('splitbench_generation_tokens_total', 'Output tokens produced by the machine.', ml, (s) => s.outputTokensTotal);
    gauge('splitbench_power_watts', 'Machine power from the power model (W, all GPUs).', ml, (s) => s.watts);
    counter('splitbench_energy_joules_total', 'Machine energy integrated from the power model (J, real-GPU seconds).', ml, (s) =>
      this.energyJ.get(s.id) ?? 0,
    );
    new Gauge({
      name: 'splitbench_requests_in_flight',
      help: 'Engine requests submitted and not yet done, failed or cancelled.',
      registers: [r],
      collect() {
        this.set(self.cluster.inFlight());
      },
    });
    new Gauge({
      name: 'splitbench_engine_time_seconds',
      help: 'Engine clock (real-GPU seconds since the server started).',
      registers: [r],
      collect() {
        this.set(self.observedNow());
      },
    });

    // vLLM-style aliases (one `engine` per machine), so tools that scrape vLLM work.
    const vl = ['model_name', 'engine', 'pool'];
    gauge('vllm:num_requests_running', 'Requests running on the engine (vLLM alias).', vl, (s) => s.runningRequests, vllmLabels);
    gauge('vllm:num_requests_waiting', 'Requests waiting on the engine (vLLM alias).', vl, (s) => s.queuedRequests, vllmLabels);
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage, 0-1 (vLLM alias).', vl, kvFrac, vllmLabels);
    counter('vllm:prompt_tokens_total', 'Prompt tokens processed (vLLM alias).', vl, (s) => s.promptTokensTotal, vllmLabels);
    counter('vllm:generation_tokens_total', 'Generation tokens produced (vLLM alias).', vl, (s) => s.outputTokensTotal, vllmLabels);

    // DCGM-exporter-style per-GPU power and energy (machine figures split evenly over its GPUs).
    const dl = ['gpu', 'UUID', 'device', 'modelName', 'Hostname', 'pool'];
    const perGpu = (s: MachineSnapshot, f: (gpus: number) => (g: number) => void): void => {
      const gpus = Math.max(1, this.info.get(s.id)?.gpus ?? 1);
      const each = f(gpus);
      for (let g = 0; g < gpus; g++) each(g);
    };
    const gpuLabels = (s: MachineSnapshot, g: number): Labels => ({
      gpu: String(g),
      UUID: `GPU-${s.id}-${g}`,
      device: `nvidia${g}`,
      modelName: this.info.get(s.id)?.type ?? 'unknown',
      Hostname: s.id,
      pool: s.pool,
    });
    new Gauge({
      name: 'DCGM_FI_DEV_POWER_USAGE',
      help: 'Power draw (in W), from the power model.',
      labelNames: dl,
      registers: [r],
      collect() {
        this.reset();
        for (const s of self.snap) perGpu(s, (n) => (g) => this.set(gpuLabels(s, g), s.watts / n));
      },
    });
    new Counter({
      name: 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION',
      help: 'Total energy consumption since the server started (in mJ), integrated from the power model.',
      labelNames: dl,
      registers: [r],
      collect() {
        this.reset();
        for (const s of self.snap) {
          const mj = (self.energyJ.get(s.id) ?? 0) * 1000;
          perGpu(s, (n) => (g) => this.inc(gpuLabels(s, g), mj / n));
        }
      },
    });

    this.emitDelay = new Summary({
      name: 'splitbench_emit_delay_seconds',
      help: 'Token emission delay: wall time a chunk was written minus the wall time the engine intended (s).',
      percentiles: [0.5, 0.9, 0.99, 0.999],
      registers: [r],
    });
    this.emitDelayMax = new Gauge({
      name: 'splitbench_emit_delay_max_seconds',
      help: 'Largest token emission delay so far (s).',
      registers: [r],
      collect() {
        this.set(self.maxDelay);
      },
    });
    this.httpRequests = new Counter({
      name: 'splitbench_http_requests_total',
      help: 'HTTP requests answered, by route and status.',
      labelNames: ['route', 'status'],
      registers: [r],
    });
    void this.emitDelayMax;
  }

  /** Record one chunk's emission delay (wall seconds). */
  observeEmitDelay(seconds: number): void {
    const v = seconds > 0 ? seconds : 0;
    this.emitDelay.observe(v);
    if (v > this.maxDelay) this.maxDelay = v;
  }

  countHttp(route: string, status: number): void {
    this.httpRequests.inc({ route, status: String(status) });
  }

  /**
   * Engine time for an observer: RealClock's `realNow()`, which reads the monotonic clock without moving the
   * engine's own "latest time seen" (its `now()` does, so that callbacks never run before an arrival they must
   * see): a scrape or an energy sample must not delay the engine's next callback time.
   */
  private observedNow(): number {
    return this.clock.realNow?.() ?? this.clock.now();
  }

  /** Integrate energy up to now (call periodically and before a scrape). */
  sampleEnergy(): readonly MachineSnapshot[] {
    const now = this.observedNow();
    const dt = Math.max(0, now - this.lastSampleT);
    const snap = this.cluster.snapshot();
    for (const s of snap) {
      const prev = this.lastWatts.get(s.id) ?? s.watts;
      this.energyJ.set(s.id, (this.energyJ.get(s.id) ?? 0) + ((prev + s.watts) / 2) * dt);
      this.lastWatts.set(s.id, s.watts);
    }
    this.lastSampleT = now;
    return snap;
  }

  /** Joules per machine so far. */
  energy(): ReadonlyMap<string, number> {
    return this.energyJ;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    this.snap = this.sampleEnergy();
    return this.registry.metrics();
  }
}
