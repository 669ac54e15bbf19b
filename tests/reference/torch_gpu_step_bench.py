#!/usr/bin/env python3
"""tests/reference/torch_gpu_step_bench.py: one PyTorch training step of the IMDB model on a GPU.

The twin of tests/bench/bench_gpu_step.cpp (loom), same model and sizes:
  Embedding(500, 100) -> nn.LSTM(100, H, batch_first) on cuDNN -> out[:, -1] -> Linear(H, 1)
  -> BCEWithLogits (mean) -> Adam (lr 1e-3); batch 100 x 100 random tokens; no dropout;
  equal-length, unpacked sequences.
A step = zero_grad(set_to_none=True), forward, loss, backward, optimizer step. --precision amp
adds torch.autocast(float16) around forward + loss and a torch.amp.GradScaler.

True fp32: cuDNN's RNN and cuBLAS may use TF32 tensor cores for "float32" by default, which is
other arithmetic than loom's (loom never uses TF32). So when torch has
torch.backends.cudnn.rnn.fp32_precision (recent releases) it is set to "ieee" (and the matmul
ones likewise); otherwise torch.backends.cuda.matmul.allow_tf32 = False and
torch.backends.cudnn.allow_tf32 = False. The settings used are printed in the JSON.

Timing: each step between two torch.cuda.Event(enable_timing=True) on the current stream, the
host waiting for the second; median/min/p90 over --steps steps after --warmup untimed ones; then
--steps steps back to back between one pair of events (mean). Prints one JSON object.

Leaves out: data loading, dropout, packed sequences, torch.compile and CUDA graphs on the torch
side (the baseline is eager PyTorch + cuDNN, as the issue asks).

Run: python3 tests/reference/torch_gpu_step_bench.py --hidden 100 --precision fp32
"""
import argparse
import json
import statistics
import sys


def set_true_fp32(torch):
    """Forbid TF32 everywhere; returns what was set, for the record."""
    done = {}
    cudnn_rnn = getattr(torch.backends.cudnn, "rnn", None)
    if cudnn_rnn is not None and hasattr(cudnn_rnn, "fp32_precision"):
        cudnn_rnn.fp32_precision = "ieee"
        done["torch.backends.cudnn.rnn.fp32_precision"] = "ieee"
        for name, obj in (("torch.backends.cudnn.fp32_precision", torch.backends.cudnn),
                          ("torch.backends.cuda.matmul.fp32_precision", torch.backends.cuda.matmul)):
            if hasattr(obj, "fp32_precision"):
                obj.fp32_precision = "ieee"
                done[name] = "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        done["torch.backends.cuda.matmul.allow_tf32"] = False
        done["torch.backends.cudnn.allow_tf32"] = False
    return done


def percentile(values, q):
    v = sorted(values)
    pos = q * (len(v) - 1)
    i = int(pos)
    frac = pos - i
    return v[i] * (1 - frac) + v[i + 1] * frac if i + 1 < len(v) else v[i]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=100, help="LSTM hidden size (100 baseline, 64 optimized)")
    ap.add_argument("--precision", choices=["fp32", "amp"], default="fp32")
    ap.add_argument("--vocab", type=int, default=500)
    ap.add_argument("--embed", type=int, default=100)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seq", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    out = {"framework": "torch", "lstm": "cudnn", "hidden": args.hidden, "precision": args.precision,
           "batch": args.batch, "seq": args.seq, "warmup": args.warmup, "steps": args.steps}
    try:
        import torch
    except ImportError as e:
        out.update(status="skipped", reason=f"no torch in {sys.executable}: {e}")
        print(json.dumps(out))
        return 0
    out["torch"] = torch.__version__
    if not torch.cuda.is_available():
        out.update(status="skipped", reason=f"torch {torch.__version__} sees no CUDA device "
                                            f"(built with CUDA {torch.version.cuda})")
        print(json.dumps(out))
        return 0
    import torch.nn as nn

    out["device"] = torch.cuda.get_device_name(0)
    out["cuda"] = torch.version.cuda
    out["cudnn"] = torch.backends.cudnn.version()
    out["fp32_settings"] = set_true_fp32(torch)
    torch.backends.cudnn.benchmark = False  # the default: no per-shape autotuning run

    class ImdbBaseline(nn.Module):
        def __init__(self, vocab, embed, hidden):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden, batch_first=True)
            self.linear = nn.Linear(hidden, 1)

        def forward(self, tokens):  # tokens [B, T] int64
            out, _ = self.lstm(self.embedding(tokens))  # [B, T, H]
            return self.linear(out[:, -1, :])  # [B, 1]

    dev = torch.device("cuda:0")
    torch.manual_seed(args.seed)
    model = ImdbBaseline(args.vocab, args.embed, args.hidden).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out["adam_impl"] = "default (foreach on CUDA)"
    loss_fn = nn.BCEWithLogitsLoss()
    tokens = torch.randint(0, args.vocab, (args.batch, args.seq), dtype=torch.int64, device=dev)
    labels = torch.randint(0, 2, (args.batch, 1), device=dev).float()
    amp = args.precision == "amp"
    scaler = None
    if amp:  # torch.amp.GradScaler("cuda") in recent releases, torch.cuda.amp before
        scaler = (torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler")
                  else torch.cuda.amp.GradScaler())
    state = {}

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            loss = loss_fn(model(tokens), labels)
        if amp:
            scaler.scale(loss).backward()
            scaler.step(opt)  # reads found_inf on the host (a sync), as GradScaler does
            scaler.update()
        else:
            loss.backward()
            opt.step()
        state["loss"] = loss

    try:
        losses = []
        for _ in range(max(args.warmup, 1)):
            step()
            losses.append(state["loss"].item())
        stream = torch.cuda.current_stream()
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for _ in range(args.steps):
            start.record(stream)
            step()
            stop.record(stream)
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        start.record(stream)
        for _ in range(args.steps):
            step()
        stop.record(stream)
        stop.synchronize()
        back_to_back = start.elapsed_time(stop) / args.steps
        losses.append(state["loss"].item())
    except Exception as e:  # noqa: BLE001 - report any failure as a result, the script goes on
        out.update(status="error", reason=f"{type(e).__name__}: {e}")
        print(json.dumps(out))
        return 1
    out.update(status="ok", median_ms=statistics.median(times), min_ms=min(times),
               p90_ms=percentile(times, 0.9), back_to_back_mean_ms=back_to_back,
               loss_first=losses[0], loss_last=losses[-1])
    if amp:
        out["loss_scale"] = scaler.get_scale()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
