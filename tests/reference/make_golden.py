#!/usr/bin/python3
"""tests/reference/make_golden.py: write the PyTorch golden fixtures that loom's nn tests compare with.

For each small configuration of Embedding -> LSTM -> Linear -> BCEWithLogits it records, in one
safetensors file under tests/reference/golden/: the inputs, the initial parameters under
PyTorch's state_dict names, the forward outputs, every parameter gradient and the parameters
after one and two Adam steps. Two more files hold the losses (incl. |logit| = 50) and the
optimizers (SGD with momentum / Nesterov / weight decay, Adam, Adam with L2, AdamW, gradient
clipping). tests/reference/README.md documents every name; the C++ tests read the files without
Python.

Leaves out: dropout (random; loom's dropout is tested on its own), packed sequences.

Regenerate (Debian's python with torch; the fixtures are committed):
  /usr/bin/python3 tests/reference/make_golden.py            # writes tests/reference/golden/*
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_min as st  # noqa: E402

GENERATOR = "tests/reference/make_golden.py"

# name: (overrides of BASE). "head" says what the Linear sees:
#   "last" = the output sequence at the last timestep (for bidirectional: the concat of both
#            directions' outputs at that position), "h_n" = the last layer's final hidden state(s)
#            (for bidirectional: concat of h_n[-2] (forward) and h_n[-1] (reverse)).
BASE = dict(vocab=7, embed=5, hidden=4, out=1, batch=3, seq=6, layers=1, bidirectional=False,
            batch_first=True, padding_idx=None, head="last", seed=1234, lr=0.01, dtype="float32")
CONFIGS = {
    "lstm_basic": {},
    "lstm_2layer": dict(layers=2),
    "lstm_bidir": dict(bidirectional=True),
    "lstm_padding": dict(padding_idx=0),
    "lstm_bidir2_hn": dict(layers=2, bidirectional=True, batch_first=False, head="h_n"),
    "lstm_basic_f64": dict(dtype="float64"),
}


class Net(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d = 2 if c["bidirectional"] else 1
        self.embedding = nn.Embedding(c["vocab"], c["embed"], padding_idx=c["padding_idx"])
        self.lstm = nn.LSTM(c["embed"], c["hidden"], num_layers=c["layers"], batch_first=c["batch_first"],
                            bidirectional=c["bidirectional"])
        self.linear = nn.Linear(d * c["hidden"], c["out"])

    def forward(self, tokens):
        emb = self.embedding(tokens)  # [B, T, E] (batch_first) or [T, B, E]
        out, (h_n, c_n) = self.lstm(emb)  # out [B, T, D*H] or [T, B, D*H]; h_n, c_n [L*D, B, H]
        if self.c["head"] == "last":
            feat = out[:, -1] if self.c["batch_first"] else out[-1]  # [B, D*H]
        else:
            feat = torch.cat([h_n[-2], h_n[-1]], dim=1) if self.c["bidirectional"] else h_n[-1]
        logits = self.linear(feat)  # [B, out]
        return emb, out, h_n, c_n, logits


def make_tokens(c, g):
    b, t, v = c["batch"], c["seq"], c["vocab"]
    if c["padding_idx"] is None:
        tokens = torch.randint(0, v, (b, t), generator=g)
    else:
        # Keras-style pre-padding: row r keeps its last `lengths[r]` tokens, the rest are padding.
        tokens = torch.randint(1, v, (b, t), generator=g)
        lengths = [t, t - 2, 2][:b] + [t] * max(0, b - 3)
        for r, n in enumerate(lengths):
            tokens[r, : t - n] = c["padding_idx"]
    return tokens if c["batch_first"] else tokens.t().contiguous()  # [B, T] or [T, B]


def lstm_fixture(name, overrides):
    c = dict(BASE, **overrides)
    dtype = getattr(torch, c["dtype"])
    torch.manual_seed(c["seed"])
    model = Net(c).to(dtype)
    g = torch.Generator().manual_seed(c["seed"] + 1)
    tokens = make_tokens(c, g)
    labels = torch.bernoulli(torch.full((c["batch"], c["out"]), 0.5), generator=g).to(dtype)
    loss_fn = nn.BCEWithLogitsLoss()

    rec = {"input.tokens": st.from_torch(tokens), "input.labels": st.from_torch(labels)}
    for pname, p in model.state_dict().items():
        rec[pname] = st.from_torch(p)

    emb, out, h_n, c_n, logits = model(tokens)
    loss = loss_fn(logits, labels)
    loss.backward()
    for oname, t in [("embedding", emb), ("lstm", out), ("h_n", h_n), ("c_n", c_n), ("logits", logits), ("loss", loss)]:
        rec["out." + oname] = st.from_torch(t)
    for pname, p in model.named_parameters():
        rec["grad." + pname] = st.from_torch(p.grad)

    # Two Adam steps on the same batch: step 1 uses the gradients above, step 2 the gradients at
    # the step-1 parameters.
    opt = torch.optim.Adam(model.parameters(), lr=c["lr"])
    opt.step()
    rec.update({"adam1." + n: st.from_torch(p) for n, p in model.named_parameters()})
    opt.zero_grad()
    loss_fn(model(tokens)[4], labels).backward()
    opt.step()
    rec.update({"adam2." + n: st.from_torch(p) for n, p in model.named_parameters()})

    meta = {"config": json.dumps(c, sort_keys=True), "torch": torch.__version__, "generator": GENERATOR,
            "head": "out[:, -1] (batch_first) / out[-1]" if c["head"] == "last" else "cat(h_n[-2], h_n[-1]) or h_n[-1]",
            "optimizer": "Adam(lr=%g), betas (0.9, 0.999), eps 1e-8" % c["lr"]}
    return rec, meta


def loss_fixture():
    rec, meta = {}, {"torch": torch.__version__, "generator": GENERATOR}

    def record(prefix, fn, inp, target):
        rec[prefix + ".input"] = st.from_torch(inp)
        rec[prefix + ".target"] = st.from_torch(target)
        for red in ("mean", "sum"):
            x = inp.clone().requires_grad_(True)
            value = fn(reduction=red)(x, target)
            value.backward()
            rec[f"{prefix}.{red}"] = st.from_torch(value)
            rec[f"{prefix}.grad_{red}"] = st.from_torch(x.grad)

    g = torch.Generator().manual_seed(7)
    logits = torch.tensor([[-50.0, -20.0, -3.0, -0.5, 0.0], [0.5, 3.0, 20.0, 50.0, 1e-3]])
    targets = torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0], [0.0, 0.3, 1.0, 0.0, 1.0]])
    record("bce_with_logits", nn.BCEWithLogitsLoss, logits, targets)
    probs = torch.sigmoid(torch.randn(2, 5, generator=g))
    record("bce", nn.BCELoss, probs, torch.bernoulli(torch.full((2, 5), 0.5), generator=g))
    # PyTorch clamps log(p) at -100, and divides by max(p(1-p), 1e-12) in backward.
    record("bce_edge", nn.BCELoss, torch.tensor([0.0, 1.0, 1e-30, 0.5]), torch.tensor([1.0, 0.0, 1.0, 0.5]))
    ce_logits = torch.randn(4, 3, generator=g)
    ce_logits[3] = torch.tensor([100.0, -100.0, 0.0])
    record("cross_entropy", nn.CrossEntropyLoss, ce_logits, torch.tensor([0, 2, 1, 1]))
    record("mse", nn.MSELoss, torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g))
    meta["losses"] = "bce_with_logits, bce, bce_edge, cross_entropy (targets int64 class ids), mse"
    return rec, meta


def optim_fixture():
    g = torch.Generator().manual_seed(11)
    init = torch.randn(2, 3, generator=g)
    grads = [torch.randn(2, 3, generator=g) for _ in range(3)]
    rec = {"param.init": st.from_torch(init)}
    rec.update({f"grad.step{k + 1}": st.from_torch(gk) for k, gk in enumerate(grads)})
    settings = {
        "sgd": (torch.optim.SGD, dict(lr=0.1)),
        "sgd_momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
        "sgd_nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
        "adam": (torch.optim.Adam, dict(lr=0.01)),
        "adam_l2": (torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
        "adamw": (torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    }
    meta = {"torch": torch.__version__, "generator": GENERATOR}
    for name, (cls, kw) in settings.items():
        p = nn.Parameter(init.clone())
        opt = cls([p], **kw)
        for k, gk in enumerate(grads):
            p.grad = gk.clone()
            opt.step()
            rec[f"{name}.step{k + 1}"] = st.from_torch(p)
        meta[name] = json.dumps(dict(kw, optimizer=cls.__name__), sort_keys=True)

    # Gradient clipping by global norm over two tensors: once clipped, once under the limit.
    a, b = torch.randn(3, generator=g), torch.randn(2, 2, generator=g)
    rec["clip.grad_a"], rec["clip.grad_b"] = st.from_torch(a), st.from_torch(b)
    for tag, max_norm in (("clipped", 1.0), ("unclipped", 100.0)):
        pa, pb = nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(2, 2))
        pa.grad, pb.grad = a.clone(), b.clone()
        total = torch.nn.utils.clip_grad_norm_([pa, pb], max_norm)
        rec[f"clip.{tag}.total_norm"] = st.from_torch(total)
        rec[f"clip.{tag}.grad_a"], rec[f"clip.{tag}.grad_b"] = st.from_torch(pa.grad), st.from_torch(pb.grad)
        meta[f"clip.{tag}"] = json.dumps({"max_norm": max_norm, "norm_type": 2.0})
    return rec, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # the same summation order on every machine we can control

    jobs = [(name, lambda name=name, o=o: lstm_fixture(name, o)) for name, o in CONFIGS.items()]
    jobs += [("losses", loss_fixture), ("optim", optim_fixture)]
    total = 0
    for name, make in jobs:
        rec, meta = make()
        path = os.path.join(args.out, name + ".safetensors")
        st.save(path, rec, meta)
        st.load(path)  # read back with the validating reader
        size = os.path.getsize(path)
        total += size
        print(f"{path}: {len(rec)} tensors, {size} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
