#!/usr/bin/python3
"""tests/reference/torch_step_bench.py: time one PyTorch CPU training step of the IMDB baseline model.

The model is the one apps/imdb trains, without the dropouts (they cost little and
make the step random): Embedding(500, 100) -> LSTM(100, hidden) -> Linear(hidden, 1) ->
BCEWithLogits on the last timestep's hidden output, batch 100 x 100 tokens. One step is
forward, backward and Adam (lr 1e-3). The data are random token ids and labels from a fixed
seed. We warm up, then time N steps and print one JSON object with the median and minimum
milliseconds per step, the torch version, the BLAS library torch actually loaded (read from
/proc/self/maps, since Debian's torch links libblas.so.3 whose target is chosen by
update-alternatives), the thread counts (torch's and OpenBLAS's) and OMP_WAIT_POLICY.
--threads sets both torch.set_num_threads and OPENBLAS_NUM_THREADS (unless the latter is already
set): torch's setting does not reach OpenBLAS's own pthread pool.

Leaves out: GPU timing, data loading, dropout. loom's own benchmark (tests/bench/) runs the
same step; this script is what its ratio is measured against.

Run (Debian's python, which has torch):
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tests/reference/torch_step_bench.py --threads 2
  /usr/bin/python3 tests/reference/torch_step_bench.py --threads 1 --hidden 64
OMP_WAIT_POLICY must be set in the environment before python starts (OpenMP reads it once).
"""
import argparse
import ctypes
import json
import os
import re
import statistics
import time

# torch is imported in main(), after the thread environment is set: OpenBLAS and OpenMP read
# it once, when torch loads them.
torch = None


def loaded_blas():
    """Shared libraries in this process whose name says BLAS/LAPACK (libblas, libopenblas, mkl...)."""
    found = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split()
            if len(parts) < 6:
                continue
            path = parts[5]
            name = os.path.basename(path)
            if re.search(r"(blas|lapack|mkl|blis)", name):
                found.add(os.path.realpath(path) if os.path.exists(path) else path)
    return sorted(found)


def openblas_threads(paths):
    """Threads the loaded OpenBLAS will use (openblas_get_num_threads), or None if none is loaded."""
    for path in paths:
        if "openblas" in os.path.basename(path):
            try:
                return ctypes.CDLL(path).openblas_get_num_threads()
            except (OSError, AttributeError):
                return None
    return None


def config_blas_line():
    """The BLAS_INFO / LAPACK_INFO part of torch.__config__.show() (what torch was built against)."""
    show = torch.__config__.show()
    hits = re.findall(r"(BLAS_INFO=[^,]*|LAPACK_INFO=[^,]*)", show)
    return ", ".join(hits)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1, help="torch and OpenBLAS threads (default 1)")
    ap.add_argument("--hidden", type=int, default=100, help="LSTM hidden size (100 baseline, 64 optimized)")
    ap.add_argument("--vocab", type=int, default=500)
    ap.add_argument("--embed", type=int, default=100)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seq", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=15, help="timed steps (median is reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--autocast", choices=["off", "bf16"], default="off",
                    help='bf16: the forward under torch.autocast("cpu", dtype=torch.bfloat16)')
    args = ap.parse_args()

    # torch.set_num_threads() sets OpenMP's count but not OpenBLAS's own pthread pool, which
    # otherwise takes every core: a "1 thread" run would really use 2 for its GEMMs. Pin both.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    global torch
    import torch as torch_module
    torch = torch_module
    import torch.nn as nn

    class ImdbBaseline(nn.Module):
        """Embedding -> LSTM -> Linear on the last timestep; logits of shape [batch]."""

        def __init__(self, vocab, embed, hidden):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden, batch_first=True)
            self.linear = nn.Linear(hidden, 1)

        def forward(self, tokens):  # tokens [B, T] int64
            out, _ = self.lstm(self.embedding(tokens))  # out [B, T, H]
            return self.linear(out[:, -1, :]).squeeze(1)  # [B]

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = ImdbBaseline(args.vocab, args.embed, args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    tokens = torch.randint(0, args.vocab, (args.batch, args.seq), dtype=torch.int64)
    labels = torch.randint(0, 2, (args.batch,)).float()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.autocast == "bf16"):
            logits = model(tokens)
        loss = loss_fn(logits.float(), labels)
        loss.backward()
        opt.step()
        return loss.item()  # .item() forces completion, so the timing covers the whole step

    for _ in range(args.warmup):
        step()
    times_ms = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times_ms.append((time.perf_counter() - t0) * 1e3)

    blas = loaded_blas()
    print(json.dumps({
        "torch": torch.__version__,
        "blas_loaded": blas,
        "openblas_threads": openblas_threads(blas),
        "blas_config": config_blas_line(),
        "threads": torch.get_num_threads(),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "autocast": args.autocast,
        "hidden": args.hidden,
        "batch": args.batch,
        "seq": args.seq,
        "steps": args.steps,
        "median_ms": round(statistics.median(times_ms), 2),
        "min_ms": round(min(times_ms), 2),
    }))


if __name__ == "__main__":
    main()
