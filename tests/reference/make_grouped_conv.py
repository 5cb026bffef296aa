#!/usr/bin/python3
"""Grouped and depthwise convolutions with PyTorch (nn.Conv2d(groups=G)):
the reference for mnistlab's grouped and depthwise kernels behind
Backend::conv2d (tests/test_grouped_conv.cpp).

Run by ctest as the fixture test ``make_grouped_conv``; by hand:

    /usr/bin/python3 tests/reference/make_grouped_conv.py --out build/reference

writes ``<out>/grouped_conv.safetensors`` holding, for each case C of
CASES below (its metadata names them, with their shapes):

    C.x       F32 [n, cin, h, w]        the input
    C.weight  F32 [cout, cin/G, k, k]   PyTorch's layout
    C.bias    F32 [cout]
    C.dy      F32 [n, cout, ho, wo]     the output's gradient
    C.y       F32 [n, cout, ho, wo]     conv(x) in float32, PyTorch's own kernel
    C.dx, C.dweight, C.dbias            (y * dy).sum()'s gradients, float32
    C.scale, C.shift  F32 [cout]        an eval-mode BatchNorm2d as an affine
    C.y_bn_relu  F32 [n, cout, ho, wo]  relu(batchnorm_eval(conv(x)))

Values come from numpy's default_rng(28), so the file is the same every run.
"""

import argparse
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import safetensors_bytes, write_atomic  # noqa: E402

# name: (n, cin, h, w, cout, k, stride, pad, groups). Odd widths (none a
# multiple of 16), strides 1 and 2, padding 0 and 1, multiplier 2, batch 1 and 3.
CASES = {
    "dw3_s1_p1": (3, 5, 13, 11, 5, 3, 1, 1, 5),
    "dw3_s1_p0_n1": (1, 3, 9, 19, 3, 3, 1, 0, 3),
    "dw3_s2_p1_mult2": (3, 4, 15, 17, 8, 3, 2, 1, 4),
    "dw3_s2_p0_mult2_n1": (1, 3, 12, 21, 6, 3, 2, 0, 3),
    "dw3_s1_p1_wide": (3, 6, 7, 37, 6, 3, 1, 1, 6),
    "dw3_s2_p1_wide": (3, 2, 9, 67, 2, 3, 2, 1, 2),
    "dw3_s1_p1_mult2_2threads": (3, 24, 31, 29, 48, 3, 1, 1, 24),
    "dw3_s2_p1_mult2_2threads": (3, 64, 33, 35, 128, 3, 2, 1, 64),
    "dw5_s1_p2": (2, 4, 10, 13, 4, 5, 1, 2, 4),
    "dw5_s2_p1_mult2": (3, 3, 11, 14, 6, 5, 2, 1, 3),
    "dw2_s2_p1_mult2": (2, 3, 8, 9, 6, 2, 2, 1, 3),
    "dw1_s1_p0": (3, 4, 5, 7, 4, 1, 1, 0, 4),
    "g3_s1_p1": (3, 6, 10, 11, 9, 3, 1, 1, 3),
    "g2_s2_p0": (2, 8, 9, 13, 4, 3, 2, 0, 2),
    "g2_k1": (3, 6, 5, 7, 6, 1, 1, 0, 2),
    "g2_s1_p1_mult": (1, 4, 28, 27, 8, 3, 1, 1, 2),
}


def case_tensors(name, shape, rng):
    n, cin, h, w, cout, k, stride, pad, groups = shape
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, groups=groups).float()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, conv.weight.shape).astype(np.float32)))
        conv.bias.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, cout).astype(np.float32)))
    x = torch.from_numpy(rng.uniform(-1, 1, (n, cin, h, w)).astype(np.float32)).requires_grad_()
    y = conv(x)
    dy = torch.from_numpy(rng.uniform(-1, 1, tuple(y.shape)).astype(np.float32))
    (y * dy).sum().backward()

    bn = nn.BatchNorm2d(cout).float().eval()
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(rng.uniform(-2, 2, cout).astype(np.float32)))
        bn.bias.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, cout).astype(np.float32)))
        bn.running_mean.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, cout).astype(np.float32)))
        bn.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2, cout).astype(np.float32)))
        y_bn_relu = torch.relu(bn(conv(x)))
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale

    out = {"x": x, "weight": conv.weight, "bias": conv.bias, "dy": dy, "y": y, "dx": x.grad,
           "dweight": conv.weight.grad, "dbias": conv.bias.grad, "scale": scale, "shift": shift,
           "y_bn_relu": y_bn_relu}
    return {f"{name}.{key}": value.detach().numpy().astype(np.float32) for key, value in out.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(28)
    tensors = {}
    for name, shape in CASES.items():
        tensors.update(case_tensors(name, shape, rng))
    metadata = {"torch": torch.__version__,
                "cases": ";".join(f"{name}:" + ",".join(map(str, shape)) for name, shape in CASES.items())}
    write_atomic(os.path.join(args.out, "grouped_conv.safetensors"), safetensors_bytes(tensors, metadata))


if __name__ == "__main__":
    main()
