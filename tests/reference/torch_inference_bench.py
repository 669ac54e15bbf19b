#!/usr/bin/python3
"""tests/reference/torch_inference_bench.py: PyTorch 1.13's side of `imdb bench`, on the same weights.

Loads an imdb checkpoint (float32, as `imdb train` writes it) through safetensors_min, builds the
same network (Embedding -> LSTM -> last step -> Linear -> sigmoid) in eval mode, and times:
  single-stream  one review at a time (batch 1), fp32 and torch.ao.quantization.quantize_dynamic
                 int8 (LSTM and Linear, qint8 weights): p50/p90/p99 in ms
  offline        forward passes at --offline-batch reviews: samples/s
Inputs are max_len token ids drawn at random from the vocabulary (fixed seed): the LSTM runs all
max_len steps whatever the ids (a padded review costs the same), so the ids do not change the time.
PyTorch times the forward only; loom's bench also cleans and encodes the text in the timed path.
--eval FILE (a safetensors file of "tokens" I32 [n, max_len] and "labels" F32 [n], as `imdb study
--inference` writes it) adds each model's accuracy on those rows; every model also reports its
size: the bytes of its state_dict's tensors (fp32) or of its torch.save file (int8: the packed
weights are not plain tensors). Prints one JSON object on stdout. Not run by ctest.

  /usr/bin/python3 tests/reference/torch_inference_bench.py CKPT --threads 1 --queries 1024
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_min  # noqa: E402


def percentile(values, p):
    """Nearest rank, as apps/imdb/bench_stats.h: the ceil(p/100 * n)-th smallest."""
    v = sorted(values)
    rank = max(1, min(len(v), -(-int(round(p * len(v) * 1000)) // 100000)))
    return v[rank - 1]


def model_bytes(model, name):
    """fp32: the state_dict's tensor bytes; int8: the size of its torch.save file."""
    import io
    import torch
    if name == "fp32":
        return sum(t.numel() * t.element_size() for t in model.state_dict().values())
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--queries", type=int, default=1024, help="single-stream: at least")
    ap.add_argument("--min-seconds", type=float, default=60, help="single-stream: at least")
    ap.add_argument("--offline-threads", type=int, default=0, help="offline: threads (0: --threads)")
    ap.add_argument("--eval", help="safetensors file of tokens and labels: accuracy per model")
    ap.add_argument("--offline-batch", type=int, default=1000)
    ap.add_argument("--offline-samples", type=int, default=25000)
    ap.add_argument("--scenarios", default="single-stream,offline")
    ap.add_argument("--int8", action="store_true", help="time quantize_dynamic's model too")
    args = ap.parse_args()

    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    import torch
    torch.set_num_threads(args.threads)
    nn = torch.nn

    tensors, meta = safetensors_min.load(args.checkpoint)
    config = json.loads(meta["config"])
    vocab, embed, hidden, max_len = config["vocab"], config["embed"], config["lstm_size"], config["max_len"]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden, batch_first=True)
            self.linear = nn.Linear(hidden, 1)

        def forward(self, tokens):
            out, _ = self.lstm(self.embedding(tokens))
            return torch.sigmoid(self.linear(out[:, -1, :]))

    model = Model()
    state = {}
    for name in model.state_dict():
        dtype, shape, data = tensors[name]
        assert dtype == "F32", f"{name}: expected F32, got {dtype}"
        state[name] = torch.frombuffer(bytearray(data), dtype=torch.float32).reshape(shape)
    model.load_state_dict(state)
    model.eval()
    models = {"fp32": model}
    if args.int8:
        models["int8"] = torch.ao.quantization.quantize_dynamic(
            model, {nn.LSTM, nn.Linear}, dtype=torch.qint8)

    gen = torch.Generator().manual_seed(1)
    result = {"torch": torch.__version__, "threads": args.threads, "max_len": max_len,
              "checkpoint": args.checkpoint}
    scenarios = args.scenarios.split(",")
    rows = None
    if args.eval:
        t, _ = safetensors_min.load(args.eval)
        n = t["labels"][1][0]
        tokens = torch.frombuffer(bytearray(t["tokens"][2]), dtype=torch.int32).reshape(n, -1).long()
        labels = torch.frombuffer(bytearray(t["labels"][2]), dtype=torch.float32)
        rows = (tokens, labels)
        result["scored"] = n
    with torch.inference_mode():
        for name, m in models.items():
            result[f"{name}_model_bytes"] = model_bytes(m, name)
            if rows is not None:
                tokens, labels = rows
                probs = torch.cat([m(tokens[i:i + 500]).flatten() for i in range(0, len(labels), 500)])
                result[f"{name}_accuracy"] = ((probs >= 0.5).float() == labels).float().mean().item()
            if "single-stream" in scenarios:
                pool = torch.randint(0, vocab, (256, max_len), generator=gen)
                for i in range(32):
                    m(pool[i % 256].unsqueeze(0))
                lat = []
                start = time.perf_counter()
                i = 0
                while i < args.queries or time.perf_counter() - start < args.min_seconds:
                    x = pool[i % 256].unsqueeze(0)
                    t0 = time.perf_counter()
                    m(x)
                    lat.append(time.perf_counter() - t0)
                    i += 1
                result[f"{name}_single_stream"] = {
                    "count": len(lat), "p50_ms": percentile(lat, 50) * 1e3,
                    "p90_ms": percentile(lat, 90) * 1e3, "p99_ms": percentile(lat, 99) * 1e3,
                    "mean_ms": sum(lat) / len(lat) * 1e3}
            if "offline" in scenarios:
                torch.set_num_threads(args.offline_threads or args.threads)
                x = torch.randint(0, vocab, (args.offline_batch, max_len), generator=gen)
                m(x)
                done = 0
                start = time.perf_counter()
                while done < args.offline_samples:
                    m(x)
                    done += args.offline_batch
                seconds = time.perf_counter() - start
                result[f"{name}_offline"] = {"samples": done, "batch": args.offline_batch,
                                             "samples_per_s": done / seconds}
                torch.set_num_threads(args.threads)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
