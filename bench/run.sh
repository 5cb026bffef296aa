#!/usr/bin/env bash
# mnistlab against PyTorch on this machine, in one run: throughput of every
# network of the course (PyTorch: bench/pytorch_throughput.py; mnistlab:
# build/bench/mnistlab_bench_throughput) and seconds of training to 99% MNIST
# test accuracy (bench/pytorch_time_to_accuracy.py against
# build/bench/mnistlab_bench_time_to_accuracy). Same model, batch, threads,
# data and optimizer on both sides; the programs alternate, each round is
# one fresh process per program, and the table shows medians over rounds.
# Only the ratios printed by one run are meaningful.
#
#   bench/run.sh                          everything below, threads 1 and 2 (about 20 min)
#   bench/run.sh --only "baseline-train"  one row (see the names below)
#   bench/run.sh --threads 2 --rounds 5   other thread counts or rounds
#   bench/run.sh --no-time-to-accuracy    throughput only
#
# Rows: baseline-train (batch 64), vgg-bn-train (64), baseline-eval (1000),
# vgg-bn-eval (1000), dae-denoise (300, Fashion-MNIST, uniform noise, L1).
# Options: --threads "T1 T2 ..." (default "1 2"), --rounds R (3),
# --only "ROW ...", --tta-rounds R (1), --no-time-to-accuracy,
# --mnist DIR (data/mnist), --fashion DIR (data/fashion-mnist).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=/usr/bin/python3
BIN_DIR=${MNISTLAB_BENCH_DIR:-build/bench}

threads="1 2"
rounds=3
tta_rounds=1
only=""
time_to_accuracy=1
mnist=data/mnist
fashion=data/fashion-mnist

usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
need() { [[ $# -ge 2 && -n "$2" ]] || { echo "run.sh: $1 needs a value" >&2; exit 2; }; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads)    need "$@"; threads="$2"; shift 2 ;;
    --rounds)     need "$@"; rounds="$2"; shift 2 ;;
    --tta-rounds) need "$@"; tta_rounds="$2"; shift 2 ;;
    --only)       need "$@"; only="$2"; shift 2 ;;
    --mnist)      need "$@"; mnist="$2"; shift 2 ;;
    --fashion)    need "$@"; fashion="$2"; shift 2 ;;
    --no-time-to-accuracy) time_to_accuracy=0; shift ;;
    -h|--help)    usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

for v in "$rounds" "$tta_rounds" $threads; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$v' is not a positive whole number" >&2; exit 2; }
done
for bin in throughput time_to_accuracy; do
  if [[ ! -x "$BIN_DIR/mnistlab_bench_$bin" ]]; then
    echo "run.sh: $BIN_DIR/mnistlab_bench_$bin not found: build first (cmake --build build)" >&2
    exit 1
  fi
done
for dir in "$mnist" "$fashion"; do
  if [[ ! -e "$dir/train-images-idx3-ubyte" && ! -e "$dir/train-images-idx3-ubyte.gz" ]]; then
    echo "run.sh: no training images in $dir (run scripts/setup.sh first)" >&2
    exit 1
  fi
done

# name | task | model | batch | steps | warmup | data
ROWS=(
  "baseline-train|train|baseline|64|40|5|$mnist"
  "vgg-bn-train|train|vgg-bn|64|10|3|$mnist"
  "baseline-eval|eval|baseline|1000|5|1|$mnist"
  "vgg-bn-eval|eval|vgg-bn|1000|3|1|$mnist"
  "dae-denoise|denoise|dae|300|40|5|$fashion"
)
if [[ -n "$only" ]]; then
  for want in $only; do
    printf '%s\n' "${ROWS[@]}" | grep -q "^$want|" || { echo "run.sh: no row named '$want'" >&2; exit 2; }
  done
fi

# Run one program; print "<images/s> <peak MiB>" (or fail, showing its output).
measure() {
  local out rate peak
  if ! out=$("$@" 2>&1); then
    echo "run.sh: failed: $*" >&2
    echo "$out" >&2
    exit 1
  fi
  rate=$(awk '$1 == "images_per_s" { print $2 }' <<<"$out" | tail -n 1)
  peak=$(awk '$1 == "peak_rss_mib" { print $2 }' <<<"$out" | tail -n 1)
  if [[ -z "$rate" || -z "$peak" ]]; then
    echo "run.sh: no 'images_per_s' or 'peak_rss_mib' line from: $*" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$rate $peak"
}

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
  if (NR == 0) { print "-"; exit }
  if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'; }

# Both programs in the environment a user's machine has: variables that
# steer a library's choice of kernels (this machine may set some) are removed.
steering=$(env | grep -oE '^(OPENBLAS|GOTO|BLIS|LIBXSMM|ONEDNN|DNNL|MKL|OMP)_[A-Z0-9_]*' || true)
for v in $steering; do unset "$v"; done

torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo "?")
cpu=$(lscpu 2>/dev/null | awk -F': +' '/^Model name/ { print $2; exit }')
echo "# $(date '+%Y-%m-%d %H:%M:%S')  $(nproc) cores ($cpu)  torch $torch_version  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# mnistlab: $("${BIN_DIR%/bench}/mnistlab" --version 2>/dev/null | tail -n 1)"
echo "# removed from the environment: ${steering:-nothing}" | tr '\n' ' '; echo
echo "# $rounds alternating rounds per program, one process each, medians; only ratios from this run count"

table=()
for row in "${ROWS[@]}"; do
  IFS='|' read -r name task model batch steps warmup data <<<"$row"
  if [[ -n "$only" ]] && ! grep -qw -- "$name" <<<"$only"; then continue; fi
  for t in $threads; do
    flags=(--task "$task" --model "$model" --batch-size "$batch" --threads "$t" --steps "$steps"
           --warmup "$warmup" --data-dir "$data" --repeats 1)
    py_rates="" ml_rates="" py_peaks="" ml_peaks=""
    for ((r = 1; r <= rounds; r++)); do
      # Alternate which program goes first, so drift affects both alike.
      if (( r % 2 == 1 )); then order=(py ml); else order=(ml py); fi
      for who in "${order[@]}"; do
        if [[ $who == py ]]; then
          read -r v p < <(measure "$PYTHON" bench/pytorch_throughput.py "${flags[@]}")
          py_rates+=" $v" py_peaks+=" $p"
          echo "  $name threads $t round $r/$rounds: pytorch  $v images/s, peak $p MiB" >&2
        else
          read -r v p < <(measure "$BIN_DIR/mnistlab_bench_throughput" "${flags[@]}")
          ml_rates+=" $v" ml_peaks+=" $p"
          echo "  $name threads $t round $r/$rounds: mnistlab $v images/s, peak $p MiB" >&2
        fi
      done
    done
    py=$(median <<<"$py_rates") ml=$(median <<<"$ml_rates")
    table+=("$name|$t|$batch|$py|$ml|$(ratio "$ml" "$py")|$(median <<<"$py_peaks")|$(median <<<"$ml_peaks")")
  done
done

if [[ ${#table[@]} -gt 0 ]]; then
  printf '\n%-15s %7s %5s %13s %14s %6s %13s %14s\n' row threads batch "pytorch img/s" "mnistlab img/s" ratio \
    "pytorch MiB" "mnistlab MiB"
  for line in "${table[@]}"; do
    IFS='|' read -r n t b py ml ra pp mp <<<"$line"
    printf '%-15s %7s %5s %13s %14s %6s %13s %14s\n' "$n" "$t" "$b" "$py" "$ml" "$ra" "$pp" "$mp"
  done
fi

[[ $time_to_accuracy -eq 1 && -z "$only" ]] || exit 0

# Time to 99%: the fast preset's recipe, 2 threads (the last of --threads).
tta_threads=${threads##* }
recipe=(--model fast --epochs 2 --batch-size 32 --lr 0.005 --lr-schedule onecycle --threads "$tta_threads"
        --eval-every 100 --target 0.99 --data-dir "$mnist")
seconds() {
  local out
  if ! out=$("$@" 2>&1); then echo "run.sh: failed: $*" >&2; echo "$out" >&2; exit 1; fi
  echo "$out" | sed 's/^/    /' >&2
  awk '$1 == "seconds_to_target" { print $2 }' <<<"$out"
}
py_times="" ml_times=""
for ((r = 1; r <= tta_rounds; r++)); do
  echo "  time to 99%, round $r/$tta_rounds: pytorch" >&2
  py_times+=" $(seconds "$PYTHON" bench/pytorch_time_to_accuracy.py "${recipe[@]}")"
  echo "  time to 99%, round $r/$tta_rounds: mnistlab" >&2
  ml_times+=" $(seconds "$BIN_DIR/mnistlab_bench_time_to_accuracy" "${recipe[@]}")"
done
echo
echo "time to 99.0% MNIST test accuracy (fast preset, Adam, onecycle peak lr 0.005, batch 32, 2 epochs at most," \
     "$tta_threads threads; seconds of training, evaluation excluded)"
echo "  pytorch : $py_times"
echo "  mnistlab: $ml_times"
