/**
 * A tiny Cluster for testing the HTTP layer without the real engine: every request gets its first token
 * `ttft` engine seconds after submission, then one chunk of `tokensPerChunk` tokens every `itl` seconds.
 * Requests with more than `failOverPromptTokens` prompt tokens fail.
 */
import type { Clock, Cluster, EngineRequest, MachineInfo, MachineSnapshot, RequestObserver, SubmitHandle, TimerHandle } from '../../src/engine/index.js';

export interface FakeOptions {
  readonly ttft: number;
  readonly itl: number;
  readonly tokensPerChunk?: number;
  readonly failOverPromptTokens?: number;
}

export class FakeCluster implements Cluster {
  submitted: EngineRequest[] = [];
  cancelled = 0;
  private live = 0;
  private outputTotal = 0;
  private promptTotal = 0;

  constructor(
    private readonly clock: Clock,
    private readonly opts: FakeOptions,
  ) {}

  submit(request: EngineRequest, observer: RequestObserver): SubmitHandle {
    this.submitted.push(request);
    this.live++;
    const t0 = this.clock.now();
    let timer: TimerHandle | undefined;
    let over = false;
    const end = (): void => {
      if (!over) {
        over = true;
        this.live--;
      }
    };
    if (this.opts.failOverPromptTokens !== undefined && request.promptTokens > this.opts.failOverPromptTokens) {
      timer = this.clock.at(t0, () => {
        end();
        observer.onFailed('prompt larger than any machine', this.clock.now());
      });
    } else {
      this.promptTotal += request.promptTokens;
      const per = this.opts.tokensPerChunk ?? 1;
      let produced = 0;
      const step = (t: number): void => {
        const k = Math.min(per, request.outputTokens - produced);
        produced += k;
        this.outputTotal += k;
        observer.onTokens(k, t);
        if (produced >= request.outputTokens) {
          end();
          const ttft = this.opts.ttft;
          observer.onDone(
            {
              queue: 0,
              prefill: ttft,
              kvTransfer: 0,
              decodeWait: 0,
              decode: t - t0 - ttft,
              promptMachine: 'fake-0',
              tokenMachine: 'fake-0',
              pool: 'mixed',
              preemptions: 0,
            },
            t,
          );
        } else {
          const next = t + this.opts.itl;
          timer = this.clock.at(next, () => step(next));
        }
      };
      const first = t0 + this.opts.ttft;
      timer = this.clock.at(first, () => step(first));
    }
    return {
      cancel: () => {
        if (over) return;
        timer?.cancel();
        this.cancelled++;
        end();
      },
    };
  }

  machines(): readonly MachineInfo[] {
    return [{ id: 'fake-0', type: 'dgx-fake', pool: 'mixed', gpus: 8, pricePerHour: 1, tdpW: 800, idleW: 100 }];
  }

  snapshot(): readonly MachineSnapshot[] {
    return [
      {
        id: 'fake-0',
        pool: 'mixed',
        queuedRequests: 0,
        runningRequests: this.live,
        batchSize: this.live,
        batchPromptTokens: 0,
        kvUsedTokens: this.live * 10,
        kvCapacityTokens: 1000,
        watts: 400,
        promptTokensTotal: this.promptTotal,
        outputTokensTotal: this.outputTotal,
      },
    ];
  }

  inFlight(): number {
    return this.live;
  }
}
