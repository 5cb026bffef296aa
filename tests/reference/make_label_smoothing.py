#!/usr/bin/python3
"""nn.CrossEntropyLoss(label_smoothing=eps) and its gradient on random
logits, the reference for mnistlab's cross_entropy with label smoothing
(tests/test_label_smoothing.cpp).

Run by ctest as the fixture test ``make_label_smoothing``; by hand:

    /usr/bin/python3 tests/reference/make_label_smoothing.py --out build/reference

writes ``<out>/label_smoothing.json``: for eps in {0, 0.1, 0.3} and K in
{10, 47} classes, float32 logits [N, K] (N = 33), labels, the mean loss and
d loss / d logits. The loss is evaluated in float64 on the float32 logits
with eps rounded to float32 (mnistlab keeps it as a float, as the command's
other rates), so the file holds the exact answer for those inputs.
"""

import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

BATCH = 33  # odd, and more than one thread's share


def case(generator, classes, eps):
    logits = (torch.randn(BATCH, classes, generator=generator) * 3).float()
    labels = torch.randint(0, classes, (BATCH,), generator=generator)
    z = logits.double().requires_grad_()
    loss = F.cross_entropy(z, labels, label_smoothing=float(np.float32(eps)))
    loss.backward()
    return {"classes": classes, "label_smoothing": eps,
            "logits": logits.flatten().tolist(), "labels": labels.tolist(),
            "loss": loss.item(), "grad": z.grad.flatten().tolist()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    cases = [case(generator, k, eps) for k in (10, 47) for eps in (0.0, 0.1, 0.3)]
    path = os.path.join(args.out, "label_smoothing.json")
    os.makedirs(args.out, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump({"torch_version": torch.__version__, "cases": cases}, f)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
