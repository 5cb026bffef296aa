#!/usr/bin/python3
"""PyTorch's side of bench/depthwise.sh: one depthwise 3x3 layer,
nn.Conv2d(C, C * M, 3, stride, padding=1, groups=C), forward and forward +
backward, on the shapes build/bench/mnistlab_bench_depthwise times.

Example (from the repository root):

    /usr/bin/python3 bench/pytorch_depthwise.py --threads 2 --variants f32,bf16

Variants (PyTorch at its best is the fastest of them, per shape and pass):

    f32        float32 NCHW tensors (PyTorch's default; oneDNN's depthwise
               kernel behind it, with its reorders)
    bf16       the same under torch.autocast("cpu", dtype=torch.bfloat16)
    f32_cl     float32 with the input and the layer in channels_last, the
               conversion done once, outside the timing

Passes: fwd (torch.no_grad(), the output only) and fwd_bwd (x requiring a
gradient, as a layer inside a network: y = conv(x); y.backward(dy), the
parameters' gradients set to None before each step as a training loop
does). Each measurement: warm-up, then repeats of at least 10 ms; the
median repeat, in microseconds per call.

stdout, one line per measurement:

    row <name> <pass> t<threads> pytorch <variant> <microseconds> us
"""

import argparse
import statistics
import sys
import time

import torch
from torch import nn


def median_us(fn, measure_s):
    fn()
    t0 = time.perf_counter()
    fn()
    est = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(0.01 / est))
    reps = min(15, max(3, int(measure_s / (inner * est))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times) * 1e6


def passes(n, c, hw, stride, multiplier, variant):
    torch.manual_seed(0)
    conv = nn.Conv2d(c, c * multiplier, 3, stride=stride, padding=1, groups=c).float()
    x = torch.rand(n, c, hw, hw) * 2 - 1
    if variant == "f32_cl":
        conv = conv.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    with torch.no_grad():
        dy = torch.rand_like(conv(x)) * 2 - 1
    autocast = variant == "bf16"

    def forward():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            conv(x)

    def forward_backward():
        conv.weight.grad = conv.bias.grad = x.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            y = conv(x)
        y.backward(dy.to(y.dtype))

    return {"fwd": forward, "fwd_bwd": forward_backward}


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch depthwise 3x3 Conv2d timings")
    ap.add_argument("--threads", default="2", help='thread counts, e.g. "1 2"')
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--variants", default="f32,bf16,f32_cl")
    ap.add_argument("--only", default="", help="only the shapes whose name contains this")
    ap.add_argument("--measure-s", type=float, default=0.35)
    args = ap.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in ("f32", "bf16", "f32_cl"):
            ap.error(f"unknown variant {v}")
    print(f"pytorch {torch.__version__}, {torch.backends.mkldnn.is_available() and 'oneDNN' or 'no oneDNN'}",
          file=sys.stderr)
    shapes = [(args.batch, c, hw, stride, 1) for c in (32, 64) for hw in (28, 14) for stride in (1, 2)]
    shapes.append((args.batch, 32, 28, 1, 2))
    for n, c, hw, stride, m in shapes:
        name = f"n{n}_c{c}_{hw}_s{stride}_m{m}"
        if args.only and args.only not in name:
            continue
        for t in (int(v) for v in args.threads.split()):
            torch.set_num_threads(t)
            for variant in variants:
                for pass_name, fn in passes(n, c, hw, stride, m, variant).items():
                    us = median_us(fn, args.measure_s)
                    print(f"row {name} {pass_name} t{t} pytorch {variant} {us:.1f} us", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
