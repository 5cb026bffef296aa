#!/usr/bin/env bash
# Training throughput: PyTorch (bench/pytorch_train.py) against mnistlab
# (build/bench/mnistlab_bench_train), same model, batch, threads and data,
# alternating in one run. Only the ratios printed by one run are meaningful.
#
#   bench/run.sh                       baseline, 2 threads, batch 64, 40 steps
#   bench/run.sh --threads "1 2"       several thread counts
#   bench/run.sh --all                 also vgg-bn (slow)
#   bench/run.sh --pytorch-only        measure PyTorch alone (no C++ build needed)
#
# Options: --threads "T1 T2 ..."  --steps N (all models; default 40 for
# baseline, 10 for vgg-bn)  --warmup W (5)  --batch-size B (64)
# --rounds R (3: each program runs R times, alternating, median reported)
# --data-dir DIR (data/mnist)  --all  --pytorch-only
# Environment: MNISTLAB_BENCH_BIN overrides the path of the C++ program.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=/usr/bin/python3
PYTORCH_SCRIPT=bench/pytorch_train.py
MNISTLAB_BIN=${MNISTLAB_BENCH_BIN:-build/bench/mnistlab_bench_train}

threads="2"
steps=""
warmup=5
batch=64
rounds=3
data_dir=data/mnist
all=0
pytorch_only=0

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
need() { [[ $# -ge 2 && -n "$2" ]] || { echo "run.sh: $1 needs a value" >&2; exit 2; }; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads)      need "$@"; threads="$2"; shift 2 ;;
    --steps)        need "$@"; steps="$2"; shift 2 ;;
    --warmup)       need "$@"; warmup="$2"; shift 2 ;;
    --batch-size)   need "$@"; batch="$2"; shift 2 ;;
    --rounds)       need "$@"; rounds="$2"; shift 2 ;;
    --data-dir)     need "$@"; data_dir="$2"; shift 2 ;;
    --all)          all=1; shift ;;
    --pytorch-only) pytorch_only=1; shift ;;
    -h|--help)      usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

for v in "$warmup" "$batch" "$rounds" ${steps:+"$steps"} $threads; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "run.sh: '$v' is not a whole number" >&2; exit 2; }
done

if [[ $pytorch_only -eq 0 && ! -x "$MNISTLAB_BIN" ]]; then
  echo "run.sh: $MNISTLAB_BIN not found: build first (cmake --build build)," >&2
  echo "        or pass --pytorch-only to measure PyTorch alone." >&2
  exit 1
fi
if [[ ! -e "$data_dir/train-images-idx3-ubyte" && ! -e "$data_dir/train-images-idx3-ubyte.gz" ]]; then
  echo "run.sh: no MNIST training images in $data_dir (run the setup script first)" >&2
  exit 1
fi

models=(baseline)
[[ $all -eq 1 ]] && models+=(vgg-bn)

default_steps() { case "$1" in baseline) echo 40 ;; *) echo 10 ;; esac; }

# Run one program, print its images_per_s value (or fail, showing its output).
measure() {
  local out rate
  if ! out=$("$@" 2>&1); then
    echo "run.sh: failed: $*" >&2
    echo "$out" >&2
    exit 1
  fi
  rate=$(awk '$1 == "images_per_s" { print $2 }' <<<"$out" | tail -n 1)
  if [[ -z "$rate" ]]; then
    echo "run.sh: no 'images_per_s' line from: $*" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$rate"
}

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
  if (NR == 0) { print "-"; exit }
  if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo "?")
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo "?")
echo "# $(date '+%Y-%m-%d %H:%M:%S')  $(nproc) cores ($cpu)  torch $torch_version  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# warmup $warmup, $rounds alternating rounds per program, median of rounds; only ratios from this run count"

rows=()
for model in "${models[@]}"; do
  s=${steps:-$(default_steps "$model")}
  for t in $threads; do
    flags=(--model "$model" --batch-size "$batch" --threads "$t" --steps "$s"
           --warmup "$warmup" --data-dir "$data_dir" --repeats 1)
    py_rates="" ml_rates=""
    for ((r = 1; r <= rounds; r++)); do
      # Alternate which program goes first, so drift affects both alike.
      if (( r % 2 == 1 )) || [[ $pytorch_only -eq 1 ]]; then order=(py ml); else order=(ml py); fi
      for who in "${order[@]}"; do
        if [[ $who == py ]]; then
          v=$(measure "$PYTHON" "$PYTORCH_SCRIPT" "${flags[@]}")
          py_rates+=" $v"
          echo "  $model threads $t round $r/$rounds: pytorch  $v images/s" >&2
        elif [[ $pytorch_only -eq 0 ]]; then
          v=$(measure "$MNISTLAB_BIN" "${flags[@]}")
          ml_rates+=" $v"
          echo "  $model threads $t round $r/$rounds: mnistlab $v images/s" >&2
        fi
      done
    done
    py=$(median <<<"$py_rates")
    ml=$(median <<<"$ml_rates")
    if [[ $ml == "-" ]]; then ratio="-"; else ratio=$(awk -v a="$ml" -v b="$py" 'BEGIN { printf "%.2f", a / b }'); fi
    rows+=("$model|$t|$batch|$s|$py|$ml|$ratio")
  done
done

printf '%-9s %7s %5s %5s %15s %16s %17s\n' model threads batch steps "pytorch img/s" "mnistlab img/s" "mnistlab/pytorch"
for row in "${rows[@]}"; do
  IFS='|' read -r m t b s py ml ratio <<<"$row"
  printf '%-9s %7s %5s %5s %15s %16s %17s\n' "$m" "$t" "$b" "$s" "$py" "$ml" "$ratio"
done
