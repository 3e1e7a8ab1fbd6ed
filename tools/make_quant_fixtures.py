#!/usr/bin/python3
"""PyTorch quantize_dynamic reference for quasr's per-tensor dynamic int8 mode.

Writes tests/fixtures/quant/dynamic_<name>_*.npy (float32 arrays; int8 weights
stored as exact float values) for a few small nn.Linear layers quantized with
torch.ao.quantization.quantize_dynamic and the default qconfig on the x86
(x86) engine (oneDNN on Debian's build): weights qint8 per-tensor symmetric, activations quint8 with
reduce_range (0..127), parameters chosen at run time per call.

Files per layer: x [m, k], weight [n, k], bias [n], weight_int [n, k]
(qweight.int_repr()), weight_scale [1] (qweight.q_scale()), y [m, n] (the
quantized module's output).

Run with Debian's interpreter: /usr/bin/python3 tools/make_quant_fixtures.py
"""
import os

import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "quant")

# name, in_features, out_features, rows, input offset, input spread
LAYERS = [
    ("l64x48", 64, 48, 9, 0.3, 1.5),
    ("l33x17", 33, 17, 7, -0.2, 0.8),
    ("l5x3", 5, 3, 1, 1.0, 0.5),       # one row, all-positive input
    ("gelu128x20", 128, 20, 12, None, 2.0),  # a GELU output: skewed, >= -0.17
]


def main():
    # Debian's torch 1.13 is built without fbgemm: on x86 its engine is oneDNN
    # (ideep), which chooses the input parameters with the same
    # ChooseQuantizationParams as fbgemm.
    torch.backends.quantized.engine = "onednn"
    torch.manual_seed(1337)
    os.makedirs(OUT, exist_ok=True)
    for name, k, n, m, offset, spread in LAYERS:
        layer = nn.Linear(k, n)
        model = nn.Sequential(layer).eval()
        if offset is None:
            x = nn.functional.gelu(torch.randn(m, k) * spread)
        else:
            x = torch.randn(m, k) * spread + offset
        qmodel = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        qlinear = qmodel[0]
        qweight = qlinear.weight()
        assert qweight.qscheme() == torch.per_tensor_affine or \
            qweight.qscheme() == torch.per_tensor_symmetric, qweight.qscheme()
        assert qweight.q_zero_point() == 0
        with torch.no_grad():
            y = qmodel(x)
        arrays = {
            "x": x,
            "weight": layer.weight.detach(),
            "bias": layer.bias.detach(),
            "weight_int": qweight.int_repr().to(torch.float32),
            "weight_scale": torch.tensor([qweight.q_scale()], dtype=torch.float32),
            "y": y,
        }
        for key, value in arrays.items():
            path = os.path.join(OUT, f"dynamic_{name}_{key}.npy")
            np.save(path, value.numpy().astype(np.float32))
        print(name, "weight scale", qweight.q_scale(), "y range", float(y.min()), float(y.max()))


if __name__ == "__main__":
    main()
