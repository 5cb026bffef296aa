#!/usr/bin/python3
"""Checks an ONNX file that `mnistlab export` wrote, with runtimes that are not mnistlab's.

Run by tests/test_onnx_export.cpp; by hand:

    /usr/bin/python3 tests/reference/check_onnx.py --onnx net.onnx --weights w.safetensors \
        --io io.safetensors [--batch N | --dynamic] [--tolerance 1e-4]

1. onnx.checker.check_model(full_check=True) (Debian python3-onnx): the
   schema, and strict shape inference against the declared output.
2. The graph's input "input" and output "output" have the shapes asked for:
   the batch dimension fixed at N, or the symbol "batch_size".
3. Its initializers are the weights file's state_dict, key for key and bit
   for bit, num_batches_tracked aside.
4. OpenCV's dnn module (Debian python3-opencv) runs it on io.safetensors'
   "input" (in batches of N when the batch is fixed) and its outputs equal
   io.safetensors' "output" (mnistlab's) within the tolerance.

Prints one line of figures; exits non-zero naming what differs.
"""

import argparse
import os
import sys

import cv2
import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors  # noqa: E402


def fail(message):
    sys.exit("check_onnx: " + message)


def dims(value_info):
    return [d.dim_param if d.dim_param else d.dim_value for d in value_info.type.tensor_type.shape.dim]


def check_interface(model, batch, want_in, want_out):
    graph = model.graph
    if [i.name for i in graph.input] != ["input"] or [o.name for o in graph.output] != ["output"]:
        fail(f"inputs {[i.name for i in graph.input]}, outputs {[o.name for o in graph.output]}; "
             "expected ['input'] and ['output']")
    first = batch if batch else "batch_size"
    for value, shape in ((graph.input[0], want_in), (graph.output[0], want_out)):
        expected = [first] + list(shape[1:])
        if dims(value) != expected:
            fail(f"{value.name} has dimensions {dims(value)}, expected {expected}")


def check_initializers(model, weights):
    # Constants a layer's nodes need (Resize's scales) are named after the
    # node, "/3/...", never as a state_dict key.
    stored = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if not t.name.startswith("/")}
    expected = {k: v for k, v in weights.items() if not k.endswith("num_batches_tracked")}
    if set(stored) != set(expected):
        fail(f"initializers {sorted(set(stored) ^ set(expected))} are in one of the ONNX file and the "
             "state_dict only")
    for key, value in expected.items():
        if stored[key].shape != value.shape or not np.array_equal(stored[key], value):
            fail(f"initializer {key} differs from the state_dict's (shape {stored[key].shape} vs {value.shape})")
    return len(stored)


def run_opencv(path, inputs, batch):
    net = cv2.dnn.readNetFromONNX(path)
    step = batch if batch else len(inputs)
    outputs = []
    for start in range(0, len(inputs), step):
        net.setInput(np.ascontiguousarray(inputs[start:start + step]))
        outputs.append(net.forward().copy())
    return np.concatenate(outputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", required=True)
    parser.add_argument("--weights", required=True, help="the safetensors state_dict that was exported")
    parser.add_argument("--io", required=True, help="safetensors with 'input' and mnistlab's 'output'")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--batch", type=int, help="the fixed batch size the file was exported with")
    group.add_argument("--dynamic", action="store_true", help="the file has a dynamic batch dimension")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    model = onnx.load(args.onnx)
    onnx.checker.check_model(model, full_check=True)
    io, _ = read_safetensors(args.io)
    inputs, ours = io["input"].astype(np.float32), io["output"].astype(np.float32)
    batch = None if args.dynamic else args.batch
    if batch and len(inputs) % batch:
        fail(f"{len(inputs)} inputs do not split into batches of {batch}")
    check_interface(model, batch, inputs.shape, ours.shape)
    weights, _ = read_safetensors(args.weights)
    count = check_initializers(model, weights)

    theirs = run_opencv(args.onnx, inputs, batch)
    if theirs.shape != ours.shape:
        fail(f"OpenCV's output has shape {theirs.shape}, mnistlab's {ours.shape}")
    diff = np.abs(theirs.astype(np.float64) - ours.astype(np.float64))
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    print(f"opset {model.opset_import[0].version}, {len(model.graph.node)} nodes, {count} initializers, "
          f"{len(inputs)} images: max |OpenCV - mnistlab| {diff.max():.3g} at {tuple(int(i) for i in worst)}, "
          f"max |output| {np.abs(ours).max():.3g}")
    if not diff.max() <= args.tolerance:
        fail(f"OpenCV's output differs from mnistlab's by {diff.max():.3g} at {tuple(int(i) for i in worst)} "
             f"({theirs[worst]} vs {ours[worst]}), above the tolerance {args.tolerance}")


if __name__ == "__main__":
    main()
