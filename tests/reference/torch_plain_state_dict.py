#!/usr/bin/python3
"""tests/reference/torch_plain_state_dict.py: a PyTorch model's plain state_dict, predicted by loom.

What a PyTorch user does: build the IMDB model in torch (Embedding -> LSTM -> last step ->
Linear), save `model.state_dict()` in safetensors layout (no loom metadata; written with
safetensors_min.py since Debian has no python3-safetensors), then ask `imdb predict` for the
probabilities with only `--vocab` and `--max-len` added. The script encodes the same reviews as
loom does (clean lowercase words here, so cleaning changes nothing: ids from the vocabulary,
out-of-vocabulary words dropped, padded and truncated at the front to max_len), runs the torch
model, and compares. Exit status 1 when a probability differs by more than 1e-5.

  /usr/bin/python3 tests/reference/torch_plain_state_dict.py IMDB_BINARY VOCAB_JSON WORKDIR
(VOCAB_JSON: a loom vocab.json, e.g. from `imdb export`.)
"""
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_min  # noqa: E402

REVIEWS = ["a wonderful and moving film with brilliant actors",
           "the worst plot and a boring waste of time",
           "this movie was a story",
           "great great great excellent loved it " * 10]


def encode(text, word_ids, max_len):
    ids = [word_ids[w] for w in text.split() if w in word_ids][-max_len:]
    return [0] * (max_len - len(ids)) + ids


def main():
    binary, vocab_path, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    with open(vocab_path) as f:
        vocab = json.load(f)
    first = 2 if vocab["oov"] == "unk" else 1
    word_ids = {w: i + first for i, w in enumerate(vocab["words"])}
    V, E, H, T = vocab["num_words"], 16, 12, 20

    torch.manual_seed(0)
    emb, lstm, lin = torch.nn.Embedding(V, E), torch.nn.LSTM(E, H, batch_first=True), torch.nn.Linear(H, 1)
    model = torch.nn.ModuleDict({"embedding": emb, "lstm": lstm, "linear": lin}).eval()
    path = os.path.join(work, "torch_model.safetensors")
    safetensors_min.save(path, {k: safetensors_min.from_torch(v) for k, v in model.state_dict().items()})

    tokens = torch.tensor([encode(r, word_ids, T) for r in REVIEWS], dtype=torch.int64)
    with torch.no_grad():
        out, _ = lstm(emb(tokens))
        expected = torch.sigmoid(lin(out[:, -1, :])).squeeze(1).tolist()

    run = subprocess.run([binary, "predict", "--checkpoint", path, "--vocab", vocab_path,
                          "--max-len", str(T), "--format", "jsonl", "--threads", "1"] + REVIEWS,
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr)
        return 1
    got = [json.loads(line)["probability"] for line in run.stdout.splitlines()]
    worst = max(abs(a - b) for a, b in zip(got, expected))
    print(json.dumps({"torch": expected, "loom": got, "max_abs_diff": worst,
                      "stderr": run.stderr.strip().splitlines()}, indent=1))
    return 0 if len(got) == len(expected) and worst <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
