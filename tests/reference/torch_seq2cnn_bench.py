#!/usr/bin/python3
"""tests/reference/torch_seq2cnn_bench.py: PyTorch's side of tests/bench/run_seq2cnn_bench.sh.

Loads DIR/inputs.safetensors (written by `bench_seq2cnn prepare`: the full-size Seq2CNN's weights
under PyTorch's state_dict names, and test reviews as tokens [N, 1000]), builds the same network
from torch.nn (Embedding, Conv1d kernel 3 and 4, ELU(0.25), max over time, concat, Linear(2048, 2))
and times its forward on every review, batch 1 (or in batches: --batch), under torch.no_grad and
torch.set_num_threads(--threads). Every window is computed, padding included, as the reference
model does. Writes JSON: per-call milliseconds and the logits (the runner checks them against
loom's).

  /usr/bin/python3 tests/reference/torch_seq2cnn_bench.py DIR --threads 1 --batch 1 > out.json
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_min as st  # noqa: E402


class Seq2Cnn(nn.Module):
    def __init__(self, vocab, embed, channels, alpha=0.25):
        super().__init__()
        self.alpha = alpha
        self.embedding = nn.Embedding(vocab, embed)
        self.conv3 = nn.Conv1d(embed, channels, 3)
        self.conv4 = nn.Conv1d(embed, channels, 4)
        self.linear = nn.Linear(2 * channels, 2)

    def forward(self, tokens):
        x = self.embedding(tokens).transpose(1, 2)  # [B, E, T]: Conv1d's layout
        a = F.elu(self.conv3(x), self.alpha).max(dim=2).values
        b = F.elu(self.conv4(x), self.alpha).max(dim=2).values
        return self.linear(torch.cat([a, b], 1))


def tensor(rec):
    dtype, shape, data = rec
    t = torch.frombuffer(bytearray(data), dtype={"F32": torch.float32, "I64": torch.int64}[dtype])
    return t.reshape(shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    recs, _ = st.load(os.path.join(args.dir, "inputs.safetensors"))
    tokens = tensor(recs.pop("tokens"))
    state = {k: tensor(v) for k, v in recs.items() if not k.startswith("spatial")}
    vocab, embed = state["embedding.weight"].shape
    model = Seq2Cnn(vocab, embed, state["conv3.weight"].shape[0])
    model.load_state_dict(state)
    model.eval()
    ms, logits = [], []
    with torch.no_grad():
        model(tokens[:1])  # warm-up
        for first in range(0, tokens.shape[0], args.batch):
            rows = tokens[first:first + args.batch]
            t0 = time.perf_counter()
            z = model(rows)
            ms.append((time.perf_counter() - t0) * 1000)
            logits += z.flatten().tolist()
    json.dump({"torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available(),
               "threads": torch.get_num_threads(), "batch": args.batch, "reviews": tokens.shape[0],
               "ms": ms, "logits": logits}, sys.stdout)


if __name__ == "__main__":
    main()
