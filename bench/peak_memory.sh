#!/usr/bin/env bash
# Peak memory of the real commands in float32 and in bf16 (issue 29: "peak
# memory of bf16 evaluation and training no higher than fp32's"): the
# maximum resident set (GNU time's %M) of `mnistlab train` (one epoch of
# --train-limit images, then the test set), `mnistlab denoise train` (the
# autoencoders, uniform noise, 3000 images) and `mnistlab eval` (the whole
# test set, batch 1000) per network, the two precisions one after the other
# on the same weights.
#
#   bench/peak_memory.sh                  baseline, vgg-bn, best-fashion; 2 threads
#   bench/peak_memory.sh --threads 1
#
# Needs /usr/bin/time (Debian: time) and the datasets in data/ (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
threads=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) [[ $# -ge 2 ]] || { echo "peak_memory.sh: --threads needs a value" >&2; exit 2; }; threads=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "peak_memory.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
for v in $(env | grep -oE '^(OPENBLAS|GOTO|BLIS|LIBXSMM|ONEDNN|DNNL|MKL|OMP|KMP|GOMP)_[A-Z0-9_]*' || true); do unset "$v"; done
[[ -x /usr/bin/time ]] || { echo "peak_memory.sh: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
bin=build/mnistlab
[[ -x $bin ]] || { echo "peak_memory.sh: $bin not found: build first (cmake --build build)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

peak_mib() {  # the command's maximum RSS in MiB
  local kb
  kb=$(/usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1)
  awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }'
}

echo "# CPU: $(lscpu | sed -n 's/^Model name: *//p'), $threads threads, $(date -u '+%F %H:%M'), $(git log -1 --format=%h)"
printf '%-34s %9s %9s %8s\n' command fp32_MiB bf16_MiB bf16-fp32
rows=("baseline mnist 64" "vgg-bn fashion 64" "best-fashion fashion 64" "best-fashion fashion 128")
for row in "${rows[@]}"; do
  read -r model dataset batch <<<"$row"
  for p in fp32 bf16; do
    declare "mib_$p=$(peak_mib "$bin" train --model "$model" --dataset "$dataset" --batch-size "$batch" --epochs 1 \
      --train-limit 1280 --threads "$threads" --precision "$p" --out "$tmp/$model-$batch-$p")"
  done
  awk -v n="train $model b$batch" -v a="$mib_fp32" -v b="$mib_bf16" 'BEGIN { printf "%-34s %9.1f %9.1f %+8.1f\n", n, a, b, b - a }'
done
for model in dae dae-unet; do
  for p in fp32 bf16; do
    declare "mib_$p=$(peak_mib "$bin" denoise train --model "$model" --batch-size 300 --epochs 1 --train-limit 3000 \
      --threads "$threads" --precision "$p" --out "$tmp/$model-$p")"
  done
  awk -v n="denoise train $model b300" -v a="$mib_fp32" -v b="$mib_bf16" 'BEGIN { printf "%-34s %9.1f %9.1f %+8.1f\n", n, a, b, b - a }'
done
for row in "baseline mnist" "vgg-bn fashion" "best-fashion fashion"; do
  read -r model dataset <<<"$row"
  for p in fp32 bf16; do
    declare "mib_$p=$(peak_mib "$bin" eval --model "$model" --dataset "$dataset" --batch-size 1000 \
      --weights "$tmp/$model-64-fp32/last.safetensors" --threads "$threads" --precision "$p")"
  done
  awk -v n="eval $model b1000" -v a="$mib_fp32" -v b="$mib_bf16" 'BEGIN { printf "%-34s %9.1f %9.1f %+8.1f\n", n, a, b, b - a }'
done
