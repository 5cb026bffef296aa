#!/usr/bin/python3
"""Write torchsummary's table for the course's networks, the text that
`mnistlab summary` must reproduce byte for byte.

Run by ctest as the fixture test ``make_summaries`` (see
tests/CMakeLists.txt). By hand, from the repository root:

    /usr/bin/python3 tests/reference/make_summaries.py --out build/reference

writes ``<out>/<name>.summary.txt`` for every network in networks.MODELS:
exactly what torchsummary 1.5.1 prints: it prints the table line by line
(``print(...)`` per line) and ends with the dashed line, with no empty line
after it.

Debian has no torchsummary package, so this script does what torchsummary
1.5.1 (``torchsummary.summary(model, (1, 28, 28), device="cpu")``) does, on
the real PyTorch modules: a forward hook on every module except containers,
a forward pass of torch.rand(2, ...), rows named ``<Class>-<call index>``,
``weight`` and ``bias`` sizes as the parameter count, batch size -1 in the
shapes, and the four size lines assuming 4 bytes per number.

One deliberate difference from a plain nn.Sequential: Flatten gets no row.
The course's networks flattened with ``x.view(x.size(0), -1)`` inside
``forward``, which torchsummary cannot see, and its published figures
(Forward/backward pass size 0.96 MB for the default network) only add up
without a Flatten row.
"""

import argparse
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from networks import MODELS  # noqa: E402

INPUT_SIZE = (1, 28, 28)
BATCH_SIZE = -1
RULE = "-" * 64
DOUBLE_RULE = "=" * 64


def collect_rows(model):
    rows = OrderedDict()

    def hook(module, inputs, output):
        key = f"{type(module).__name__}-{len(rows) + 1}"
        shape = list(output.size())
        shape[0] = BATCH_SIZE
        params = 0
        trainable = None
        if hasattr(module, "weight") and hasattr(module.weight, "size"):
            params += int(np.prod(list(module.weight.size())))
            trainable = module.weight.requires_grad
        if hasattr(module, "bias") and hasattr(module.bias, "size"):
            params += int(np.prod(list(module.bias.size())))
        rows[key] = {"output_shape": shape, "nb_params": params, "trainable": trainable}

    handles = []
    for module in model.modules():
        if module is model or isinstance(module, (nn.Sequential, nn.ModuleList, nn.Flatten)):
            continue
        handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        model(torch.rand(2, *INPUT_SIZE))
    for h in handles:
        h.remove()
    return rows


def format_table(rows):
    lines = [RULE, "{:>20}  {:>25} {:>15}".format("Layer (type)", "Output Shape", "Param #"), DOUBLE_RULE]
    total_params = total_output = trainable_params = 0
    for key, row in rows.items():
        lines.append("{:>20}  {:>25} {:>15}".format(key, str(row["output_shape"]), f"{row['nb_params']:,}"))
        total_params += row["nb_params"]
        total_output += int(np.prod(row["output_shape"]))
        if row["trainable"]:
            trainable_params += row["nb_params"]
    input_mb = abs(int(np.prod(INPUT_SIZE)) * BATCH_SIZE * 4.0 / (1024 ** 2.0))
    output_mb = abs(2.0 * total_output * 4.0 / (1024 ** 2.0))  # x2 for gradients
    params_mb = abs(total_params * 4.0 / (1024 ** 2.0))
    total_mb = params_mb + output_mb + input_mb
    lines += [
        DOUBLE_RULE,
        f"Total params: {total_params:,}",
        f"Trainable params: {trainable_params:,}",
        f"Non-trainable params: {total_params - trainable_params:,}",
        RULE,
        "Input size (MB): %0.2f" % input_mb,
        "Forward/backward pass size (MB): %0.2f" % output_mb,
        "Params size (MB): %0.2f" % params_mb,
        "Estimated Total Size (MB): %0.2f" % total_mb,
        RULE,
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for <name>.summary.txt")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for name, make in MODELS.items():
        text = format_table(collect_rows(make()))
        path = os.path.join(args.out, f"{name}.summary.txt")
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
