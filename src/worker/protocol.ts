/**
 * What the router (the server process) and its worker processes say to each other, and the KV-transfer
 * wire format between a prompt worker and a token worker.
 *
 * Router ↔ worker: Node IPC messages (child_process.fork). Durations a worker reports are seconds on its
 * own monotonic clock; the router places them on its clock by the time the message arrives.
 *
 * Prompt worker → token worker: one TCP connection per pair on loopback, carrying length-prefixed frames:
 * `u32 header length, u32 payload length, header (UTF-8 JSON), payload (bytes)`, little-endian. A KV frame's
 * payload is the sequence state llama.cpp saved after the prefill; the token worker answers every KV frame
 * with an ack frame (empty payload) once it holds all the bytes, which ends the sender's wire-time measurement.
 */

export type WorkerRole = 'mixed' | 'prompt' | 'token';
export type GpuMode = 'auto' | 'cuda' | 'none';

export interface WorkerInit {
  readonly type: 'init';
  readonly id: string;
  readonly role: WorkerRole;
  readonly modelFile: string;
  /** Sequences per context (the most requests batched together); equal on every worker of a cluster. */
  readonly slots: number;
  /** Context (KV cells) per sequence, tokens. */
  readonly contextSize: number;
  /** KV tokens the worker may hold at once (admission limit). */
  readonly kvTokens: number;
  readonly threads: number;
  readonly gpu: GpuMode;
}

/** Router → worker. */
export type ToWorker =
  | WorkerInit
  | {
      readonly type: 'submit';
      readonly rid: string;
      readonly prompt: readonly number[];
      readonly outputTokens: number;
      /** Report each output token's log-probability. */
      readonly logprobs?: boolean;
      /** Prompt role: the token worker to ship the KV state to. */
      readonly to?: { readonly id: string; readonly port: number };
    }
  | { readonly type: 'cancel'; readonly rid: string }
  | { readonly type: 'stop' };

/** Worker → router. */
export type FromWorker =
  | {
      readonly type: 'ready';
      readonly id: string;
      /** Token role: loopback port receiving KV frames. */
      readonly port?: number;
      /** Compute device in use, e.g. 'cpu' or 'cuda'. */
      readonly device: string;
      readonly contextSize: number;
    }
  | { readonly type: 'fatal'; readonly message: string }
  /** A request was admitted (holds a sequence and its KV reservation). */
  | { readonly type: 'started'; readonly rid: string }
  /** Output tokens produced; `first` is set on the request's first token (with the prefill duration). */
  | {
      readonly type: 'tokens';
      readonly rid: string;
      readonly ids: readonly number[];
      /** Each id's text (llama.cpp's detokenization of that token alone). */
      readonly texts?: readonly string[];
      /** Each id's log-probability, when the request asked. */
      readonly logprobs?: readonly number[];
      readonly prefillS?: number;
      readonly decodeStartAgoS?: number;
    }
  /** Prompt role: the KV state reached the token worker. */
  | { readonly type: 'shipped'; readonly rid: string; readonly bytes: number; readonly saveS: number; readonly wireS: number }
  /** Token role: state loaded into a sequence, decode starts. */
  | { readonly type: 'loaded'; readonly rid: string; readonly loadS: number; readonly bytes: number }
  | { readonly type: 'done'; readonly rid: string; readonly decodeS: number }
  | { readonly type: 'failed'; readonly rid: string; readonly reason: string };

/** Header of a KV frame (prompt worker → token worker). */
export interface KvFrameHeader {
  readonly kind: 'kv';
  readonly rid: string;
  /** The first output token (sampled by the prompt worker; its KV is not in the state yet). */
  readonly firstToken: number;
  readonly promptTokens: number;
  /** Output tokens in all (the token worker produces outputTokens − 1). */
  readonly outputTokens: number;
  readonly logprobs?: boolean;
}

export interface AckFrameHeader {
  readonly kind: 'ack';
  readonly rid: string;
}

export type FrameHeader = KvFrameHeader | AckFrameHeader;

/** Encode one frame (header + payload) as the buffers to write. */
export function encodeFrame(header: FrameHeader, payload: Buffer = Buffer.alloc(0)): Buffer[] {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32LE(h.length, 0);
  prefix.writeUInt32LE(payload.length, 4);
  return payload.length > 0 ? [prefix, h, payload] : [prefix, h];
}

/** Largest frame header accepted (bytes); a larger one means a corrupt stream. */
export const MAX_FRAME_HEADER = 64 * 1024;

/**
 * Incremental frame decoder: feed socket chunks, get whole frames. Keeps received chunks in a list and
 * copies a payload once, when it is complete.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly onFrame: (header: FrameHeader, payload: Buffer) => void) {}

  /** Feed bytes; throws on a corrupt stream (the caller closes the connection). */
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 8) return;
      const prefix = this.peek(8);
      const hl = prefix.readUInt32LE(0);
      const pl = prefix.readUInt32LE(4);
      if (hl === 0 || hl > MAX_FRAME_HEADER) throw new Error(`corrupt KV stream: frame header of ${hl} bytes`);
      if (this.buffered < 8 + hl + pl) return;
      const all = this.take(8 + hl + pl);
      let header: FrameHeader;
      try {
        header = JSON.parse(all.toString('utf8', 8, 8 + hl)) as FrameHeader;
      } catch {
        throw new Error('corrupt KV stream: frame header is not JSON');
      }
      this.onFrame(header, all.subarray(8 + hl));
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    return Buffer.concat(this.chunks, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}
