/**
 * Entry of a worker process (started by the router with child_process.fork). One InferenceEngine; the
 * role decides the work:
 *
 * - `mixed`: prompt and decode of each submitted request (monolithic).
 * - `prompt`: prefill, first token, then the KV state shipped to the token worker the router named, over a
 *   loopback TCP connection (one per token worker, reused), length-prefixed frames, acked by the receiver.
 * - `token`: listens on a loopback port for KV frames, loads each state and produces the remaining tokens.
 *
 * Every event goes to the router as an IPC message (protocol.ts). The process exits when the router goes.
 */
import net from 'node:net';
import { Cancel, CancelledError, InferenceEngine } from './engine.js';
import { encodeFrame, FrameDecoder, type FromWorker, type KvFrameHeader, type ToWorker, type WorkerInit } from './protocol.js';

const send = (m: FromWorker): void => {
  if (process.connected) process.send!(m);
};

let engine: InferenceEngine | undefined;
let init: WorkerInit | undefined;
const cancels = new Map<string, Cancel>();
/** Requests cancelled before their KV frame arrived (token role). */
const cancelledEarly = new Set<string>();

function failed(rid: string, e: unknown): void {
  if (e instanceof CancelledError) return;
  send({ type: 'failed', rid, reason: (e as Error)?.message ?? String(e) });
}

/** A request's work, cancellable by `cancel` messages while it runs; a failure is reported as `failed`. */
async function cancellable(rid: string, work: (cancel: Cancel) => Promise<void>): Promise<void> {
  const cancel = new Cancel();
  cancels.set(rid, cancel);
  try {
    await work(cancel);
  } catch (e) {
    failed(rid, e);
  } finally {
    cancels.delete(rid);
  }
}

// ---- prompt role: connections to token workers --------------------------------------------------

interface Link {
  readonly socket: net.Socket;
  readonly acks: Map<string, { resolve: () => void; reject: (e: Error) => void }>;
  ready: Promise<void>;
}
const links = new Map<number, Link>();

function link(port: number, workerId: string): Link {
  const have = links.get(port);
  if (have && !have.socket.destroyed) return have;
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  const acks = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  const l: Link = {
    socket,
    acks,
    ready: new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }),
  };
  l.ready.catch(() => {});
  const dec = new FrameDecoder((h) => {
    if (h.kind === 'ack') {
      const a = acks.get(h.rid);
      acks.delete(h.rid);
      a?.resolve();
    }
  });
  socket.on('data', (b: Buffer) => {
    try {
      dec.push(b);
    } catch (e) {
      socket.destroy(e as Error);
    }
  });
  const down = (why: string): void => {
    links.delete(port);
    for (const a of acks.values()) a.reject(new Error(`KV transfer to ${workerId} failed: ${why}`));
    acks.clear();
  };
  socket.on('error', (e: NodeJS.ErrnoException) => down(e.code ?? e.message));
  socket.on('close', () => down('connection closed'));
  links.set(port, l);
  return l;
}

/** Send a KV frame and wait for the receiver's ack; resolves with the wire seconds. */
async function ship(port: number, workerId: string, header: KvFrameHeader, state: Buffer): Promise<number> {
  const l = link(port, workerId);
  await l.ready.catch((e: NodeJS.ErrnoException) => {
    throw new Error(`KV transfer to ${workerId} failed: ${e.code ?? e.message}`);
  });
  const t = performance.now();
  const acked = new Promise<void>((resolve, reject) => l.acks.set(header.rid, { resolve, reject }));
  for (const b of encodeFrame(header, state)) l.socket.write(b);
  await acked;
  return (performance.now() - t) / 1000;
}

/** One output token's message: its id, text, and the prefill time / log-probability when there are. */
function tokensMsg(rid: string, id: number, prefillS: number | undefined, lp: number | undefined): FromWorker {
  return {
    type: 'tokens',
    rid,
    ids: [id],
    texts: [engine!.tokenText(id)],
    ...(prefillS === undefined ? {} : { prefillS }),
    ...(lp === undefined ? {} : { logprobs: [lp] }),
  };
}

async function runPrompt(m: Extract<ToWorker, { type: 'submit' }>, cancel: Cancel): Promise<void> {
  const e = engine!;
  const sink = {
    onStart: () => send({ type: 'started', rid: m.rid }),
    onToken: (id: number, prefillS?: number, lp?: number) => send(tokensMsg(m.rid, id, prefillS, lp)),
    logprobs: m.logprobs === true,
  };
  if (m.outputTokens <= 1 || !m.to) {
    // One output token: the prompt phase is the whole request, nothing to ship.
    const r = await e.generate(m.prompt, m.outputTokens, sink, cancel);
    send({ type: 'done', rid: m.rid, decodeS: r.decodeS });
    return;
  }
  const pre = await e.prefill(m.prompt, sink, cancel);
  if (cancel.cancelled) return;
  const wireS = await ship(
    m.to.port,
    m.to.id,
    {
      kind: 'kv',
      rid: m.rid,
      firstToken: pre.firstToken,
      promptTokens: m.prompt.length,
      outputTokens: m.outputTokens,
      ...(m.logprobs ? { logprobs: true } : {}),
    },
    pre.state,
  );
  send({ type: 'shipped', rid: m.rid, bytes: pre.state.length, saveS: pre.saveS, wireS });
}

// ---- token role: the KV receiver ----------------------------------------------------------------

function listen(): Promise<number> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    const dec = new FrameDecoder((h, payload) => {
      if (h.kind !== 'kv') return;
      for (const b of encodeFrame({ kind: 'ack', rid: h.rid })) socket.write(b);
      if (cancelledEarly.delete(h.rid)) return;
      void runDecode(h, payload);
    });
    socket.on('data', (b: Buffer) => {
      try {
        dec.push(b);
      } catch (e) {
        socket.destroy(e as Error);
      }
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

function runDecode(h: KvFrameHeader, state: Buffer): Promise<void> {
  return cancellable(h.rid, async (cancel) => {
    const r = await engine!.decodeFrom(
      state,
      h.promptTokens,
      h.firstToken,
      h.outputTokens,
      {
        onStart: () => send({ type: 'started', rid: h.rid }),
        onLoaded: (loadS) => send({ type: 'loaded', rid: h.rid, loadS, bytes: state.length }),
        onToken: (id, _prefillS, lp) => send(tokensMsg(h.rid, id, undefined, lp)),
        logprobs: h.logprobs === true,
      },
      cancel,
    );
    send({ type: 'done', rid: h.rid, decodeS: r.decodeS });
  });
}

// ---- router messages ------------------------------------------------------------------------------

async function onInit(m: WorkerInit): Promise<void> {
  init = m;
  try {
    engine = await InferenceEngine.open({
      modelFile: m.modelFile,
      slots: m.slots,
      contextSize: m.contextSize,
      kvTokens: m.kvTokens,
      threads: m.threads,
      gpu: m.gpu,
    });
    const port = m.role === 'token' ? await listen() : undefined;
    send({ type: 'ready', id: m.id, device: engine.device, contextSize: engine.contextSize, ...(port === undefined ? {} : { port }) });
  } catch (e) {
    send({ type: 'fatal', message: (e as Error)?.message ?? String(e) });
    process.exitCode = 1;
    process.disconnect?.();
  }
}

function onSubmit(m: Extract<ToWorker, { type: 'submit' }>): Promise<void> {
  return cancellable(m.rid, async (cancel) => {
    if (init!.role === 'prompt') return runPrompt(m, cancel);
    const r = await engine!.generate(
      m.prompt,
      m.outputTokens,
      {
        onStart: () => send({ type: 'started', rid: m.rid }),
        onToken: (id, prefillS, lp) => send(tokensMsg(m.rid, id, prefillS, lp)),
        logprobs: m.logprobs === true,
      },
      cancel,
    );
    send({ type: 'done', rid: m.rid, decodeS: r.decodeS });
  });
}

process.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'init':
      void onInit(m);
      return;
    case 'submit':
      void onSubmit(m);
      return;
    case 'cancel': {
      const c = cancels.get(m.rid);
      if (c) c.cancel();
      else if (init?.role === 'token') cancelledEarly.add(m.rid);
      return;
    }
    case 'stop':
      void (async () => {
        for (const c of cancels.values()) c.cancel();
        await engine?.close().catch(() => {});
        process.exit(0);
      })();
      return;
  }
});
// The router went away: nothing left to serve.
process.on('disconnect', () => process.exit(0));
