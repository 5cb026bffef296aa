#!/usr/bin/env bash
# Builds mnistlab and runs the whole test suite (GoogleTest through ctest).
# The tests make their own small data; PyTorch (Debian's python3-torch)
# writes the reference the parity test compares against.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-packages.sh
scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 -j "$(nproc)"
