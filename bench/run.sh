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
# Throughput: mnistlab in float32 and in bf16 (--precision bf16), against
# PyTorch at its best: the fastest of its variants on that row (named in the
# table), by default float32 and bf16 autocast, each in NCHW and in
# channels_last, each in the default environment and with
# OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 (set for the python
# process only): 8 PyTorch processes per row and round. bf16 needs
# avx512_bf16 or amx_bf16 in /proc/cpuinfo; without them the bf16 columns
# say n/a.
#
#   bench/run.sh                          everything below, threads 1 and 2 (about 1.5 hours, estimated)
#   bench/run.sh --only "baseline-train"  one row (see the names below)
#   bench/run.sh --threads 2 --rounds 5   other thread counts or rounds
#   bench/run.sh --precision fp32         mnistlab float32 only
#   bench/run.sh --no-time-to-accuracy    throughput only
#
# Rows: baseline-train (batch 64), vgg-bn-train (64), baseline-eval (1000),
# vgg-bn-eval (1000), dae-denoise (300, Fashion-MNIST, uniform noise, L1).
# Options: --threads "T1 T2 ..." (default "1 2"), --rounds R (3),
# --only "ROW ...", --precision "fp32 bf16" (mnistlab's columns),
# --pytorch-variants "V ..." (fp32 bf16, -cl: channels_last, +passive: the
# two variables; default all 8 of fp32[-cl][+passive] bf16[-cl][+passive]),
# --tta-rounds R (1), --no-time-to-accuracy,
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
precisions="fp32 bf16"
py_variants="fp32 fp32+passive bf16 bf16+passive fp32-cl fp32-cl+passive bf16-cl bf16-cl+passive"

usage() { sed -n '2,33p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
need() { [[ $# -ge 2 && -n "$2" ]] || { echo "run.sh: $1 needs a value" >&2; exit 2; }; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads)    need "$@"; threads="$2"; shift 2 ;;
    --rounds)     need "$@"; rounds="$2"; shift 2 ;;
    --tta-rounds) need "$@"; tta_rounds="$2"; shift 2 ;;
    --only)       need "$@"; only="$2"; shift 2 ;;
    --mnist)      need "$@"; mnist="$2"; shift 2 ;;
    --fashion)    need "$@"; fashion="$2"; shift 2 ;;
    --precision)  need "$@"; precisions="$2"; shift 2 ;;
    --pytorch-variants) need "$@"; py_variants="$2"; shift 2 ;;
    --no-time-to-accuracy) time_to_accuracy=0; shift ;;
    -h|--help)    usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

for v in "$rounds" "$tta_rounds" $threads; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$v' is not a positive whole number" >&2; exit 2; }
done
for p in $precisions; do
  [[ "$p" == fp32 || "$p" == bf16 ]] || { echo "run.sh: --precision takes fp32 and/or bf16, not '$p'" >&2; exit 2; }
done
for v in $py_variants; do
  [[ "$v" =~ ^(fp32|bf16)(-cl)?(\+passive)?$ ]] ||
    { echo "run.sh: unknown PyTorch variant '$v' (fp32, bf16, fp32-cl, bf16-cl, each optionally +passive)" >&2; exit 2; }
done
[[ -n "$py_variants" ]] || { echo "run.sh: --pytorch-variants needs at least one variant" >&2; exit 2; }
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
  local out rate peak rc=0
  out=$("$@" 2>&1) || rc=$?
  if (( rc != 0 )); then
    # The status tells a crash or a kill by another process (128 + signal,
    # with no output) from the program's own refusal.
    echo "run.sh: failed with status $rc: $*" >&2
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
# a / b, or "-" when either is not a figure (a column that did not run).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {
  if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'; }

# Both programs in the environment a user's machine has: variables that
# steer a library's choice of kernels (this machine may set some) are removed.
# PyTorch's +passive variants then set two of them again, for its process only.
steering=$(env | grep -oE '^(OPENBLAS|GOTO|BLIS|LIBXSMM|ONEDNN|DNNL|MKL|OMP|KMP|GOMP)_[A-Z0-9_]*' || true)
for v in $steering; do unset "$v"; done

# bf16 runs only where the CPU has bf16 instructions: mnistlab refuses it
# elsewhere (it does not emulate bf16), and PyTorch's oneDNN would emulate it,
# which measures the emulation, not the bf16 route; those columns say n/a.
cpu_bf16=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | grep -owE 'avx512_bf16|amx_bf16' | tr '\n' ' ' || true)
cpu_bf16=${cpu_bf16% }
ml_precisions="" skipped=""
for p in $precisions; do
  if [[ $p == bf16 && -z "$cpu_bf16" ]]; then skipped+=" mnistlab-bf16"; else ml_precisions+=" $p"; fi
done
run_variants=""
for v in $py_variants; do
  if [[ $v == bf16* && -z "$cpu_bf16" ]]; then skipped+=" pytorch-$v"; else run_variants+=" $v"; fi
done
[[ -n "$run_variants" ]] || { echo "run.sh: no PyTorch variant left to run (no bf16 on this CPU)" >&2; exit 2; }

torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo "?")
cpu=$(lscpu 2>/dev/null | awk -F': +' '/^Model name/ { print $2; exit }')
echo "# $(date '+%Y-%m-%d %H:%M:%S')  $(nproc) cores ($cpu)  torch $torch_version  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# mnistlab: $("${BIN_DIR%/bench}/mnistlab" --version 2>/dev/null | tail -n 1)"
echo "# removed from the environment: ${steering:-nothing}" | tr '\n' ' '; echo
echo "# bf16 instructions: ${cpu_bf16:-none (no bf16 on this CPU)}; mnistlab:${ml_precisions:- none};" \
     "PyTorch variants:$run_variants${skipped:+; skipped:$skipped}"
echo "# PyTorch variants: fp32 = float32, bf16 = torch.autocast(\"cpu\", dtype=torch.bfloat16) around forward" \
     "and loss, -cl = channels_last, +passive = OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1"
echo "# $rounds alternating rounds per program, one process each, medians; only ratios from this run count"

# Run one PyTorch variant or one mnistlab precision; print "<images/s> <peak MiB>".
run_program() {
  local who=$1; shift
  case "$who" in
    pytorch-*)
      local v=${who#pytorch-} py_flags=() env_flags=()
      [[ $v == bf16* ]] && py_flags+=(--autocast bf16)
      [[ $v == *-cl* ]] && py_flags+=(--channels-last)
      [[ $v == *+passive ]] && env_flags+=(OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1)
      measure env "${env_flags[@]}" "$PYTHON" bench/pytorch_throughput.py "$@" "${py_flags[@]}" ;;
    mnistlab-*)
      measure "$BIN_DIR/mnistlab_bench_throughput" "$@" --precision "${who#mnistlab-}" ;;
  esac
}

# Columns that did not run: "n/a" where the CPU lacks bf16, "-" where not asked.
ml_col() {  # precision, the associative array's value or ""
  if [[ -n "$2" ]]; then echo "$2"
  elif [[ " $skipped " == *" mnistlab-$1 "* ]]; then echo "n/a"
  else echo "-"; fi
}

programs=()
for v in $run_variants; do programs+=("pytorch-$v"); done
for p in $ml_precisions; do programs+=("mnistlab-$p"); done

table=() variant_table=()
for row in "${ROWS[@]}"; do
  IFS='|' read -r name task model batch steps warmup data <<<"$row"
  if [[ -n "$only" ]] && ! grep -qw -- "$name" <<<"$only"; then continue; fi
  for t in $threads; do
    flags=(--task "$task" --model "$model" --batch-size "$batch" --threads "$t" --steps "$steps"
           --warmup "$warmup" --data-dir "$data" --repeats 1)
    declare -A rates=() peaks=()
    for ((r = 1; r <= rounds; r++)); do
      # Reverse the order every other round, so drift affects all programs alike.
      order=("${programs[@]}")
      if (( r % 2 == 0 )); then
        order=()
        for ((i = ${#programs[@]} - 1; i >= 0; i--)); do order+=("${programs[i]}"); done
      fi
      for who in "${order[@]}"; do
        read -r v p < <(run_program "$who" "${flags[@]}")
        rates[$who]+=" $v" peaks[$who]+=" $p"
        printf '  %s threads %s round %s/%s: %-22s %9s images/s, peak %s MiB\n' \
          "$name" "$t" "$r" "$rounds" "$who" "$v" "$p" >&2
      done
    done
    # PyTorch's best variant: the highest median images/s on this row.
    best="" best_rate="" variant_line="$name|$t"
    for v in $run_variants; do
      m=$(median <<<"${rates[pytorch-$v]}")
      variant_line+="|$m"
      if [[ -z "$best" ]] || awk -v a="$m" -v b="$best_rate" 'BEGIN { exit !(a > b) }'; then
        best=$v best_rate=$m
      fi
    done
    variant_table+=("$variant_line|$best")
    f32=$(ml_col fp32 "$(if [[ -n "${rates[mnistlab-fp32]:-}" ]]; then median <<<"${rates[mnistlab-fp32]}"; fi)")
    b16=$(ml_col bf16 "$(if [[ -n "${rates[mnistlab-bf16]:-}" ]]; then median <<<"${rates[mnistlab-bf16]}"; fi)")
    f32_mib=$(ml_col fp32 "$(if [[ -n "${peaks[mnistlab-fp32]:-}" ]]; then median <<<"${peaks[mnistlab-fp32]}"; fi)")
    b16_mib=$(ml_col bf16 "$(if [[ -n "${peaks[mnistlab-bf16]:-}" ]]; then median <<<"${peaks[mnistlab-bf16]}"; fi)")
    table+=("$name|$t|$batch|$best_rate|$best|$f32|$b16|$(ratio "$f32" "$best_rate")|$(ratio "$b16" "$best_rate")|$(ratio "$b16" "$f32")|$(median <<<"${peaks[pytorch-$best]}")|$f32_mib|$b16_mib")
    unset rates peaks
  done
done

if [[ ${#table[@]} -gt 0 ]]; then
  echo
  echo "# images/s on $cpu ($(nproc) cores), load at the end $(cut -d' ' -f1-3 /proc/loadavg);" \
       "pytorch = its best variant on the row; ratios above 1: mnistlab faster"
  fmt='%-14s %3s %5s %9s %-18s %9s %9s %8s %8s %8s %8s %8s %8s\n'
  printf "$fmt" row thr batch pytorch "(best variant)" ml-fp32 ml-bf16 fp32/pt bf16/pt bf16/fp32 "pt MiB" \
    "fp32 MiB" "bf16 MiB"
  for line in "${table[@]}"; do
    IFS='|' read -r n t b py pv f32 b16 r1 r2 r3 pm fm bm <<<"$line"
    printf "$fmt" "$n" "$t" "$b" "$py" "($pv)" "$f32" "$b16" "$r1" "$r2" "$r3" "$pm" "$fm" "$bm"
  done
  [[ " $skipped " == *" mnistlab-bf16 "* ]] && echo "n/a: no bf16 on this CPU (no avx512_bf16 or amx_bf16 in /proc/cpuinfo)"

  echo
  echo "# every PyTorch variant, median images/s on $cpu; * = the best, used above"
  header=$(printf '%-14s %3s' row thr)
  for v in $run_variants; do header+=$(printf ' %15s' "$v"); done
  echo "$header"
  for line in "${variant_table[@]}"; do
    IFS='|' read -r -a f <<<"$line"
    out=$(printf '%-14s %3s' "${f[0]}" "${f[1]}")
    i=2
    for v in $run_variants; do
      mark=" "; [[ $v == "${f[-1]}" ]] && mark="*"
      out+=$(printf ' %14s%s' "${f[i]}" "$mark"); i=$((i + 1))
    done
    echo "$out"
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
