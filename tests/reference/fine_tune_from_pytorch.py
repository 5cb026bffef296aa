#!/usr/bin/python3
"""Fine-tuning from PyTorch-written weights (`train --init-weights`, `--freeze`),
and the errors for PyTorch-shaped mistakes, against Debian's python3-torch.

Run by ctest as ``pytorch_fine_tune``; by hand, after a build:

    /usr/bin/python3 tests/reference/fine_tune_from_pytorch.py --cli build/mnistlab --work /tmp/fine-tune

1. First step: PyTorch trains a small BatchNorm network a few steps and
   saves its state_dict as safetensors. `mnistlab train --init-weights` on it,
   one SGD step (lr 10, no momentum, so that float32's rounding of the
   weights stays far below the step) over a training set of exactly one batch,
   with --freeze 0 (the first convolution). Then, tensor by tensor:
   the frozen ones are unchanged, bit for bit; every other parameter moved by
   exactly PyTorch's gradient for the same batch with requires_grad=False on
   the frozen ones (within 1e-5 of the tensor's largest gradient); BatchNorm's
   running statistics are PyTorch's after that forward pass; run.json keeps
   the file and its SHA-256 (hashlib's).
2. Weights as PyTorch users save them: float16, bfloat16 and float64 state_dicts
   (safetensors) load, converted to float32: `mnistlab eval` predicts what
   PyTorch predicts with the same weights cast to float32.
3. Mistakes, each refused with a message that says what to do: a torch.save
   file (zip and legacy pickle), a DataParallel state_dict ("module." keys),
   a layer too many, an int32 tensor, a --freeze prefix that names nothing.

Exits non-zero, saying what differs, when anything fails.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, safetensors_bytes, write_atomic  # noqa: E402
from state_dict_both_ways import synthetic, write_idx  # noqa: E402

MODEL_FILE = """input 1 28 28
conv 4 k=3 p=1
batchnorm
relu
maxpool k=2
flatten
linear 10
"""
BATCH = 32
LR = 10
failures = []


def network():
    """MODEL_FILE as PyTorch modules; the indices give the same state_dict keys."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 14 * 14, 10))


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


def as_numpy(state):
    return {k: np.array(v.detach().numpy(), order="C", copy=True) for k, v in state.items()}


def run(cli, *args):
    return subprocess.run([cli, *args], capture_output=True, text=True)


def first_step(args, data, weights, images, labels):
    out = os.path.join(args.work, "fine-tuned")
    result = run(args.cli, "train", "--model", os.path.join(args.work, "net.model"), "--dataset", data,
                 "--init-weights", weights, "--freeze", "0", "--optimizer", "sgd", "--lr", str(LR), "--epochs", "1",
                 "--batch-size", str(BATCH), "--threads", "1", "--out", out, "--overwrite")
    if result.returncode != 0:
        sys.exit("mnistlab train --init-weights failed:\n" + result.stdout + result.stderr)
    before, _ = read_safetensors(weights)
    after, _ = read_safetensors(os.path.join(out, "last.safetensors"))

    x = torch.from_numpy(images.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))

    def gradients_in(dtype):
        model = network().to(dtype)
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in before.items()}, strict=True)
        for p in model[0].parameters():
            p.requires_grad_(False)
        model.train()
        nn.functional.cross_entropy(model(x.to(dtype)), y).backward()
        grads = {f"{i}.{name}": p.grad.double().numpy() for i, m in enumerate(model)
                 for name, p in m.named_parameters() if p.grad is not None}
        return grads, as_numpy({k: v for k, v in model.state_dict().items() if "running" in k})

    gradients, buffers = gradients_in(torch.float32)
    # PyTorch in float64 as well: a float32 gradient that cancels (a network
    # that already fits the batch) can be off by more than 1e-5 in PyTorch too.
    exact, _ = gradients_in(torch.float64)
    for key in ("0.weight", "0.bias"):
        check(np.array_equal(after[key], before[key]), f"frozen {key} unchanged, bit for bit")
    check(sorted(gradients) == ["1.bias", "1.weight", "5.bias", "5.weight"], "PyTorch's gradients: the unfrozen four")
    for key, grad in gradients.items():
        ours = (before[key].astype(np.float64) - after[key]) / LR  # SGD: w1 = w0 - lr g
        error = np.abs(ours - grad).max() / np.abs(grad).max()
        error64 = np.abs(ours - exact[key]).max() / np.abs(exact[key]).max()
        check(max(error, error64) <= 1e-5, f"first-step gradient of {key}: {error:.2e} of its largest value "
              f"from PyTorch's, {error64:.2e} from PyTorch's in float64")
    for key, value in buffers.items():
        error = np.abs(after[key] - value).max() / max(np.abs(value).max(), 1e-12)
        check(error <= 1e-5, f"BatchNorm's {key} after the step: {error:.2e} of its largest value")
    check(int(after["1.num_batches_tracked"]) == int(before["1.num_batches_tracked"]) + 1,
          "num_batches_tracked counted the step")
    with open(os.path.join(out, "run.json")) as f:
        settings = json.load(f)
    with open(weights, "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    check(settings.get("init_weights") == weights and settings.get("init_weights_sha256") == sha256,
          "run.json keeps --init-weights and its SHA-256")
    check(settings.get("freeze") == "0", "run.json keeps --freeze")


def predictions(model, images):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(images.astype(np.float32) / np.float32(255.0)).unsqueeze(1)).argmax(1).numpy()


def other_dtypes(args, data, state, test_images):
    for name, cast in (("F16", torch.float16), ("BF16", torch.bfloat16), ("F64", torch.float64)):
        cast_state = {k: (v.to(cast) if v.is_floating_point() else v) for k, v in state.items()}
        raw = {}
        arrays = {}
        for k, v in cast_state.items():
            if v.dtype == torch.bfloat16:
                arrays[k] = v.view(torch.int16).numpy().view(np.uint16).copy()
                raw[k] = "BF16"
            else:
                arrays[k] = as_numpy({k: v})[k]
        path = os.path.join(args.work, f"weights_{name}.safetensors")
        write_atomic(path, safetensors_bytes(arrays, {"format": "pt"}, raw))
        model = network()
        model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in cast_state.items()})
        theirs = predictions(model, test_images)
        csv = os.path.join(args.work, f"predictions_{name}.csv")
        result = run(args.cli, "eval", "--model", os.path.join(args.work, "net.model"), "--weights", path,
                     "--dataset", data, "--threads", "1", "--predictions", csv)
        if result.returncode != 0:
            check(False, f"{name} weights load: {result.stderr.strip()}")
            continue
        ours = np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.int64)[:, 2]
        check(np.array_equal(ours, theirs), f"{name} weights: every prediction is PyTorch's ({len(ours)} images)")


def refused(args, data, path, wanted, what, extra=()):
    result = run(args.cli, "train", "--model", os.path.join(args.work, "net.model"), "--dataset", data,
                 "--init-weights", path, "--epochs", "1", "--threads", "1",
                 "--out", os.path.join(args.work, "refused"), "--overwrite", *extra)
    missing = [w for w in wanted if w not in result.stderr]
    check(result.returncode != 0 and not missing,
          f"{what}: refused, saying {wanted}" + (f"; got: {result.stderr.strip()}" if missing else ""))


def mistakes(args, data, state):
    zip_file = os.path.join(args.work, "model.pt")
    torch.save(state, zip_file)
    refused(args, data, zip_file, ["a PyTorch pickle (torch.save's zip format)", "save_file(model.state_dict()"],
            "torch.save's zip file")
    legacy = os.path.join(args.work, "legacy.pt")
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    refused(args, data, legacy, ["a PyTorch pickle (torch.save's legacy format)"], "torch.save's legacy pickle")

    wrapped = nn.DataParallel(network())
    wrapped.module.load_state_dict(state)
    path = os.path.join(args.work, "data_parallel.safetensors")
    write_atomic(path, safetensors_bytes(as_numpy(wrapped.state_dict()), {"format": "pt"}))
    keys = sorted(state)
    refused(args, data, path,
            ["Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in network().state_dict()),
             "Unexpected key(s) in state_dict: " + ", ".join(f'"module.{k}"' for k in sorted(keys)),
             "model.module.state_dict()", 'k.removeprefix("module.")'],
            "a DataParallel state_dict")

    bigger = nn.Sequential(*network(), nn.ReLU(), nn.Linear(10, 10))
    path = os.path.join(args.work, "bigger.safetensors")
    write_atomic(path, safetensors_bytes(as_numpy(bigger.state_dict()), {"format": "pt"}))
    refused(args, data, path, ['Unexpected key(s) in state_dict: "7.bias", "7.weight".'], "a layer too many")

    ints = as_numpy(state)
    ints["5.bias"] = ints["5.bias"].astype(np.int32)
    path = os.path.join(args.work, "int32.safetensors")
    write_atomic(path, safetensors_bytes(ints, {"format": "pt"}, {"5.bias": "I32"}))
    refused(args, data, path, ["'5.bias' has dtype I32", "F32, F16, BF16 and F64"], "an int32 tensor")

    path = os.path.join(args.work, "fine.safetensors")
    write_atomic(path, safetensors_bytes(as_numpy(state), {"format": "pt"}))
    refused(args, data, path, ["--freeze 9: no parameter's state_dict key is 9 or starts with 9.",
                               "0.weight, 0.bias, 1.weight, 1.bias, 5.weight, 5.bias"],
            "--freeze naming no parameter", ("--freeze", "9"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", required=True, help="the mnistlab command")
    parser.add_argument("--work", required=True, help="scratch folder")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = os.path.join(args.work, "data")
    os.makedirs(data, exist_ok=True)
    images, labels = synthetic(BATCH, 1)  # one batch: the first step sees all of it, in any order
    test_images, test_labels = synthetic(200, 2)
    write_idx(data, "train", images, labels)
    write_idx(data, "t10k", test_images, test_labels)
    with open(os.path.join(args.work, "net.model"), "w") as f:
        f.write(MODEL_FILE)

    # PyTorch's weights after a few steps: running statistics away from their
    # defaults, the loss still far from 0 (gradients that do not cancel).
    torch.manual_seed(3)
    model = network()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.from_numpy(test_images.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
    y = torch.from_numpy(test_labels.astype(np.int64))
    for step in range(5):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[step * 32:step * 32 + 32]), y[step * 32:step * 32 + 32]).backward()
        optimizer.step()
    state = model.state_dict()
    weights = os.path.join(args.work, "from_pytorch.safetensors")
    write_atomic(weights, safetensors_bytes(as_numpy(state), {"format": "pt"}))

    first_step(args, data, weights, images, labels)
    other_dtypes(args, data, state, test_images)
    mistakes(args, data, state)
    if failures:
        sys.exit(f"{len(failures)} check(s) failed")


if __name__ == "__main__":
    main()
