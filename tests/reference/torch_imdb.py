#!/usr/bin/python3
"""tests/reference/torch_imdb.py: the IMDB baseline model in PyTorch, on loom's exported data.

loom's `imdb export` writes the encoded reviews, labels and split it trains on:

  build/apps/imdb/imdb export --out runs/export            # encoded.safetensors + vocab.json
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tests/reference/torch_imdb.py runs/export \
      --epochs 8 --threads 2 --json runs/export/torch.json

This script trains the same model on exactly those numbers and reports, per epoch, the wall time
and the train/validation loss and accuracy, as JSON (one object; also printed line by line):

  Embedding(vocab, embed) -> SpatialDropout1D(p) -> [input dropout p, Keras LSTM semantics]
  -> LSTM(embed, hidden, batch_first) -> output at the last timestep -> Linear(hidden, 1)
  -> BCEWithLogits; Adam(lr 1e-3); batch 100, reshuffled every epoch.

Keras' SpatialDropout1D drops whole embedding channels of a review (one mask per (review,
channel), shared by all timesteps); Keras' LSTM(dropout=p) drops LSTM *inputs* with one mask per
(review, feature), also shared by all timesteps. Both are the same operation, written here as
`spatial_dropout`. (PyTorch's LSTM(dropout=...) is something else: dropout between stacked
layers, a no-op with one layer.) Parameters use PyTorch's default initialisation, or Keras' with
--init keras; the shuffle uses torch's generator, so the batch order differs from loom's: compare
accuracies, not losses step by step. Early stopping is not applied (the per-epoch numbers let the reader apply it).

Debian's python3-torch (1.13, OpenBLAS) is needed: call /usr/bin/python3. --threads sets torch's
threads and OPENBLAS_NUM_THREADS (see torch_step_bench.py for why both).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_min  # noqa: E402

torch = None  # imported in main() after the thread environment is set


def spatial_dropout(x, p, training):
    """x [B, T, C]: zero whole channels per sample (mask [B, 1, C]), scale the rest by 1/(1-p)."""
    if not training or p == 0:
        return x
    mask = torch.empty(x.shape[0], 1, x.shape[2], dtype=x.dtype).bernoulli_(1 - p) / (1 - p)
    return x * mask


def keras_init_(model):
    """Keras' defaults, as nn/init.h writes them: embedding U(-0.05, 0.05); LSTM input kernel
    glorot-uniform over the whole [4H, E] matrix, recurrent kernel orthogonal per gate, biases zero
    but the forget gate's (1, in bias_ih only, so the sum is 1); Dense glorot-uniform, bias 0."""
    init = torch.nn.init
    with torch.no_grad():
        init.uniform_(model.embedding.weight, -0.05, 0.05)
        init.xavier_uniform_(model.lstm.weight_ih_l0)
        for gate in model.lstm.weight_hh_l0.chunk(4, 0):
            init.orthogonal_(gate)
        model.lstm.bias_ih_l0.zero_()
        model.lstm.bias_hh_l0.zero_()
        hidden = model.lstm.hidden_size
        model.lstm.bias_ih_l0[hidden:2 * hidden] = 1.0  # gate order i, f, g, o
        init.xavier_uniform_(model.linear.weight)
        model.linear.bias.zero_()


def build_model(vocab, embed, hidden, sd, ld):
    nn = torch.nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden, batch_first=True)
            self.linear = nn.Linear(hidden, 1)

        def forward(self, tokens):  # tokens [B, T] int64 -> logits [B, 1]
            x = self.embedding(tokens)
            x = spatial_dropout(x, sd, self.training)  # SpatialDropout1D
            x = spatial_dropout(x, ld, self.training)  # Keras LSTM(dropout=ld) on the inputs
            out, _ = self.lstm(x)
            return self.linear(out[:, -1, :])

    return Model()


def load_tensor(tensors, name, dtype):
    d, shape, data = tensors[name]
    t = torch.frombuffer(bytearray(data), dtype=dtype)
    return t.reshape(shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("export_dir", help="folder written by `imdb export`")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--embed", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--spatial-dropout", type=float, default=0.2)
    ap.add_argument("--lstm-dropout", type=float, default=0.2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init", choices=["torch", "keras"], default="torch",
                    help="initial weights: PyTorch's defaults or Keras' (as `imdb train --init`)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--train-limit", type=int, default=0, help="first N training rows only")
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()

    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    global torch
    import torch as _torch
    torch = _torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    path = os.path.join(args.export_dir, "encoded.safetensors")
    tensors, meta = safetensors_min.load(path)
    config = json.loads(meta.get("config", "{}"))
    vocab = int(config.get("vocab", 500))
    xtr = load_tensor(tensors, "train.tokens", torch.int32).long()
    ytr = load_tensor(tensors, "train.labels", torch.float32)
    xva = load_tensor(tensors, "val.tokens", torch.int32).long()
    yva = load_tensor(tensors, "val.labels", torch.float32)
    if args.train_limit > 0:
        xtr, ytr = xtr[: args.train_limit], ytr[: args.train_limit]

    model = build_model(vocab, args.embed, args.hidden, args.spatial_dropout, args.lstm_dropout)
    if args.init == "keras":
        keras_init_(model)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def evaluate(x, y):
        model.eval()
        total, correct, n = 0.0, 0, 0
        with torch.no_grad():
            for i in range(0, x.shape[0], args.batch):
                logits = model(x[i:i + args.batch]).squeeze(1)
                yb = y[i:i + args.batch]
                total += loss_fn(logits, yb).item() * yb.shape[0]
                correct += ((logits >= 0).float() == yb).sum().item()
                n += yb.shape[0]
        return total / n, correct / n

    epochs = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(xtr.shape[0])
        total, correct, n = 0.0, 0, 0
        for i in range(0, xtr.shape[0], args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = xtr[idx], ytr[idx]
            opt.zero_grad()
            logits = model(xb).squeeze(1)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            total += loss.item() * yb.shape[0]
            correct += ((logits.detach() >= 0).float() == yb).sum().item()
            n += yb.shape[0]
        train_time = time.perf_counter() - t0
        val_loss, val_acc = evaluate(xva, yva)
        rec = {"epoch": epoch, "epoch_time_s": time.perf_counter() - t0, "train_time_s": train_time,
               "train_loss": total / n, "train_acc": correct / n, "val_loss": val_loss,
               "val_acc": val_acc}
        epochs.append(rec)
        print(json.dumps(rec), flush=True)

    best = min(epochs, key=lambda r: r["val_loss"])
    result = {"framework": "pytorch", "torch": torch.__version__, "threads": args.threads,
              "train_rows": int(xtr.shape[0]), "val_rows": int(xva.shape[0]), "vocab": vocab,
              "config": vars(args), "epochs": epochs, "best_epoch": best["epoch"],
              "best_val_acc": best["val_acc"], "final_val_acc": epochs[-1]["val_acc"]}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("best_epoch", "best_val_acc", "final_val_acc")}))


if __name__ == "__main__":
    main()
