#!/usr/bin/python3
"""Learning rates per optimizer step from torch.optim.lr_scheduler, the
reference for mnistlab's --lr-schedule (tests/test_schedule.cpp).

Run by ctest as the fixture test ``make_schedules``; by hand:

    /usr/bin/python3 tests/reference/make_schedules.py --out build/reference

writes ``<out>/schedules.json``: for each schedule, the settings and the
learning rate (and, for onecycle, Adam's beta1) in force at each of
EPOCHS * STEPS_PER_EPOCH optimizer steps, read from the optimizer's
param_groups before each step, as a training loop would see them.
"""

import argparse
import json
import os

import torch

EPOCHS = 6
STEPS_PER_EPOCH = 5
TOTAL = EPOCHS * STEPS_PER_EPOCH


def record(optimizer, scheduler, per_epoch):
    lrs, beta1s = [], []
    for step in range(TOTAL):
        group = optimizer.param_groups[0]
        lrs.append(group["lr"])
        beta1s.append(group["betas"][0] if "betas" in group else None)
        optimizer.step()
        if not per_epoch:
            scheduler.step()
        elif (step + 1) % STEPS_PER_EPOCH == 0:
            scheduler.step()
    return lrs, beta1s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    p = [torch.nn.Parameter(torch.zeros(1))]
    cases = {}

    opt = torch.optim.SGD(p, lr=0.1)
    lrs, _ = record(opt, torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), per_epoch=True)
    cases["step"] = {"lr0": 0.1, "step_size": 2, "gamma": 0.5, "lr": lrs}

    opt = torch.optim.SGD(p, lr=0.1)
    lrs, _ = record(opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=TOTAL, eta_min=0.001),
                    per_epoch=False)
    cases["cosine"] = {"lr0": 0.1, "min_lr": 0.001, "lr": lrs}

    opt = torch.optim.Adam(p, lr=0.01)
    lrs, beta1s = record(opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=TOTAL),
                         per_epoch=False)
    cases["onecycle"] = {"lr0": 0.01, "lr": lrs, "beta1": beta1s}

    out = {"epochs": EPOCHS, "steps_per_epoch": STEPS_PER_EPOCH, "cases": cases}
    path = os.path.join(args.out, "schedules.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
