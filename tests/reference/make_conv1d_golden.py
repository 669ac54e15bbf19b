#!/usr/bin/python3
"""tests/reference/make_conv1d_golden.py: write the torch.nn.Conv1d golden fixture for loom's Conv1d.

One safetensors file, tests/reference/golden/conv1d.safetensors. For each configuration <c> it
holds, in loom's channels-last layout [batch, time, channels] (PyTorch's Conv1d reads
[batch, channels, time]: the script transposes in and out):
  <c>.x [B, T, C], <c>.weight [O, C, K], <c>.bias [O]   the inputs and parameters
  <c>.y [B, T_out, O]                                   conv1d(x)
  <c>.dy [B, T_out, O]                                  a random upstream gradient
  <c>.dx, <c>.dweight, <c>.dbias                        the gradients of sum(y * dy)
  <c>.elu [B, T_out, O]                                 torch.nn.functional.elu(y, alpha=0.25)
  <c>.pooled [B, O]                                     elu(y).max over time (Seq2CNN's pooling)
Metadata "<c>" holds the configuration as JSON. All float64.

Regenerate (Debian's python3 with torch 1.13; the file is committed, the tests need no Python):
  /usr/bin/python3 tests/reference/make_conv1d_golden.py
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_min as st  # noqa: E402

# name: (batch, time, in_channels, out_channels, kernel_size, padding)
CONFIGS = {
    "k3": (2, 7, 3, 4, 3, 0),
    "k4_pad2": (2, 5, 3, 2, 4, 2),
    "k1": (1, 4, 5, 3, 1, 0),
}


def fixture(name, cfg, g, rec, meta):
    B, T, C, O, K, P = cfg
    conv = torch.nn.Conv1d(C, O, K, padding=P).double()
    with torch.no_grad():  # draw from our generator, not PyTorch's global one
        conv.weight.copy_(torch.randn(O, C, K, generator=g, dtype=torch.float64) * 0.5)
        conv.bias.copy_(torch.randn(O, generator=g, dtype=torch.float64) * 0.5)
    x = torch.randn(B, T, C, generator=g, dtype=torch.float64, requires_grad=True)
    y = conv(x.transpose(1, 2)).transpose(1, 2)  # [B, T_out, O]
    dy = torch.randn(y.shape, generator=g, dtype=torch.float64)
    (y * dy).sum().backward()
    elu = F.elu(y.detach(), alpha=0.25)
    for key, t in (("x", x), ("weight", conv.weight), ("bias", conv.bias), ("y", y), ("dy", dy),
                   ("dx", x.grad), ("dweight", conv.weight.grad), ("dbias", conv.bias.grad),
                   ("elu", elu), ("pooled", elu.max(dim=1).values)):
        rec[f"{name}.{key}"] = st.from_torch(t)
    meta[name] = json.dumps(dict(batch=B, time=T, in_channels=C, out_channels=O, kernel_size=K,
                                 padding=P, elu_alpha=0.25))


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(2024)
    rec, meta = {}, {"generator": "tests/reference/make_conv1d_golden.py", "torch": torch.__version__}
    for name, cfg in CONFIGS.items():
        fixture(name, cfg, g, rec, meta)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "conv1d.safetensors")
    st.save(path, rec, meta)
    st.load(path)  # read back with the validating reader
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(rec)} tensors)")


if __name__ == "__main__":
    main()
