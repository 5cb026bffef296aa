#!/usr/bin/python3
"""PyTorch throughput of one task: the reference mnistlab is measured against.

Example (from the repository root):

    /usr/bin/python3 bench/pytorch_throughput.py --task train --model baseline \
        --batch-size 64 --threads 2 --steps 40 --warmup 5 --data-dir data/mnist --repeats 3

It builds the model (seed 0, PyTorch default init, float32, CPU) and sets
torch.set_num_threads(T). Tasks, on consecutive batches of real images
(scaled to [0,1]):

    train    training split, fixed seeded shuffle; gather and scale the batch,
             forward, CrossEntropyLoss, backward, Adam (lr 1e-3) step
    eval     test split in order; model.eval(), torch.no_grad(), forward, argmax
    denoise  training split, fixed seeded shuffle; add fresh uniform noise
             U[0,1) (torch.rand_like), forward, L1Loss against the clean batch,
             backward, Adam step

Modes (named in the header line on stderr):

    --autocast none   float32 throughout (the default)
    --autocast bf16   forward and loss under torch.autocast("cpu",
                      dtype=torch.bfloat16), in eval too: what PyTorch offers
                      to match mnistlab's --precision bf16. Weights, gradients
                      and Adam stay float32. Without avx512_bf16 or amx_bf16 in
                      /proc/cpuinfo the header says so: oneDNN then emulates
                      bfloat16 or falls back to slow reference code, and the
                      figure says nothing about bf16 hardware.
    --channels-last   model and input batches in torch.channels_last (NHWC),
                      the layout oneDNN's convolutions prefer; combines with
                      either --autocast.

W warmup steps run once, then R timed windows of S steps each
(time.perf_counter); each window gives batch*S/seconds images/s.

stdout (bench/run.sh parses it):

    images_per_s <median over the R windows>
    repeats <v1> <v2> ...
    peak_rss_mib <the process's peak resident memory, MiB>

A description of the run goes to stderr. build/bench/mnistlab_bench_throughput
takes the same flags and prints the same lines.
"""

import argparse
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

SEED = 0
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
from networks import EXPECTED_PARAMS, MODELS  # noqa: E402  (the shared PyTorch definitions)
from idx_data import load_split  # noqa: E402


def cpu_bf16_flags():
    """The bf16 instruction sets /proc/cpuinfo lists: oneDNN, behind PyTorch's
    bf16 convolutions and Linear layers, runs native bf16 kernels only on
    these, and torch 1.13 has no public call that says so."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [flag for flag in ("avx512_bf16", "amx_bf16") if flag in have]
    except OSError:
        pass
    return []


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch CPU throughput of one task")
    ap.add_argument("--task", choices=("train", "eval", "denoise"), default="train")
    ap.add_argument("--model", choices=sorted(MODELS), default="baseline")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=40, help="timed steps per repeat")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before the first repeat")
    ap.add_argument("--data-dir", default="data/mnist")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--autocast", choices=("none", "bf16"), default="none",
                    help="bf16: forward and loss under torch.autocast(\"cpu\", dtype=torch.bfloat16)")
    ap.add_argument("--channels-last", action="store_true", help="model and batches in torch.channels_last")
    args = ap.parse_args(argv)
    for flag in ("batch_size", "threads", "steps", "repeats"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        ap.error("--warmup must be at least 0")

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)

    training = args.task != "eval"
    images_u8, labels_np = load_split(args.data_dir, training)
    n = images_u8.shape[0]
    if args.batch_size > n:
        sys.exit(f"pytorch_throughput: batch size {args.batch_size} exceeds {n} images")
    images = torch.from_numpy(images_u8.copy()).unsqueeze(1)  # uint8 [N,1,28,28]
    labels = torch.from_numpy(labels_np.astype(np.int64))
    order = torch.from_numpy(np.random.RandomState(SEED).permutation(n)) if training else torch.arange(n)

    model = MODELS[args.model]().float().train(training)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == EXPECTED_PARAMS[args.model], \
        f"{args.model} has {n_params} parameters, expected {EXPECTED_PARAMS[args.model]}"
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.L1Loss() if args.task == "denoise" else nn.CrossEntropyLoss()

    autocast = args.autocast == "bf16"
    mode = "autocast bf16" if autocast else "float32"
    if autocast:
        flags = cpu_bf16_flags()
        mode += f" ({', '.join(flags)})" if flags else \
            " (NO avx512_bf16 or amx_bf16 on this CPU: emulated or reference bf16, not a hardware figure)"
    if args.channels_last:
        mode += ", channels_last"

    print(f"pytorch_throughput: torch {torch.__version__}, {mode}, task {args.task}, model {args.model} "
          f"({n_params} parameters), batch {args.batch_size}, threads {torch.get_num_threads()}, "
          f"warmup {args.warmup}, steps {args.steps} x {args.repeats} repeats, {n} images from {args.data_dir}",
          file=sys.stderr)

    pos = 0
    bs = args.batch_size

    def next_batch():
        nonlocal pos
        if pos + bs > n:  # drop the incomplete last batch, start again
            pos = 0
        idx = order[pos:pos + bs]
        pos += bs
        x = images.index_select(0, idx).float().div_(255.0).contiguous(memory_format=memory_format)
        return x, labels.index_select(0, idx)

    def train_step():
        x, y = next_batch()
        if args.task == "denoise":  # the clean batch is the target of its noisy copy
            x, y = x + torch.rand_like(x), x
        optimizer.zero_grad(set_to_none=True)
        # Backward stays outside autocast, as PyTorch's documentation asks:
        # autograd replays each op in the precision its forward ran in.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()

    def eval_step():
        x, _ = next_batch()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            model(x).argmax(1)

    step = eval_step if args.task == "eval" else train_step
    for _ in range(args.warmup):
        step()

    rates = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()  # CPU ops are synchronous: the step is done when it returns
        rates.append(bs * args.steps / (time.perf_counter() - t0))

    print(f"images_per_s {statistics.median(rates):.1f}")
    print("repeats " + " ".join(f"{r:.1f}" for r in rates))
    print(f"peak_rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
