#!/usr/bin/python3
"""Make the PyTorch reference file that mnistlab's tests compare against.

Run by ctest as the fixture test ``make_reference`` (see
tests/CMakeLists.txt), which writes ``<build>/reference/baseline.safetensors``
before the GoogleTest cases run. By hand, from the repository root:

    /usr/bin/python3 tests/reference/make_reference.py --out build/reference
    /usr/bin/python3 tests/reference/make_reference.py --out /tmp/ref --check

What it does: builds the course's "baseline" network (6,444,170 parameters)
with torch.manual_seed(0) and PyTorch's default initialisation, in float32 on
one thread; feeds a batch of 8 images drawn with torch.rand right after the
weights (same generator, seeded 0) and labels arange(8) % 10; computes logits,
mean cross-entropy loss and the backward pass; and writes one safetensors file
(written by hand: no safetensors package) holding

    <state_dict key>        every parameter (0.weight, 0.bias, ..., 8.bias)
    grad.<state_dict key>   its gradient
    input   F32 [8,1,28,28]
    target  I64 [8]
    logits  F32 [8,10]
    loss    F32 [1]

The file is written to a temporary name and renamed, then read back by an
independent reader and compared with the tensors in memory.
"""

import argparse
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from networks import DaeUnet, baseline  # noqa: E402  (shared with bench/)
from safetensors_io import read_safetensors, safetensors_bytes, write_atomic  # noqa: E402

SEED = 0
BATCH = 8
NUM_CLASSES = 10
EXPECTED_PARAMS = 6_444_170


def make_tensors():
    """Return {name: numpy array} for everything the file holds."""
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    model = baseline().float()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == EXPECTED_PARAMS, f"baseline has {n_params} parameters, expected {EXPECTED_PARAMS}"

    # Draw the input after the weights, from the same seeded generator.
    x = torch.rand(BATCH, 1, 28, 28, dtype=torch.float32)
    y = torch.arange(BATCH, dtype=torch.int64) % NUM_CLASSES

    model.zero_grad()
    logits = model(x)
    loss = nn.CrossEntropyLoss()(logits, y)
    loss.backward()

    out = {}
    for key, value in model.state_dict().items():
        out[key] = value
    for key, param in model.named_parameters():
        assert param.grad is not None, key
        out["grad." + key] = param.grad
    out["input"] = x
    out["target"] = y
    out["logits"] = logits.detach()
    out["loss"] = loss.detach().reshape(1)
    # np.array keeps 0-dim tensors 0-dim (num_batches_tracked); ascontiguousarray would make them [1].
    return {k: np.array(v.detach().cpu().numpy(), order="C", copy=True) for k, v in out.items()}, n_params


def bn_small():
    """A small network with BatchNorm2d and MaxPool2d in training mode; the
    same as the model file in tests/test_pytorch_parity.cpp."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, NUM_CLASSES),
    )


def make_bn_tensors():
    """bn_small in training mode: init.<key> holds the state_dict before the
    forward pass, <key> after it (running statistics updated once)."""
    torch.set_num_threads(1)
    torch.manual_seed(SEED + 1)
    model = bn_small().float().train()
    # Non-trivial affine parameters and running statistics, so that they matter.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    out = {"init." + k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(BATCH, 1, 28, 28, dtype=torch.float32)
    y = torch.arange(BATCH, dtype=torch.int64) % NUM_CLASSES
    logits = model(x)
    loss = nn.CrossEntropyLoss()(logits, y)
    loss.backward()
    out.update(model.state_dict())
    for key, param in model.named_parameters():
        out["grad." + key] = param.grad
    out["input"] = x
    out["target"] = y
    out["logits"] = logits.detach()
    out["loss"] = loss.detach().reshape(1)
    # np.array keeps 0-dim tensors 0-dim (num_batches_tracked); ascontiguousarray would make them [1].
    return {k: np.array(v.detach().cpu().numpy(), order="C", copy=True) for k, v in out.items()}


def check(path, tensors):
    back, meta = read_safetensors(path)
    assert set(back) == set(tensors), set(back) ^ set(tensors)
    for name, arr in tensors.items():
        assert back[name].dtype == arr.dtype.newbyteorder("<"), name
        assert back[name].shape == arr.shape, name
        assert np.array_equal(back[name], arr), name
    assert "about" in meta
    # Cross-check with torch: reload parameters into a fresh model and rerun.
    model = baseline()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in back.items()
                           if not k.startswith("grad.") and k not in ("input", "target", "logits", "loss")})
    logits = model(torch.from_numpy(back["input"].copy()))
    assert torch.equal(logits.detach(), torch.from_numpy(back["logits"].copy())), "logits differ on reload"
    return len(back)


def make_dae_unet_tensors():
    """dae-unet on noisy images against clean targets with nn.L1Loss: the
    weights, input, target, output, loss and every gradient."""
    torch.set_num_threads(1)
    torch.manual_seed(SEED + 2)
    model = DaeUnet().float()
    clean = torch.rand(4, 1, 28, 28, dtype=torch.float32)
    noisy = clean + torch.rand(4, 1, 28, 28, dtype=torch.float32)
    out = {k: v.clone() for k, v in model.state_dict().items()}
    output = model(noisy)
    loss = nn.L1Loss()(output, clean)
    loss.backward()
    for key, param in model.named_parameters():
        out["grad." + key] = param.grad
    out.update({"input": noisy, "target": clean, "output": output.detach(), "loss": loss.detach().reshape(1)})
    return {k: np.array(v.detach().cpu().numpy(), order="C", copy=True) for k, v in out.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory (created if missing)")
    ap.add_argument("--check", action="store_true",
                    help="also reload the parameters into PyTorch and recompute the logits")
    args = ap.parse_args(argv)

    tensors, n_params = make_tensors()
    about = (f"mnistlab PyTorch reference: baseline network, torch {torch.__version__}, "
             f"seed {SEED}, batch {BATCH}, float32, 1 thread; input=torch.rand, "
             f"target=arange(8)%10, loss=CrossEntropyLoss(mean); grad.<key> = d loss / d <key>")
    metadata = {
        "about": about,
        "model": "baseline",
        "parameters": n_params,
        "torch_version": torch.__version__,
        "seed": SEED,
    }
    path = os.path.join(args.out, "baseline.safetensors")
    data = safetensors_bytes(tensors, metadata)
    write_atomic(path, data)

    # Always read the file back with the independent reader (cheap).
    back, _ = read_safetensors(path)
    for name, arr in tensors.items():
        if not np.array_equal(back[name], arr):
            sys.exit(f"make_reference: {path}: tensor {name} did not read back equal")
    if args.check:
        check(path, tensors)

    bn_tensors = make_bn_tensors()
    bn_path = os.path.join(args.out, "bn_small.safetensors")
    write_atomic(bn_path, safetensors_bytes(bn_tensors, {
        "about": "mnistlab PyTorch reference: bn_small in training mode, init.<key> before the forward pass",
        "torch_version": torch.__version__}))
    back, _ = read_safetensors(bn_path)
    for name, arr in bn_tensors.items():
        if not np.array_equal(back[name], arr):
            sys.exit(f"make_reference: {bn_path}: tensor {name} did not read back equal")
    print(f"wrote {bn_path}: {len(bn_tensors)} tensors")

    dae_tensors = make_dae_unet_tensors()
    dae_path = os.path.join(args.out, "dae_unet.safetensors")
    write_atomic(dae_path, safetensors_bytes(dae_tensors, {
        "about": "mnistlab PyTorch reference: dae-unet, L1 loss against the clean target",
        "torch_version": torch.__version__}))
    print(f"wrote {dae_path}: {len(dae_tensors)} tensors")

    loss = float(tensors["loss"][0])
    print(f"wrote {path}: {len(tensors)} tensors, {len(data)} bytes "
          f"(baseline, {n_params} parameters, loss {loss:.6f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
