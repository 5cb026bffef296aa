#!/usr/bin/python3
"""Weights move both ways between mnistlab and PyTorch (Debian python3-torch).

Run by ctest as ``pytorch_state_dict_both_ways``; by hand, after a build:

    /usr/bin/python3 tests/reference/state_dict_both_ways.py --cli build/mnistlab --work /tmp/both-ways

1. mnistlab -> PyTorch: `mnistlab train` a small BatchNorm/MaxPool/Dropout
   network on a synthetic dataset this script writes; its last.safetensors
   loads into the equivalent nn.Sequential with load_state_dict(strict=True),
   and PyTorch's predicted class for every test image is the one
   `mnistlab eval --predictions` writes; the test losses agree.
2. PyTorch -> mnistlab: the same nn.Sequential, trained a few steps in
   PyTorch (so BatchNorm's running statistics and num_batches_tracked are
   not at their defaults), saved as safetensors; `mnistlab eval` on it
   predicts what PyTorch predicts, image for image.

Exits non-zero, saying what differs, when either direction fails.
"""

import argparse
import gzip
import os
import re
import struct
import subprocess
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, safetensors_bytes, write_atomic  # noqa: E402

MODEL_FILE = """input 1 28 28
conv 6 k=3 s=2 p=1
batchnorm
relu
maxpool k=2
dropout p=0.2
flatten
linear 10
"""


def network():
    """MODEL_FILE as PyTorch modules; the indices give the same state_dict keys."""
    return nn.Sequential(nn.Conv2d(1, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.2), nn.Flatten(), nn.Linear(6 * 7 * 7, 10))


def synthetic(count, seed):
    """Class k: a bright block at one of ten places, over noise."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(count, 28, 28), dtype=np.uint8)
    labels = (np.arange(count) % 10).astype(np.uint8)
    for i, k in enumerate(labels):
        top, left = (k // 5) * 12 + 4, (k % 5) * 5 + 1
        images[i, top:top + 6, left:left + 4] = 255
    return images, labels


def write_idx(folder, prefix, images, labels):
    with gzip.open(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(images), 28, 28) + images.tobytes())
    with gzip.open(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">II", 0x801, len(labels)) + labels.tobytes())


def torch_predictions(model, images, labels):
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(images.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(labels.astype(np.int64))).item()
    return logits.argmax(1).numpy(), loss


def mnistlab_eval(cli, model_path, weights, data, predictions_csv):
    out = subprocess.run([cli, "eval", "--model", model_path, "--weights", weights, "--data-dir", data,
                          "--threads", "1", "--predictions", predictions_csv],
                         check=True, capture_output=True, text=True).stdout
    loss = float(re.search(r"test_loss (\S+)", out).group(1))
    rows = np.loadtxt(predictions_csv, delimiter=",", skiprows=1, dtype=np.int64)
    return rows[:, 2], loss


def compare(direction, ours, theirs, our_loss, their_loss):
    differ = np.flatnonzero(ours != theirs)
    if len(differ) or abs(our_loss - their_loss) > 1e-4 * max(1.0, abs(their_loss)):
        sys.exit(f"{direction}: {len(differ)} of {len(ours)} predictions differ (first at {differ[:5]}), "
                 f"test loss {our_loss} vs {their_loss}")
    print(f"{direction}: all {len(ours)} predictions agree, test loss {our_loss:.6f} vs {their_loss:.6f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", required=True, help="the mnistlab command")
    parser.add_argument("--work", required=True, help="scratch folder")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = os.path.join(args.work, "data")
    os.makedirs(data, exist_ok=True)
    train_images, train_labels = synthetic(300, 1)
    test_images, test_labels = synthetic(200, 2)
    write_idx(data, "train", train_images, train_labels)
    write_idx(data, "t10k", test_images, test_labels)
    model_path = os.path.join(args.work, "net.model")
    with open(model_path, "w") as f:
        f.write(MODEL_FILE)

    # 1. mnistlab -> PyTorch
    run = os.path.join(args.work, "run")
    subprocess.run([args.cli, "train", "--model", model_path, "--data-dir", data, "--epochs", "3", "--lr", "0.01",
                    "--batch-size", "32", "--threads", "1", "--out", run, "--overwrite"],
                   check=True, capture_output=True)  # a scratch folder: the last test run's is replaced
    tensors, _ = read_safetensors(os.path.join(run, "last.safetensors"))
    model = network()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
    theirs, their_loss = torch_predictions(model, test_images, test_labels)
    ours, our_loss = mnistlab_eval(args.cli, model_path, os.path.join(run, "last.safetensors"), data,
                                   os.path.join(args.work, "mnistlab_weights.csv"))
    compare("mnistlab -> PyTorch", ours, theirs, our_loss, their_loss)

    # 2. PyTorch -> mnistlab
    torch.manual_seed(3)
    model = network()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.from_numpy(train_images.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
    y = torch.from_numpy(train_labels.astype(np.int64))
    model.train()
    for step in range(20):
        batch = slice((step * 32) % 288, (step * 32) % 288 + 32)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        optimizer.step()
    state = {k: np.array(v.detach().numpy(), order="C", copy=True) for k, v in model.state_dict().items()}
    assert state["1.num_batches_tracked"] == 20
    weights = os.path.join(args.work, "from_pytorch.safetensors")
    write_atomic(weights, safetensors_bytes(state, {"format": "pt"}))
    theirs, their_loss = torch_predictions(model, test_images, test_labels)
    ours, our_loss = mnistlab_eval(args.cli, model_path, weights, data,
                                   os.path.join(args.work, "pytorch_weights.csv"))
    compare("PyTorch -> mnistlab", ours, theirs, our_loss, their_loss)


if __name__ == "__main__":
    main()
