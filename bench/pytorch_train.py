#!/usr/bin/python3
"""PyTorch training throughput on MNIST: the reference mnistlab is measured against.

Example (from the repository root):

    /usr/bin/python3 bench/pytorch_train.py --model baseline --batch-size 64 \
        --threads 2 --steps 40 --warmup 5 --data-dir data/mnist --repeats 3

It builds the model (seed 0, PyTorch default init, float32, CPU), sets
torch.set_num_threads(T), and trains with Adam (lr 1e-3) and CrossEntropyLoss
on consecutive batches of real MNIST training images taken from a fixed seeded
shuffle (images scaled to [0,1]). A training step is: gather and scale the
batch, forward, loss, backward, optimizer step. W warmup steps run once, then
R timed windows of S steps each (time.perf_counter); each window gives
batch*S/seconds images/s.

stdout (exactly two lines, which bench/run.sh parses):

    images_per_s <median over the R windows>
    repeats <v1> <v2> ...

A description of the run goes to stderr. mnistlab's build/bench/mnistlab_bench_train
takes the same flags and prints the same images_per_s line.
"""

import argparse
import gzip
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

SEED = 0

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from networks import EXPECTED_PARAMS, MODELS  # noqa: E402  (the shared PyTorch definitions)


def open_idx(data_dir, name):
    for path, opener in ((os.path.join(data_dir, name), open),
                         (os.path.join(data_dir, name + ".gz"), gzip.open)):
        if os.path.exists(path):
            with opener(path, "rb") as f:
                return path, f.read()
    sys.exit(f"pytorch_train: {os.path.join(data_dir, name)}[.gz] not found "
             f"(the setup script installs MNIST into data/mnist)")


def read_idx(data_dir, name, magic, ndim):
    path, blob = open_idx(data_dir, name)
    if len(blob) < 4 + 4 * ndim:
        sys.exit(f"pytorch_train: {path}: file too short for an IDX header")
    (got,) = struct.unpack_from(">I", blob, 0)
    if got != magic:
        sys.exit(f"pytorch_train: {path}: magic number 0x{got:08x}, expected 0x{magic:08x}")
    dims = struct.unpack_from(">" + "I" * ndim, blob, 4)
    count = int(np.prod(dims))
    start = 4 + 4 * ndim
    if len(blob) - start != count:
        sys.exit(f"pytorch_train: {path}: {len(blob) - start} data bytes, header says {count}")
    return np.frombuffer(blob, dtype=np.uint8, offset=start).reshape(dims)


def load_mnist_train(data_dir):
    images = read_idx(data_dir, "train-images-idx3-ubyte", 0x00000803, 3)
    labels = read_idx(data_dir, "train-labels-idx1-ubyte", 0x00000801, 1)
    if images.shape[0] != labels.shape[0]:
        sys.exit(f"pytorch_train: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch CPU training throughput on MNIST")
    ap.add_argument("--model", choices=sorted(MODELS), default="baseline")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=40, help="timed steps per repeat")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before the first repeat")
    ap.add_argument("--data-dir", default="data/mnist")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    for flag in ("batch_size", "threads", "steps", "repeats"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        ap.error("--warmup must be at least 0")

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)

    images_u8, labels_np = load_mnist_train(args.data_dir)
    n = images_u8.shape[0]
    if args.batch_size > n:
        sys.exit(f"pytorch_train: batch size {args.batch_size} exceeds {n} training images")
    images = torch.from_numpy(images_u8.copy()).unsqueeze(1)  # uint8 [N,1,28,28]
    labels = torch.from_numpy(labels_np.astype(np.int64))
    order = torch.from_numpy(np.random.RandomState(SEED).permutation(n))

    model = MODELS[args.model]().float().train()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == EXPECTED_PARAMS[args.model], \
        f"{args.model} has {n_params} parameters, expected {EXPECTED_PARAMS[args.model]}"
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()

    print(f"pytorch_train: torch {torch.__version__}, model {args.model} ({n_params} parameters), "
          f"batch {args.batch_size}, threads {torch.get_num_threads()}, warmup {args.warmup}, "
          f"steps {args.steps} x {args.repeats} repeats, {n} images from {args.data_dir}",
          file=sys.stderr)

    pos = 0
    bs = args.batch_size

    def step():
        nonlocal pos
        if pos + bs > n:  # drop the incomplete last batch, start the shuffle again
            pos = 0
        idx = order[pos:pos + bs]
        pos += bs
        x = images.index_select(0, idx).float().div_(255.0)
        y = labels.index_select(0, idx)
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(args.warmup):
        step()

    rates = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            loss = step()
        loss.item()  # CPU ops are synchronous; this only reads the value
        seconds = time.perf_counter() - t0
        rates.append(bs * args.steps / seconds)

    print(f"pytorch_train: last loss {loss.item():.4f}", file=sys.stderr)
    print(f"images_per_s {statistics.median(rates):.1f}")
    print("repeats " + " ".join(f"{r:.1f}" for r in rates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
