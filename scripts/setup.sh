#!/usr/bin/env bash
# From a fresh Debian 12 machine to a trained network: packages, datasets in
# data/, build, then the main job: the course's default network on MNIST.
#   EPOCHS=15 scripts/setup.sh   for the full 15-epoch run (docs/results.md: 98.76%)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-packages.sh --data
scripts/get-data.sh
scripts/build.sh
epochs=${EPOCHS:-3}
# No --out: a second setup run goes to runs/baseline-mnist-2, ... instead of replacing the first.
echo "main job: baseline on MNIST, Adam lr 1e-3, batch 64, $epochs epochs (runs/baseline-mnist, or -2, -3, ...)"
./build/mnistlab train --model baseline --dataset mnist --data-dir data/mnist --epochs "$epochs" \
  --batch-size 64 --optimizer adam --lr 1e-3
