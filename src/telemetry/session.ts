/**
 * A run's telemetry: power sources and server-metrics scrapers sampled while a replay runs, written through the
 * run's writer (power_samples, timeline_samples, machines). Sampling happens on the load generator's event loop
 * but never blocks it (HTTP scrapes are asynchronous; nvidia-smi runs as a child process).
 *
 * Power rows (power_samples):
 * - `model` (the reference backend's power model, read from its /metrics: `splitbench_power_watts`,
 *   `splitbench_energy_joules_total` per machine): like the simulator, a row at t holds the machine's MEAN watts
 *   over [t, next row's t] (from the energy counter), so sample-and-hold integration is exact; `energy_j` is the
 *   run-relative energy at t.
 * - measured sources (`nvidia-smi`, `dcgm`, `prometheus`): `watts` as read at t; `energy_j` the run-relative
 *   cumulative energy at t from the source's counter (reset-safe) or, without one, the trapezoid rule.
 * A source that fails (HTTP error, timeout, unparsable text, child process exited) is a gap: one row with NULL
 * watts per machine it had reported, and a note in the run's `notes_json.telemetry`; the run goes on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { MachineRow, PowerSampleRow, TimelineSampleRow } from '../store/api.js';
import type { PriceTable } from '../cost/prices.js';
import { EnergyAccumulator } from './energy.js';
import { fetchText } from './http.js';
import { parsePromText, type PromSample } from './prom-text.js';
import { ServerMetricsMapper } from './server-metrics.js';
import type { PowerSpec, ScrapeSpec } from './specs.js';

export interface TelemetrySink {
  addPowerSample(row: PowerSampleRow): void;
  addTimelineSample(row: TimelineSampleRow): void;
  addMachines(rows: readonly MachineRow[]): void;
}

export interface TelemetryOptions {
  readonly power: readonly PowerSpec[];
  readonly scrape: readonly ScrapeSpec[];
  /** Sampling interval, wall milliseconds (nvidia-smi's -lms, scrape period). */
  readonly intervalMs: number;
  /** /metrics URL of the target, for `--power model` without a URL. */
  readonly targetMetricsUrl?: string;
  /** Polling period of the `model` source, wall ms (default `intervalMs`): the reference backend runs on trace time. */
  readonly modelIntervalMs?: number;
  readonly prices?: PriceTable;
  /** Trace seconds from the run's t0. */
  readonly now: () => number;
  readonly log?: (line: string) => void;
  /** The nvidia-smi executable (default 'nvidia-smi'; via ssh it is run by name on the remote host). */
  readonly nvidiaSmi?: string;
}

export interface SourceNote {
  readonly source: string;
  readonly role: string | null;
  readonly kind: string;
  samples: number;
  failures: number;
  firstFailureT?: number;
  lastError?: string;
  machines: number;
  energyMethod?: string | undefined;
  counterResets?: number;
  /** Why it stopped early (a child process that exited). */
  ended?: string;
}

export interface TelemetryNotes {
  readonly intervalMs: number;
  readonly sources: SourceNote[];
  readonly unpriced: string[];
}

interface Machine {
  readonly id: string;
  readonly role: string;
  readonly energy: EnergyAccumulator;
  /** model source: the pending row's start, and the pool the machine was in then (the interval counts for it). */
  pending?: { t: number; joules: number; watts: number; role: string } | undefined;
}

const NVSMI_QUERY = 'index,power.draw,total_energy_consumption';
const NVSMI_QUERY_NO_ENERGY = 'index,power.draw';

export class Telemetry {
  private readonly o: TelemetryOptions;
  private readonly sink: TelemetrySink;
  private readonly notes: SourceNote[] = [];
  private readonly unpriced = new Set<string>();
  private readonly written = new Set<string>();
  private readonly stopFns: (() => Promise<void>)[] = [];
  private readonly finalFns: (() => Promise<void>)[] = [];
  private stopped = false;

  /** The first error the sink threw (the store failed: a full disk, say); sampling stops writing then. */
  private sinkError: unknown;

  constructor(opts: TelemetryOptions, sink: TelemetrySink) {
    this.o = opts;
    // A failing sink is the store's failure, which the run itself reports (exit 6) on its next write: here it
    // must never escape a timer or a poll's error path as an unhandled rejection (a stack trace instead of
    // the one-line message). The first error is kept; later samples are dropped.
    const guard =
      <A extends unknown[]>(f: (...a: A) => void) =>
      (...a: A): void => {
        if (this.sinkError !== undefined) return;
        try {
          f(...a);
        } catch (e) {
          this.sinkError = e;
        }
      };
    this.sink = {
      addPowerSample: guard((r: PowerSampleRow) => sink.addPowerSample(r)),
      addTimelineSample: guard((r: TimelineSampleRow) => sink.addTimelineSample(r)),
      addMachines: guard((r: readonly MachineRow[]) => sink.addMachines(r)),
    };
  }

  /** The error the sink (the run's store writer) threw, if any. */
  get storeError(): unknown {
    return this.sinkError;
  }

  get enabled(): boolean {
    return this.o.power.length > 0 || this.o.scrape.length > 0;
  }

  /** Start every source; resolves once each has taken (or failed) its first reading. */
  async start(): Promise<void> {
    const firsts: Promise<void>[] = [];
    for (const p of this.o.power) {
      if (p.kind === 'nvidia-smi') firsts.push(this.startNvidiaSmi(p));
      else firsts.push(this.startPolledPower(p));
    }
    for (const s of this.o.scrape) firsts.push(this.startScrape(s));
    await Promise.all(firsts);
  }

  /** A last reading from every polled source, then stop all; returns the notes for the run row. Idempotent. */
  async stop(): Promise<TelemetryNotes> {
    if (!this.stopped) {
      this.stopped = true;
      await Promise.all(this.stopFns.map((f) => f()));
      for (const f of this.finalFns) await f().catch(() => undefined);
    }
    return { intervalMs: this.o.intervalMs, sources: this.notes, unpriced: [...this.unpriced].sort() };
  }

  private note(kind: string, source: string, role: string | null): SourceNote {
    const n: SourceNote = { source, role, kind, samples: 0, failures: 0, machines: 0 };
    this.notes.push(n);
    return n;
  }

  private fail(n: SourceNote, t: number, message: string): void {
    n.failures++;
    if (n.firstFailureT === undefined) {
      n.firstFailureT = t;
      this.o.log?.(`splitbench replay: telemetry source ${n.source} failed at t=${t.toFixed(1)} s: ${message} (recorded as a gap; the run goes on)`);
    }
    n.lastError = message;
  }

  private machine(map: Map<string, Machine>, n: SourceNote, id: string, role: string, type: string | undefined, perGpu: boolean, gpus?: number): Machine {
    let m = map.get(id);
    if (!m) {
      m = { id, role, energy: new EnergyAccumulator() };
      map.set(id, m);
      n.machines++;
      if (!this.written.has(id)) {
        this.written.add(id);
        const price = type ? (perGpu ? this.o.prices?.perGpu(type) : this.o.prices?.resolve(type, gpus)) : undefined;
        if (type && this.o.prices && !price) this.unpriced.add(type);
        const machineGpus = perGpu ? 1 : (gpus ?? (type ? this.o.prices?.machines.get(type)?.gpus : undefined));
        this.sink.addMachines([
          {
            machineId: id,
            machineType: type ?? 'unknown',
            pool: role,
            ...(machineGpus ? { gpus: machineGpus } : {}),
            ...(price ? { pricePerHour: price.usdPerHourTotal } : {}),
          },
        ]);
      }
    }
    return m;
  }

  /** Poll an HTTP source every interval; `read` handles one exposition at time t. No overlapping polls. */
  private poll(
    url: string,
    n: SourceNote,
    read: (text: string, t: number) => void,
    onFail: (t: number) => void,
    intervalMs = this.o.intervalMs,
  ): Promise<void> {
    const timeoutMs = Math.max(1000, Math.min(10_000, this.o.intervalMs * 4));
    let busy: Promise<void> | undefined;
    const once = (): Promise<void> => {
      if (busy) return busy;
      busy = (async () => {
        try {
          const text = await fetchText(url, timeoutMs);
          const t = this.o.now();
          read(text, t);
        } catch (e) {
          const t = this.o.now();
          this.fail(n, t, (e as Error).message);
          try {
            onFail(t);
          } catch {
            /* recording the gap failed too: nothing more to do here */
          }
        } finally {
          busy = undefined;
        }
      })();
      return busy;
    };
    const timer = setInterval(() => void once().catch(() => undefined), intervalMs);
    this.stopFns.push(async () => {
      clearInterval(timer);
      await busy;
    });
    this.finalFns.push(() => once());
    return once();
  }

  // ------------------------------------------------------------------------------------------ HTTP power sources

  private startPolledPower(p: Exclude<PowerSpec, { kind: 'nvidia-smi' }>): Promise<void> {
    const url = p.kind === 'model' ? (p.url ?? this.o.targetMetricsUrl) : p.url;
    const n = this.note(p.kind, p.text, p.role ?? null);
    if (url === undefined) {
      this.fail(n, 0, 'no URL: give --power model=URL');
      return Promise.resolve();
    }
    const machines = new Map<string, Machine>();
    const urlHost = new URL(url).hostname;
    const gapAll = (t: number): void => {
      for (const m of machines.values()) {
        if (m.pending) {
          // Close the model source's open interval with the last instantaneous reading.
          this.sink.addPowerSample({
            t: m.pending.t,
            machineId: m.id,
            role: m.pending.role,
            source: p.kind,
            watts: m.pending.watts,
            energyJ: m.pending.joules,
          });
          m.pending = undefined;
        }
        this.sink.addPowerSample({ t, machineId: m.id, role: m.role, source: p.kind, watts: null, energyJ: null });
        m.energy.gap(t);
      }
    };
    // The model source is read on the engine's clock (`splitbench_engine_time_seconds`, real-GPU = trace seconds):
    // intervals are the server's own, so an interval's mean (energy counter delta / its length) is never skewed by
    // when the scrape's answer arrived here; the engine clock is placed on the run's clock at the first reading.
    let engineOffset: number | undefined;
    const read = (text: string, tArrived: number): void => {
      const expo = parsePromText(text);
      let t = tArrived;
      if (p.kind === 'model') {
        const et = expo.samples.find((s) => s.name === 'splitbench_engine_time_seconds')?.value;
        if (et !== undefined && Number.isFinite(et)) {
          engineOffset ??= tArrived - et;
          t = et + engineOffset;
        }
      }
      const readings =
        p.kind === 'model' ? modelReadings(expo.samples) : p.kind === 'dcgm' ? dcgmReadings(expo.samples, urlHost) : promReadings(expo.samples, p, urlHost);
      if (readings.length === 0)
        throw new Error(
          `no ${p.kind === 'model' ? 'splitbench_power_watts' : p.kind === 'dcgm' ? 'DCGM_FI_DEV_POWER_USAGE' : p.metric} series in the exposition`,
        );
      n.samples++;
      for (const r of readings) {
        const role = p.role ?? r.pool ?? 'all';
        const m = this.machine(machines, n, r.id, role, p.kind === 'model' ? r.type : (p.type ?? r.type), p.kind !== 'model', undefined);
        const joules = m.energy.add(t, r.watts, r.counterJ);
        if (p.kind === 'model') {
          if (m.pending) {
            const dt = t - m.pending.t;
            const mean = dt > 0 ? (joules - m.pending.joules) / dt : m.pending.watts;
            if (dt > 0)
              this.sink.addPowerSample({ t: m.pending.t, machineId: m.id, role: m.pending.role, source: 'model', watts: mean, energyJ: m.pending.joules });
          }
          m.pending = { t, joules, watts: r.watts ?? 0, role };
        } else {
          this.sink.addPowerSample({ t, machineId: m.id, role, source: p.kind, watts: r.watts, energyJ: joules });
        }
      }
      n.energyMethod = [...machines.values()][0]?.energy.method;
      n.counterResets = [...machines.values()].reduce((s, m) => s + m.energy.resets, 0);
    };
    const first = this.poll(url, n, read, gapAll, p.kind === 'model' ? (this.o.modelIntervalMs ?? this.o.intervalMs) : this.o.intervalMs);
    if (p.kind === 'model') {
      this.finalFns.push(async () => {
        for (const m of machines.values()) {
          if (!m.pending) continue;
          this.sink.addPowerSample({
            t: m.pending.t,
            machineId: m.id,
            role: m.pending.role,
            source: 'model',
            watts: m.pending.watts,
            energyJ: m.pending.joules,
          });
          m.pending = undefined;
        }
      });
    }
    return first;
  }

  // ------------------------------------------------------------------------------------------ nvidia-smi

  private startNvidiaSmi(p: Extract<PowerSpec, { kind: 'nvidia-smi' }>): Promise<void> {
    const n = this.note('nvidia-smi', p.text, p.role);
    const machines = new Map<string, Machine>();
    const host = p.host ?? os.hostname();
    const exe = this.o.nvidiaSmi ?? 'nvidia-smi';
    let child: ChildProcess | undefined;
    let stopping = false;
    let firstResolve: (() => void) | undefined;
    const first = new Promise<void>((resolve) => (firstResolve = resolve));
    const firstTimer = setTimeout(() => firstResolve?.(), Math.max(2000, this.o.intervalMs * 3));
    let exited: Promise<void> = Promise.resolve();

    const launch = (query: string): void => {
      const args = [`--query-gpu=${query}`, '--format=csv,noheader,nounits', '-lms', String(Math.max(1, Math.round(this.o.intervalMs)))];
      const cmd = p.host ? 'ssh' : exe;
      const argv = p.host ? ['-o', 'BatchMode=yes', p.host, '--', exe, ...args] : args;
      const c = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      let buf = '';
      let errTail = '';
      let lines = 0;
      c.stdout!.setEncoding('utf8');
      c.stderr!.setEncoding('utf8');
      c.stderr!.on('data', (s: string) => (errTail = (errTail + s).slice(-600)));
      c.stdout!.on('data', (s: string) => {
        buf += s;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line === '') continue;
          lines++;
          const t = this.o.now();
          const r = parseNvidiaSmiLine(line);
          if (!r) {
            this.fail(n, t, `unparsable nvidia-smi line '${line.slice(0, 80)}'`);
            continue;
          }
          n.samples++;
          const m = this.machine(machines, n, `${host}/gpu${r.index}`, p.role, p.type, true);
          const joules = m.energy.add(t, r.watts, r.counterJ);
          this.sink.addPowerSample({ t, machineId: m.id, role: p.role, source: 'nvidia-smi', watts: r.watts, energyJ: joules });
          n.energyMethod = m.energy.method;
          n.counterResets = [...machines.values()].reduce((s2, mm) => s2 + mm.energy.resets, 0);
          firstResolve?.();
        }
      });
      exited = new Promise<void>((resolve) => {
        const done = (code: number | null, signal: NodeJS.Signals | null, err?: Error): void => {
          const t = this.o.now();
          if (stopping) {
            resolve();
            return;
          }
          const msg = err ? err.message : (errTail.trim().split('\n').pop() ?? '') || `exit ${code ?? signal}`;
          // Drivers that do not know total_energy_consumption refuse the whole query: ask for power alone.
          if (!err && lines === 0 && query === NVSMI_QUERY && /not a valid field|invalid|not supported/i.test(errTail)) {
            n.energyMethod = 'trapezoid';
            this.o.log?.(`splitbench replay: ${p.text}: this nvidia-smi does not report total_energy_consumption; integrating power.draw (estimated energy)`);
            launch(NVSMI_QUERY_NO_ENERGY);
            resolve();
            return;
          }
          this.fail(n, t, `nvidia-smi ${p.host ? `(via ssh ${p.host}) ` : ''}exited: ${msg}`);
          n.ended = `exited at t=${t.toFixed(1)} s: ${msg}`;
          for (const m of machines.values()) {
            this.sink.addPowerSample({ t, machineId: m.id, role: m.role, source: 'nvidia-smi', watts: null, energyJ: null });
            m.energy.gap(t);
          }
          firstResolve?.();
          resolve();
        };
        c.once('error', (e) => done(null, null, e));
        c.once('exit', (code, signal) => done(code, signal));
      });
    };
    launch(NVSMI_QUERY);
    this.stopFns.push(async () => {
      stopping = true;
      clearTimeout(firstTimer);
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    });
    // Readings stream in: the run need not wait for the first one (a remote host over ssh can take seconds).
    void first.finally(() => clearTimeout(firstTimer));
    return Promise.resolve();
  }

  // ------------------------------------------------------------------------------------------ server metrics

  private startScrape(s: ScrapeSpec): Promise<void> {
    const n = this.note('scrape', s.text, s.role ?? null);
    const mapper = new ServerMetricsMapper();
    const source = new URL(s.url).host;
    return this.poll(
      s.url,
      n,
      (text, t) => {
        const expo = parsePromText(text);
        n.samples++;
        for (const pt of mapper.map(expo)) {
          const role = s.role ?? pt.labels.pool ?? pt.labels.engine_type ?? '';
          this.sink.addTimelineSample({ t, source, role, name: pt.name, labels: pt.labels, value: pt.value });
        }
        n.counterResets = mapper.counterRestarts;
      },
      () => undefined,
    );
  }
}

// ---------------------------------------------------------------------------------------------- readings

interface Reading {
  readonly id: string;
  readonly watts: number | null;
  readonly counterJ?: number;
  readonly type?: string;
  readonly pool?: string;
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The reference backend's per-machine series. */
export function modelReadings(samples: readonly PromSample[]): Reading[] {
  const energy = new Map<string, number>();
  for (const s of samples) if (s.name === 'splitbench_energy_joules_total' && s.labels.machine) energy.set(s.labels.machine, s.value);
  const out: Reading[] = [];
  for (const s of samples) {
    if (s.name !== 'splitbench_power_watts' || !s.labels.machine) continue;
    const e = energy.get(s.labels.machine);
    out.push({
      id: s.labels.machine,
      watts: finiteOrNull(s.value),
      ...(e !== undefined && Number.isFinite(e) ? { counterJ: e } : {}),
      ...(s.labels.type ? { type: s.labels.type } : {}),
      ...(s.labels.pool ? { pool: s.labels.pool } : {}),
    });
  }
  return out;
}

const gpuKey = (l: Readonly<Record<string, string>>, fallbackHost: string): string =>
  `${l.Hostname || l.hostname || l.host || fallbackHost}/gpu${l.gpu ?? l.device?.replace(/^nvidia/, '') ?? l.UUID ?? '0'}`;

/** A DCGM exporter's per-GPU power (W) and total energy (mJ → J). */
export function dcgmReadings(samples: readonly PromSample[], fallbackHost: string): Reading[] {
  const energy = new Map<string, number>();
  for (const s of samples) if (s.name === 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION') energy.set(gpuKey(s.labels, fallbackHost), s.value / 1000);
  const out: Reading[] = [];
  for (const s of samples) {
    if (s.name !== 'DCGM_FI_DEV_POWER_USAGE') continue;
    const id = gpuKey(s.labels, fallbackHost);
    const e = energy.get(id);
    out.push({
      id,
      watts: finiteOrNull(s.value),
      ...(e !== undefined && Number.isFinite(e) ? { counterJ: e } : {}),
      ...(s.labels.modelName ? { type: s.labels.modelName } : {}),
    });
  }
  return out;
}

/** A user-named power series (and optional energy counter) of any Prometheus endpoint. */
export function promReadings(samples: readonly PromSample[], p: Extract<PowerSpec, { kind: 'prometheus' }>, fallbackHost: string): Reading[] {
  const idOf = (l: Readonly<Record<string, string>>): string => {
    const host = l.Hostname || l.hostname || l.host || l.instance || fallbackHost;
    const gpu = l.gpu ?? l.device ?? l.index ?? l.machine;
    return gpu === undefined ? host : `${host}/${/^\d+$/.test(gpu) ? `gpu${gpu}` : gpu}`;
  };
  const energy = new Map<string, number>();
  if (p.energyMetric) {
    for (const s of samples) if (s.name === p.energyMetric || s.name === `${p.energyMetric}_total`) energy.set(idOf(s.labels), s.value * p.energyScale);
  }
  const out: Reading[] = [];
  for (const s of samples) {
    if (s.name !== p.metric) continue;
    const id = idOf(s.labels);
    const e = energy.get(id);
    out.push({
      id,
      watts: finiteOrNull(s.value * p.wattsScale),
      ...(e !== undefined && Number.isFinite(e) ? { counterJ: e } : {}),
      ...(s.labels.modelName ? { type: s.labels.modelName } : {}),
    });
  }
  return out;
}

/** One line of `nvidia-smi --query-gpu=index,power.draw[,total_energy_consumption] --format=csv,noheader,nounits`. */
export function parseNvidiaSmiLine(line: string): { index: string; watts: number | null; counterJ?: number } | undefined {
  const f = line.split(',').map((x) => x.trim());
  if (f.length < 2 || !/^\d+$/.test(f[0]!)) return undefined;
  const num = (s: string | undefined): number | null => {
    if (s === undefined || s === '' || s.startsWith('[')) return null; // [N/A], [Not Supported], [Unknown Error]
    const v = Number(s);
    return Number.isFinite(v) ? v : null;
  };
  const w = num(f[1]);
  if (w === null && !(f[1] ?? '').startsWith('[')) return undefined;
  const mj = num(f[2]);
  // total_energy_consumption is in mJ.
  return { index: f[0]!, watts: w, ...(mj !== null ? { counterJ: mj / 1000 } : {}) };
}
