#!/usr/bin/env python3
"""apps/imdb/slurm/compare_runs.py: how far apart two `imdb train` output folders ended.

    python3 apps/imdb/slurm/compare_runs.py runs/one-process runs/srun-2 [--tol 1e-5]

Prints, per epoch, both runs' metrics.jsonl numbers (loss, accuracy) and their largest
difference, then the largest |a - b| over every tensor of last.safetensors (the weights, Adam's
moments, the counters). Exits 1 when a difference is above --tol (metrics or tensors), 2 when
the folders do not match up (different epochs or tensor names).

Use it to check a data-parallel launch against one process with the same global batch
(--batch is global, so the two train the same model up to rounding) and no dropout (the ranks
draw different dropout masks: apps/imdb/distributed.h). With dropout the runs are different
samples of the same training; compare validation accuracy by eye instead.
Other files of the folders: --file best.safetensors (or epoch_NNN.safetensors).
Leaves out: bf16 tensors. Plain Python 3, no packages (a cluster's python3 will do): a
safetensors file is an 8-byte header length, a JSON header, then the raw little-endian data.
"""
import argparse
import json
import struct
import sys
from pathlib import Path

# safetensors dtype -> struct format letter (little-endian, "<").
FORMATS = {"F64": "d", "F32": "f", "F16": "e", "I64": "q", "I32": "i", "U8": "B", "BOOL": "?"}


def read_safetensors(path):
    """{name: (shape, [values as Python numbers])} from a .safetensors file."""
    data = Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    body = data[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        fmt = FORMATS[info["dtype"]]
        count = (end - start) // struct.calcsize(fmt)
        tensors[name] = (info["shape"], struct.unpack(f"<{count}{fmt}", body[start:end]))
    return tensors


def read_metrics(folder):
    with open(Path(folder) / "metrics.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--tol", type=float, default=1e-5)
    parser.add_argument("--file", default="last.safetensors")
    args = parser.parse_args()

    worst = 0.0
    ma, mb = read_metrics(args.a), read_metrics(args.b)
    if len(ma) != len(mb):
        print(f"different epoch counts: {len(ma)} vs {len(mb)}")
        return 2
    keys = ["train_loss", "train_acc", "val_loss", "val_acc"]
    for ea, eb in zip(ma, mb):
        diff = max(abs(ea[k] - eb[k]) for k in keys)
        worst = max(worst, diff)
        print(f"epoch {ea['epoch']}: " +
              "  ".join(f"{k} {ea[k]:.6f} / {eb[k]:.6f}" for k in keys) +
              f"  max diff {diff:.2e}")

    ta = read_safetensors(Path(args.a) / args.file)
    tb = read_safetensors(Path(args.b) / args.file)
    if ta.keys() != tb.keys():
        print(f"different tensors: {sorted(ta.keys() ^ tb.keys())}")
        return 2
    tensor_worst, where = 0.0, ""
    for name in sorted(ta):
        (shape_a, va), (shape_b, vb) = ta[name], tb[name]
        if shape_a != shape_b:
            print(f"{name}: shapes {shape_a} vs {shape_b}")
            return 2
        d = max((abs(float(x) - float(y)) for x, y in zip(va, vb)), default=0.0)
        if d >= tensor_worst:
            tensor_worst, where = d, name
    worst = max(worst, tensor_worst)
    print(f"{args.file}: {len(ta)} tensors, max |a - b| = {tensor_worst:.2e} ({where})")
    print(f"{'OK' if worst <= args.tol else 'DIFFERENT'}: largest difference {worst:.2e}, "
          f"tolerance {args.tol:g}")
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
