#!/usr/bin/python3
"""PyTorch DistributedDataParallel throughput of one training task: the
multi-process counterpart of bench/pytorch_throughput.py.

Example (from the repository root):

    /usr/bin/python3 bench/pytorch_ddp.py --task train --model baseline \
        --batch-size 64 --ranks 2 --threads 1 --steps 40 --warmup 5 --data-dir data/mnist --repeats 3

The script starts N ranks itself (torch.multiprocessing.spawn, no torchrun),
each a process with OMP_NUM_THREADS=T and torch.set_num_threads(T) that joins
a "gloo" process group over tcp://127.0.0.1:<a free port>. Every rank builds
the same model (seed 0, PyTorch default init, float32, CPU) and wraps it in
torch.nn.parallel.DistributedDataParallel (default bucket settings), so
gradients are averaged across ranks by gloo allreduce during backward.

--batch-size is the GLOBAL batch B, which N must divide: all ranks walk the
same seeded shuffle of the training split (np.random.RandomState(0)), and on
each step rank r takes the contiguous slice [r*B/N, (r+1)*B/N) of the next B
images (scaled to [0,1]). Tasks, per rank on its B/N images:

    train    forward, CrossEntropyLoss, backward (with DDP's allreduce),
             Adam (lr 1e-3) step
    denoise  add fresh uniform noise U[0,1) (torch.rand_like; the generator
             is reseeded with 0 + rank after the model is built, so ranks
             draw different noise), forward, L1Loss against the clean batch,
             backward, Adam step

--autocast none|bf16 and --channels-last mean what they mean in
bench/pytorch_throughput.py: autocast covers forward and loss only; weights,
gradients (and so the allreduce) and Adam stay float32.

W warmup steps run once, then R timed windows of S steps each. Each window is
timed on rank 0 (time.perf_counter) between a dist.barrier() at its start and
one at its end, and gives the global rate B*S/seconds images/s.

stdout, from rank 0 only (the same lines as bench/pytorch_throughput.py):

    images_per_s <median over the R windows>
    repeats <v1> <v2> ...
    peak_rss_mib <rank 0's peak resident memory, MiB>

A description of the run goes to stderr.
"""

import argparse
import os
import resource
import socket
import statistics
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

SEED = 0
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
from networks import EXPECTED_PARAMS, MODELS  # noqa: E402  (the shared PyTorch definitions)
from idx_data import load_split  # noqa: E402
sys.path.insert(0, HERE)
from pytorch_throughput import cpu_bf16_flags  # noqa: E402  (the single-process script's check)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_rank(rank, args, port):
    """One rank: join the group, train, and (rank 0) time and report."""
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # already inherited from the parent; kept explicit
    torch.set_num_threads(args.threads)
    world = args.ranks
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        _train(rank, world, args)
    finally:
        dist.destroy_process_group()


def _train(rank, world, args):
    images_u8, labels_np = load_split(args.data_dir, True)
    n = images_u8.shape[0]
    bs = args.batch_size
    if bs > n:
        raise ValueError(f"global batch size {bs} exceeds {n} images")
    local = bs // world
    images = torch.from_numpy(images_u8.copy()).unsqueeze(1)  # uint8 [N,1,28,28]
    labels = torch.from_numpy(labels_np.astype(np.int64))
    order = torch.from_numpy(np.random.RandomState(SEED).permutation(n))

    torch.manual_seed(SEED)
    model = MODELS[args.model]().float().train(True)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == EXPECTED_PARAMS[args.model], \
        f"{args.model} has {n_params} parameters, expected {EXPECTED_PARAMS[args.model]}"
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.Adam(ddp.parameters(), lr=1e-3)
    criterion = nn.L1Loss() if args.task == "denoise" else nn.CrossEntropyLoss()
    torch.manual_seed(SEED + rank)  # the denoise noise differs between ranks

    autocast = args.autocast == "bf16"
    if rank == 0:
        mode = "autocast bf16" if autocast else "float32"
        if autocast:
            flags = cpu_bf16_flags()
            mode += f" ({', '.join(flags)})" if flags else \
                " (NO avx512_bf16 or amx_bf16 on this CPU: emulated or reference bf16, not a hardware figure)"
        if args.channels_last:
            mode += ", channels_last"
        print(f"pytorch_ddp: torch {torch.__version__}, {mode}, DistributedDataParallel over gloo, "
              f"{world} ranks x {torch.get_num_threads()} threads per rank, task {args.task}, "
              f"model {args.model} ({n_params} parameters), global batch {bs} ({local} per rank), "
              f"warmup {args.warmup}, steps {args.steps} x {args.repeats} repeats, "
              f"{n} images from {args.data_dir}", file=sys.stderr, flush=True)

    pos = 0

    def next_batch():
        nonlocal pos
        if pos + bs > n:  # drop the incomplete last global batch, start again
            pos = 0
        idx = order[pos + rank * local:pos + (rank + 1) * local]
        pos += bs
        x = images.index_select(0, idx).float().div_(255.0).contiguous(memory_format=memory_format)
        return x, labels.index_select(0, idx)

    def train_step():
        x, y = next_batch()
        if args.task == "denoise":  # the clean batch is the target of its noisy copy
            x, y = x + torch.rand_like(x), x
        optimizer.zero_grad(set_to_none=True)
        # Backward (and so DDP's allreduce) stays outside autocast.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = criterion(ddp(x), y)
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        train_step()

    rates = []
    for _ in range(args.repeats):
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            train_step()
        dist.barrier()
        rates.append(bs * args.steps / (time.perf_counter() - t0))

    if rank == 0:
        print(f"images_per_s {statistics.median(rates):.1f}")
        print("repeats " + " ".join(f"{r:.1f}" for r in rates))
        print(f"peak_rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch CPU DistributedDataParallel throughput of one training task")
    ap.add_argument("--task", choices=("train", "denoise"), default="train")
    ap.add_argument("--model", choices=sorted(MODELS), default="baseline")
    ap.add_argument("--batch-size", type=int, default=64, help="global batch, split evenly over the ranks")
    ap.add_argument("--ranks", type=int, default=2, help="processes (DDP world size)")
    ap.add_argument("--threads", type=int, default=2, help="threads per rank")
    ap.add_argument("--steps", type=int, default=40, help="timed steps per repeat")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before the first repeat")
    ap.add_argument("--data-dir", default="data/mnist")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--autocast", choices=("none", "bf16"), default="none",
                    help="bf16: forward and loss under torch.autocast(\"cpu\", dtype=torch.bfloat16)")
    ap.add_argument("--channels-last", action="store_true", help="model and batches in torch.channels_last")
    args = ap.parse_args(argv)
    for flag in ("batch_size", "ranks", "threads", "steps", "repeats"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        ap.error("--warmup must be at least 0")
    if args.batch_size % args.ranks:
        ap.error(f"--batch-size {args.batch_size} is not a multiple of --ranks {args.ranks}")
    if not dist.is_available() or not dist.is_gloo_available():
        sys.exit("pytorch_ddp: this torch has no gloo backend")

    # Inherited by the spawned ranks, so OpenMP sees it before their first torch op.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    try:
        mp.spawn(run_rank, args=(args, free_port()), nprocs=args.ranks, join=True)
    except mp.ProcessRaisedException as e:
        sys.exit(f"pytorch_ddp: a rank failed:\n{e}")
    except mp.ProcessExitedException as e:
        sys.exit(f"pytorch_ddp: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
