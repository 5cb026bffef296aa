#!/usr/bin/python3
"""Seconds of PyTorch training until MNIST test accuracy first reaches a target.

Example (from the repository root):

    /usr/bin/python3 bench/pytorch_time_to_accuracy.py --model fast --epochs 2 \
        --batch-size 32 --lr 0.005 --lr-schedule onecycle --threads 2 --data-dir data/mnist

The recipe mnistlab's build/bench/mnistlab_bench_time_to_accuracy runs, with
the same flags: Adam, torch.optim.lr_scheduler.OneCycleLR (max_lr = --lr,
beta1 cycled, stepped after every batch) or CosineAnnealingLR, shuffled
batches with the last partial batch kept, the whole test set evaluated
(model.eval(), torch.no_grad(), batch 1000) every --eval-every steps and at
the end of each epoch with the clock stopped. Initialization and shuffle
come from PyTorch's and numpy's generators, so the two programs see the
same recipe but not the same random numbers.

stdout: one line per evaluation, then

    seconds_to_target <seconds of training> | none (final test_acc ...)
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
from networks import MODELS  # noqa: E402
from idx_data import load_split  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch seconds of training to a MNIST test accuracy")
    ap.add_argument("--model", choices=sorted(MODELS), default="fast")
    ap.add_argument("--data-dir", default="data/mnist")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--lr-schedule", choices=("none", "cosine", "onecycle"), default="onecycle")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for flag in ("batch_size", "epochs", "threads", "eval_every"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y = load_split(args.data_dir, True)
    test_x, test_y = load_split(args.data_dir, False)
    train_images = torch.from_numpy(train_x.copy()).unsqueeze(1)
    train_labels = torch.from_numpy(train_y.astype(np.int64))
    test_images = torch.from_numpy(test_x.copy()).unsqueeze(1).float().div_(255.0)
    test_labels = torch.from_numpy(test_y.astype(np.int64))
    n = train_images.shape[0]
    bs = args.batch_size
    steps_per_epoch = (n + bs - 1) // bs

    model = MODELS[args.model]().float().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    if args.lr_schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr,
                                                        total_steps=args.epochs * steps_per_epoch)
    elif args.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * steps_per_epoch)
    else:
        scheduler = None
    criterion = nn.CrossEntropyLoss()
    rng = np.random.RandomState(args.seed)

    def test_accuracy():
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, test_images.shape[0], 1000):
                correct += (model(test_images[i:i + 1000]).argmax(1) == test_labels[i:i + 1000]).sum().item()
        model.train()
        return correct / test_images.shape[0]

    trained = 0.0
    reached = None
    acc = 0.0
    step = 0
    for epoch in range(args.epochs):
        order = torch.from_numpy(rng.permutation(n))
        t0 = time.perf_counter()
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            x = train_images.index_select(0, idx).float().div_(255.0)
            y = train_labels.index_select(0, idx)
            optimizer.zero_grad(set_to_none=True)
            criterion(model(x), y).backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            if step % args.eval_every == 0 or start + bs >= n:
                trained += time.perf_counter() - t0
                acc = test_accuracy()
                print(f"step {step} epoch {step / steps_per_epoch:.2f} train_seconds {trained:.2f} "
                      f"test_acc {acc:.4f}", flush=True)
                if acc >= args.target:
                    reached = trained
                    break
                t0 = time.perf_counter()
        if reached is not None:
            break
    if reached is not None:
        print(f"seconds_to_target {reached:.2f}")
    else:
        print(f"seconds_to_target none (final test_acc {acc:.4f} after {trained:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
