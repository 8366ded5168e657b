/**
 * Event-timeline export in the Chrome trace-event JSON format (opens in Perfetto and chrome://tracing),
 * fed by the engine's event hook. Layout: one process per pool (pid), and per machine three threads:
 * its batches (one 'X' complete event per iteration, named by phase, or per contiguous decode run in the compatible mode;
 * args: batch size, prompt tokens, decodes, iterations), the prompts it ran (one 'X' event 'prefill' per request,
 * prefill start to first token) and the KV transfers into it (one 'X' event per transfer, args: bytes and
 * source machine). Arrivals are instant events ('i') on process 0. Times in microseconds of virtual time.
 *
 * The file is written as the simulation goes (buffered), so a long run never holds its events in memory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { IterationEvent, KvTransferEvent, MachineInfo, RequestBreakdown } from '../engine/index.js';
import type { SimEventListener } from './simulate.js';

const POOL_PID: Record<string, number> = { prompt: 1, token: 2, mixed: 3 };
const THREADS_PER_MACHINE = 3;

export class TraceEventWriter implements SimEventListener {
  private readonly fd: number;
  private buf: string[] = [];
  private bufLen = 0;
  private first = true;
  private closed = false;
  private readonly where = new Map<string, { pid: number; tid: number }>();
  private readonly arrivalsAt = new Map<string, number>();
  /** Events written (metadata included). */
  count = 0;

  constructor(readonly file: string) {
    try {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      this.fd = fs.openSync(file, 'w');
    } catch (e) {
      throw new ConfigError(`cannot write ${file}: ${(e as Error).message}`, { path: '--trace-events' });
    }
    this.raw('{"displayTimeUnit":"ms","traceEvents":[\n');
  }

  machines(list: readonly MachineInfo[]): void {
    this.emit({ ph: 'M', pid: 0, tid: 0, name: 'process_name', args: { name: 'arrivals' } });
    const named = new Set<number>();
    list.forEach((m, i) => {
      const pid = POOL_PID[m.pool] ?? 4;
      const tid = i * THREADS_PER_MACHINE + 1;
      this.where.set(m.id, { pid, tid });
      if (!named.has(pid)) {
        named.add(pid);
        this.emit({ ph: 'M', pid, tid: 0, name: 'process_name', args: { name: `${m.pool} pool` } });
        this.emit({ ph: 'M', pid, tid: 0, name: 'process_sort_index', args: { sort_index: pid } });
      }
      this.emit({ ph: 'M', pid, tid, name: 'thread_name', args: { name: `${m.id} (${m.type}) batches` } });
      this.emit({ ph: 'M', pid, tid: tid + 1, name: 'thread_name', args: { name: `${m.id} prompts` } });
      this.emit({ ph: 'M', pid, tid: tid + 2, name: 'thread_name', args: { name: `${m.id} KV in` } });
      for (let k = 0; k < THREADS_PER_MACHINE; k++) this.emit({ ph: 'M', pid, tid: tid + k, name: 'thread_sort_index', args: { sort_index: tid + k } });
    });
  }

  arrival(id: string, time: number, promptTokens: number, outputTokens: number): void {
    this.arrivalsAt.set(id, time);
    this.emit({ ph: 'i', s: 'p', pid: 0, tid: 0, ts: us(time), name: 'arrival', args: { id, promptTokens, outputTokens } });
  }

  iterationEnd(e: IterationEvent): void {
    const w = this.where.get(e.machine);
    if (!w) return;
    this.emit({
      ph: 'X',
      pid: w.pid,
      tid: w.tid,
      ts: us(e.start),
      dur: us(e.end - e.start),
      name: e.phase,
      args: { batchSize: e.batchSize, promptTokens: e.promptTokens, decodes: e.decodes, iterations: e.iterations },
    });
  }

  kvTransferEnd(e: KvTransferEvent & { start?: number }): void {
    const w = this.where.get(e.to);
    if (!w) return;
    const start = this.kvStarts.get(e.requestId) ?? e.time;
    this.kvStarts.delete(e.requestId);
    this.emit({
      ph: 'X',
      pid: w.pid,
      tid: w.tid + 2,
      ts: us(start),
      dur: us(e.time - start),
      name: 'kv',
      args: { request: e.requestId, from: e.from, bytes: e.bytes },
    });
  }

  private readonly kvStarts = new Map<string, number>();
  kvTransferStart(e: KvTransferEvent): void {
    this.kvStarts.set(e.requestId, e.time);
  }

  requestDone(id: string, b: RequestBreakdown, _time: number): void {
    const arrival = this.arrivalsAt.get(id);
    this.arrivalsAt.delete(id);
    const w = this.where.get(b.promptMachine);
    if (arrival === undefined || !w) return;
    const start = arrival + b.queue;
    this.emit({
      ph: 'X',
      pid: w.pid,
      tid: w.tid + 1,
      ts: us(start),
      dur: us(b.prefill),
      name: 'prefill',
      args: { request: id, pool: b.pool, tokenMachine: b.tokenMachine },
    });
  }

  /** Finish the JSON document and close the file. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.raw('\n]}\n');
    this.flush();
    fs.closeSync(this.fd);
  }

  private emit(o: Record<string, unknown>): void {
    this.count++;
    this.raw((this.first ? '' : ',\n') + JSON.stringify(o));
    this.first = false;
  }

  private raw(s: string): void {
    this.buf.push(s);
    this.bufLen += s.length;
    if (this.bufLen > 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.buf.length === 0) return;
    fs.writeSync(this.fd, this.buf.join(''));
    this.buf = [];
    this.bufLen = 0;
  }
}

function us(s: number): number {
  return Math.round(s * 1e6 * 1000) / 1000;
}
