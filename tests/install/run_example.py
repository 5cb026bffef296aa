"""Runs examples/train_mnist, built against the installed package, for one
epoch on a small synthetic dataset in MNIST's IDX format, and loads the
weights it saved back with the installed mnistlab command.

The IDX files are written here, byte by byte from the format's description
(big-endian magic 0x00000803 / 0x00000801 and sizes, then unsigned bytes),
not by the library under test.
"""
import argparse
import gzip
import random
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path


def synthetic(count, seed):
    """Class k: a bright 6x4 block at one of ten places, on faint noise."""
    rng = random.Random(seed)
    images, labels = bytearray(), bytearray()
    for i in range(count):
        k = i % 10
        top, left = (k // 5) * 12 + 4, (k % 5) * 5 + 1
        image = bytearray(rng.randrange(40) for _ in range(784))
        for r in range(top, top + 6):
            image[r * 28 + left:r * 28 + left + 4] = b"\xff" * 4
        images += image
        labels.append(k)
    return images, labels


def write_split(folder, prefix, count, seed, opener):
    images, labels = synthetic(count, seed)
    with opener(folder / f"{prefix}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, count, 28, 28) + images)
    with opener(folder / f"{prefix}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, count) + labels)


def run(command):
    print("$", " ".join(map(str, command)), flush=True)
    done = subprocess.run(list(map(str, command)), capture_output=True, text=True)
    print(done.stdout + done.stderr, flush=True)
    if done.returncode != 0:
        sys.exit(f"exit status {done.returncode}")
    return done.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--example", required=True, type=Path)
    parser.add_argument("--cli", required=True, type=Path, help="the mnistlab command, to load the weights back")
    parser.add_argument("--work", required=True, type=Path)
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    data = args.work / "data"
    data.mkdir(parents=True)
    # One split gzipped, one raw: the loader takes both.
    write_split(data, "train", 200, 1, lambda p, m: gzip.open(str(p) + ".gz", m))
    write_split(data, "t10k", 50, 2, open)
    weights = args.work / "weights.safetensors"

    out = run([args.example, data, 1, weights])
    epoch = re.search(r"^epoch 1: train_loss [\d.]+ train_acc [\d.]+ test_loss ([\d.]+) test_acc [\d.]+", out, re.M)
    if not epoch:
        sys.exit("no epoch line in the example's output")
    if not weights.is_file():
        sys.exit(f"the example wrote no {weights}")

    # A strict load_state_dict (every key and shape of the baseline network);
    # the same test loss shows the weights are the trained ones. Only up to
    # rounding: eval sums its batches of 1000, the training loop batches of 64.
    out = run([args.cli, "eval", "--model", "baseline", "--weights", weights, "--data-dir", data])
    loaded = re.search(r"^test_loss ([\d.]+) test_acc [\d.]+$", out, re.M)
    if not loaded:
        sys.exit("mnistlab eval printed no test_loss/test_acc line")
    if abs(float(loaded[1]) - float(epoch[1])) > 1e-3:
        sys.exit(f"the saved weights give test_loss {loaded[1]}, the trained ones gave {epoch[1]}")
    print("the installed example trained, and its saved weights load back with the same test loss")


if __name__ == "__main__":
    main()
