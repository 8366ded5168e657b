#!/usr/bin/env python3
"""Measure prefill, decode and mixed-batch iteration times of a Llama-architecture model on one GPU.

How splitbench's measured GPU profiles were made (see workloads/profiles/README.md). The model is a
plain PyTorch implementation of the Llama-3 architecture (RMSNorm, rotary embeddings, grouped-query
attention through scaled_dot_product_attention, SwiGLU MLP) with randomly initialised bf16 weights:
random weights time exactly like trained ones of the same shape. Each iteration (one engine step) is
captured once as a CUDA graph, as serving engines do for decode, so kernel-launch gaps do not inflate
the figures; it is then replayed until at least --min-seconds have passed, and the median replay time
(CUDA events) is reported. GPU power is sampled with nvidia-smi during each measurement.

Iteration shapes, like a continuous-batching engine's steps:
  prefill  one sequence of P prompt tokens (causal attention), logits for the last token only;
  decode   B sequences of one token each, every sequence with L tokens of context in the KV cache;
  mixed    P prompt tokens of one sequence plus B decode tokens in one step: the linear layers run
           over all P + B tokens at once, attention separately for the two parts.

Usage: python3 measure_torch.py --out results.json [--smoke]
Needs: torch with CUDA, nvidia-smi on PATH (optional, for power).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time

import torch
import torch.nn.functional as F

SHAPES = {
    # name: layers, hidden, heads, kv_heads, head_dim, intermediate, vocab, max_context
    "llama3-8b": dict(layers=32, hidden=4096, heads=32, kv_heads=8, head_dim=128, inter=14336, vocab=128256, ctx=8192),
    "tiny": dict(layers=2, hidden=256, heads=4, kv_heads=2, head_dim=64, inter=512, vocab=1000, ctx=2048),
}


class PowerSampler:
    """nvidia-smi in loop mode; samples are (monotonic time, watts, sm clock MHz)."""

    def __init__(self, index, period_ms=50):
        self.samples = []
        self.proc = None
        try:
            self.proc = subprocess.Popen(
                ["nvidia-smi", "-i", str(index), "--query-gpu=power.draw,clocks.sm",
                 "--format=csv,noheader,nounits", "-lms", str(period_ms)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        except (OSError, ValueError):
            self.proc = None
            return
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            parts = [p.strip() for p in line.split(",")]
            try:
                self.samples.append((time.monotonic(), float(parts[0]), float(parts[1])))
            except (ValueError, IndexError):
                pass

    def window(self, t0, t1):
        w = [s for s in self.samples if t0 <= s[0] <= t1]
        if not w:
            return None, None
        return statistics.mean(s[1] for s in w), statistics.mean(s[2] for s in w)

    def close(self):
        if self.proc:
            self.proc.terminate()


class Model:
    def __init__(self, shape, device, dtype):
        s = shape
        self.s = s
        g = torch.Generator(device=device).manual_seed(0)

        def w(*dims):
            t = torch.empty(*dims, device=device, dtype=dtype)
            t.normal_(0.0, 0.02, generator=g)
            return t

        self.embed = w(s["vocab"], s["hidden"])
        self.layers = []
        q_out = s["heads"] * s["head_dim"]
        kv_out = s["kv_heads"] * s["head_dim"]
        for _ in range(s["layers"]):
            self.layers.append(dict(
                ln1=torch.ones(s["hidden"], device=device, dtype=dtype),
                wqkv=w(q_out + 2 * kv_out, s["hidden"]),
                wo=w(s["hidden"], q_out),
                ln2=torch.ones(s["hidden"], device=device, dtype=dtype),
                wgu=w(2 * s["inter"], s["hidden"]),
                wd=w(s["hidden"], s["inter"]),
            ))
        self.norm = torch.ones(s["hidden"], device=device, dtype=dtype)
        self.lm_head = w(s["vocab"], s["hidden"])
        inv = 1.0 / (500000.0 ** (torch.arange(0, s["head_dim"], 2, device=device, dtype=torch.float32) / s["head_dim"]))
        pos = torch.arange(s["ctx"] + 1, device=device, dtype=torch.float32)
        freqs = torch.outer(pos, inv)
        self.cos = torch.cat([freqs.cos(), freqs.cos()], dim=-1).to(dtype)
        self.sin = torch.cat([freqs.sin(), freqs.sin()], dim=-1).to(dtype)
        self.gqa_native = "enable_gqa" in (F.scaled_dot_product_attention.__doc__ or "")

    def params(self):
        n = self.embed.numel() + self.lm_head.numel() + self.norm.numel()
        for l in self.layers:
            n += sum(t.numel() for t in l.values())
        return n

    @staticmethod
    def rms(x, w, eps=1e-5):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w

    def rope(self, x, positions):
        # x: [T, H, D]; positions: [T]
        cos = self.cos[positions].unsqueeze(1)
        sin = self.sin[positions].unsqueeze(1)
        half = x.shape[-1] // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rot * sin

    def attend(self, q, k, v, causal):
        # q: [N, H, Tq, D]; k, v: [N, KV, Tk, D]
        if self.gqa_native:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        rep = q.shape[1] // k.shape[1]
        return F.scaled_dot_product_attention(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1), is_causal=causal)

    def step(self, ids, p, b, ctx, caches, pos_prefill, pos_decode):
        """One engine iteration: p prefill tokens of one sequence, then b decode tokens at context ctx."""
        s = self.s
        H, KV, D = s["heads"], s["kv_heads"], s["head_dim"]
        x = self.embed[ids]  # [p + b, hidden]
        for li, l in enumerate(self.layers):
            h = self.rms(x, l["ln1"])
            qkv = h @ l["wqkv"].t()
            q, k, v = qkv.split([H * D, KV * D, KV * D], dim=-1)
            q = q.view(-1, H, D)
            k = k.view(-1, KV, D)
            v = v.view(-1, KV, D)
            outs = []
            if p > 0:
                qp = self.rope(q[:p], pos_prefill)
                kp = self.rope(k[:p], pos_prefill)
                o = self.attend(qp.transpose(0, 1).unsqueeze(0), kp.transpose(0, 1).unsqueeze(0),
                                v[:p].transpose(0, 1).unsqueeze(0), causal=True)
                outs.append(o.squeeze(0).transpose(0, 1).reshape(p, H * D))
            if b > 0:
                kc, vc = caches[li]  # [b, KV, ctx, D]
                qd = self.rope(q[p:], pos_decode)
                kd = self.rope(k[p:], pos_decode)
                kc[:, :, ctx - 1] = kd
                vc[:, :, ctx - 1] = v[p:]
                o = self.attend(qd.unsqueeze(2), kc, vc, causal=False)  # [b, H, 1, D]
                outs.append(o.reshape(b, H * D))
            a = outs[0] if len(outs) == 1 else torch.cat(outs, dim=0)
            x = x + a @ l["wo"].t()
            h = self.rms(x, l["ln2"])
            gu = h @ l["wgu"].t()
            gate, up = gu.chunk(2, dim=-1)
            x = x + (F.silu(gate) * up) @ l["wd"].t()
        # logits: last prompt token (if any) and every decode token
        rows = []
        if p > 0:
            rows.append(x[p - 1:p])
        if b > 0:
            rows.append(x[p:])
        last = rows[0] if len(rows) == 1 else torch.cat(rows, dim=0)
        logits = self.rms(last, self.norm) @ self.lm_head.t()
        return logits.argmax(-1)


def measure(model, p, b, ctx, device, min_seconds, power):
    s = model.s
    caches = []
    if b > 0:
        for _ in range(s["layers"]):
            kc = torch.zeros(b, s["kv_heads"], ctx, s["head_dim"], device=device, dtype=model.embed.dtype)
            caches.append((kc, torch.zeros_like(kc)))
    ids = torch.randint(0, s["vocab"], (p + b,), device=device)
    pos_prefill = torch.arange(p, device=device)
    pos_decode = torch.full((b,), ctx - 1, device=device, dtype=torch.long)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):  # warm-up outside the graph (allocator, cuBLAS heuristics)
            model.step(ids, p, b, ctx, caches, pos_prefill, pos_decode)
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        model.step(ids, p, b, ctx, caches, pos_prefill, pos_decode)
    for _ in range(3):
        graph.replay()
    torch.cuda.synchronize()
    times = []
    t_start = time.monotonic()
    while True:
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        graph.replay()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
        if len(times) >= 5 and time.monotonic() - t_start >= min_seconds:
            break
        if len(times) >= 2000:
            break
    t_end = time.monotonic()
    watts, sm_mhz = power.window(t_start + 0.15, t_end) if power else (None, None)
    del graph, caches
    torch.cuda.empty_cache()
    return dict(prefill_tokens=p, decode_batch=b, decode_context=ctx if b > 0 else 0,
                ms_median=statistics.median(times), ms_min=min(times), ms_p90=sorted(times)[int(0.9 * (len(times) - 1))],
                replays=len(times), watts_mean=watts, sm_clock_mhz=sm_mhz)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--shape", default="llama3-8b")
    ap.add_argument("--smoke", action="store_true", help="tiny shape, few points: checks the script in seconds")
    ap.add_argument("--min-seconds", type=float, default=0.5)
    ap.add_argument("--kv-budget-tokens", type=int, default=262144, help="largest decode batch x context measured")
    args = ap.parse_args()
    device = torch.device("cuda")
    dtype = torch.bfloat16
    shape_name = "tiny" if args.smoke else args.shape
    shape = SHAPES[shape_name]
    torch.backends.cuda.matmul.allow_tf32 = True
    props = torch.cuda.get_device_properties(0)
    meta = dict(
        shape=shape_name, model_shape=shape, dtype="bfloat16", tensor_parallel=1,
        gpu=props.name, gpu_memory_bytes=props.total_memory, torch=torch.__version__, cuda=torch.version.cuda,
        driver=None, method=__doc__.strip().split("\n\n")[1].replace("\n", " "),
        started_unix=time.time(),
    )
    try:
        meta["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,power.limit", "--format=csv,noheader"],
                                        capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        pass
    t0 = time.monotonic()
    model = Model(shape, device, dtype)
    torch.cuda.synchronize()
    meta["params"] = model.params()
    meta["init_seconds"] = time.monotonic() - t0
    meta["sdpa_native_gqa"] = model.gqa_native
    power = PowerSampler(0)
    time.sleep(0.3)
    idle_t0 = time.monotonic()
    time.sleep(1.0 if not args.smoke else 0.2)
    meta["idle_watts"] = power.window(idle_t0, time.monotonic())[0]

    if args.smoke:
        prefill = [16, 64]
        decode = [(1, 128), (4, 256)]
        mixed = [(64, 4, 256)]
        min_s = 0.05
    else:
        prefill = [16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192]
        decode = []
        for ctx in [128, 512, 1024, 2048, 4096, 8192]:
            for bs in [1, 2, 4, 8, 16, 32, 64, 128, 256]:
                if bs * ctx <= args.kv_budget_tokens:
                    decode.append((bs, ctx))
        mixed = [(pp, bs, 1024) for pp in [256, 512, 1024, 2048] for bs in [8, 32, 128]]
        min_s = args.min_seconds

    results = dict(meta=meta, prefill=[], decode=[], mixed=[], errors=[])

    def save():
        results["meta"]["elapsed_seconds"] = time.monotonic() - t0
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)

    def run(kind, p, b, ctx):
        try:
            r = measure(model, p, b, ctx, device, min_s, power)
            results[kind].append(r)
            print(f"{kind:8s} P={p:5d} B={b:4d} L={ctx:5d}  {r['ms_median']:9.3f} ms  {r['watts_mean'] or 0:6.1f} W", flush=True)
        except Exception as e:  # noqa: BLE001 - keep measuring the other points
            torch.cuda.empty_cache()
            results["errors"].append(dict(kind=kind, p=p, b=b, ctx=ctx, error=repr(e)[:400]))
            print(f"{kind} P={p} B={b} L={ctx} failed: {e!r}"[:300], flush=True)
        save()

    for p in prefill:
        run("prefill", p, 0, 0)
    for bs, ctx in decode:
        run("decode", 0, bs, ctx)
    for p, bs, ctx in mixed:
        run("mixed", p, bs, ctx)
    power.close()
    save()
    print(f"done in {time.monotonic() - t0:.1f} s, {len(results['errors'])} errors", flush=True)


if __name__ == "__main__":
    sys.exit(main())
