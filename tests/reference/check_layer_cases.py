#!/usr/bin/python3
"""Checks every example of the layer table against runtimes that are not mnistlab's.

Run by tests/test_layer_table.cpp over a folder it fills, one subfolder a case:

    net.py              the model as a PyTorch module (mnistlab's pytorch_module_source)
    weights.safetensors its state_dict before any forward
    io.safetensors      x and r (the input and the upstream gradient), and mnistlab's
                        results per mode (train., eval.): y, dx, grad.KEY (parameters'
                        gradients of sum(y * r)), state.KEY (buffers after the forward)
    net.onnx            the ONNX export (dynamic batch)

1. PyTorch 1.13 (Debian's python3-torch) runs net.py with those weights in training
   mode (unless the network holds a Dropout, whose masks come from another
   generator) and in eval mode; y, dx, every gradient and buffer must agree.
2. onnx.checker (full check), then OpenCV's dnn module runs net.onnx; its output
   must equal mnistlab's eval-mode y within 1e-4.

Prints a line per case, "case NAME: ok ..." or "case NAME: FAIL what"; exits 1 if one fails.
"""

import argparse
import importlib.util
import os
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_onnx import check_initializers, check_interface, run_opencv  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

RTOL, ATOL = 1e-4, 2e-5


class Mismatch(Exception):
    pass


def compare(what, ours, theirs):
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    if ours.size != theirs.size:
        raise Mismatch(f"{what}: {ours.size} values from mnistlab, {theirs.size} from the reference")
    ours, theirs = ours.reshape(-1), theirs.reshape(-1)
    diff = np.abs(ours - theirs)
    bound = ATOL + RTOL * np.abs(theirs)
    worst = int(np.argmax(diff - bound))
    if diff[worst] > bound[worst]:
        raise Mismatch(f"{what}[{worst}]: mnistlab {ours[worst]:.7g}, reference {theirs[worst]:.7g}")
    return float(diff.max()) if diff.size else 0.0


def load_net(folder):
    spec = importlib.util.spec_from_file_location("net_" + os.path.basename(folder), os.path.join(folder, "net.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.Net()
    weights, _ = read_safetensors(os.path.join(folder, "weights.safetensors"))
    own = net.state_dict()
    if set(own) != set(weights):
        raise Mismatch(f"state_dict keys differ: only PyTorch's {sorted(set(own) - set(weights))}, "
                       f"only mnistlab's {sorted(set(weights) - set(own))}")
    net.load_state_dict({k: torch.from_numpy(np.array(v)).to(own[k].dtype).reshape(own[k].shape)
                         for k, v in weights.items()})
    return net


def check_mode(folder, io, mode):
    net = load_net(folder)
    net.train(mode == "train")
    x = torch.from_numpy(io["x"].copy()).requires_grad_(True)
    y = net(x)
    worst = compare(f"{mode} y", io[mode + ".y"], y.detach().numpy())
    (y.double() * torch.from_numpy(io["r"]).double().reshape(y.shape)).sum().backward()
    worst = max(worst, compare(f"{mode} dx", io[mode + ".dx"], x.grad.numpy()))
    for key, p in net.named_parameters():
        worst = max(worst, compare(f"{mode} grad {key}", io[f"{mode}.grad.{key}"], p.grad.numpy()))
    for key, b in net.named_buffers():
        worst = max(worst, compare(f"{mode} {key} after the forward", io[f"{mode}.state.{key}"], b.numpy()))
    return worst


def check_case(folder):
    io, _ = read_safetensors(os.path.join(folder, "io.safetensors"))
    io = {k: np.asarray(v, dtype=np.float32) for k, v in io.items()}
    notes = []
    if "train.y" in io:
        notes.append(f"train {check_mode(folder, io, 'train'):.2g}")
    notes.append(f"eval {check_mode(folder, io, 'eval'):.2g}")

    path = os.path.join(folder, "net.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    check_interface(model, None, io["x"].shape, io["eval.y"].shape)
    weights, _ = read_safetensors(os.path.join(folder, "weights.safetensors"))
    check_initializers(model, weights)
    theirs = run_opencv(path, io["x"], None)
    diff = np.abs(theirs.astype(np.float64) - io["eval.y"].astype(np.float64))
    if theirs.shape != io["eval.y"].shape or not diff.max() <= 1e-4:
        raise Mismatch(f"OpenCV's output {theirs.shape} differs from mnistlab's {io['eval.y'].shape} "
                       f"by {diff.max() if theirs.shape == io['eval.y'].shape else 'shape'}")
    notes.append(f"opencv {diff.max():.2g}")
    return ", ".join(notes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    args = parser.parse_args()
    torch.manual_seed(0)
    failed = 0
    for name in sorted(os.listdir(args.folder)):
        folder = os.path.join(args.folder, name)
        try:
            print(f"case {name}: ok (max |difference| {check_case(folder)})")
        except (Mismatch, SystemExit, Exception) as e:  # one case's failure must not hide the others'
            failed += 1
            print(f"case {name}: FAIL {type(e).__name__}: {e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
