#!/usr/bin/env bash
# Depthwise 3x3 Conv2d, mnistlab against PyTorch on this machine, in one
# run: build/bench/mnistlab_bench_depthwise_conv against
# bench/pytorch_depthwise.py on the same layer shapes (batch 128, 32 and 64
# channels, 28x28 and 14x14, stride 1 and 2, padding 1, then a multiplier
# of 2), forward and forward + backward. PyTorch at its best: the fastest of
# float32, bf16 autocast and float32 channels_last, each in the default
# environment and with OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1.
# Rounds alternate which program goes first; the table shows medians over
# rounds and the ratio PyTorch's best time / mnistlab's time (above 1:
# mnistlab is faster). "floor us" is a loop that only moves the bytes the
# pass must move (depthwise_conv.cpp), and "2x/floor" PyTorch's best time / 2
# over it: below 1, no kernel on this machine can be 2x PyTorch on that row.
# Only the ratios printed by one run are meaningful.
#
#   bench/depthwise.sh                      threads 2, 3 rounds
#   bench/depthwise.sh --threads "1 2" --rounds 5 --only c32_28
#
# Options: --threads "T1 T2 ..." (default 2), --rounds R (3), --only SUBSTRING
# (shape names: n128_c32_28_s1_m1 ...), --variants LIST (f32,bf16,f32_cl),
# --raw (every program's lines too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=/usr/bin/python3
BIN_DIR=${MNISTLAB_BENCH_DIR:-build/bench}
threads="2" rounds=3 only="" variants="f32,bf16,f32_cl" raw=0
usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  [[ "$1" =~ ^--(threads|rounds|only|variants)$ && $# -lt 2 ]] && { echo "depthwise.sh: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --variants) variants=$2; shift 2 ;;
    --raw) raw=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "depthwise.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
for v in "$rounds" $threads; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "depthwise.sh: '$v' is not a positive whole number" >&2; exit 2; }
done
ours="$BIN_DIR/mnistlab_bench_depthwise_conv"
[[ -x "$ours" ]] || { echo "depthwise.sh: $ours not found: build first (cmake --build build)" >&2; exit 1; }

# Both programs in the environment a user's machine has (as run.sh).
steering=$(env | grep -oE '^(OPENBLAS|GOTO|BLIS|LIBXSMM|ONEDNN|DNNL|MKL|OMP|KMP|GOMP)_[A-Z0-9_]*' || true)
for v in $steering; do unset "$v"; done

cpu=$(lscpu 2>/dev/null | awk -F': +' '/^Model name/ { print $2; exit }')
torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo "?")
echo "# $(date '+%Y-%m-%d %H:%M:%S')  $(nproc) cores ($cpu)  torch $torch_version  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(git log -1 --format='%h %s' 2>/dev/null | cut -c1-70)"
echo "# $rounds alternating rounds, medians; ratio = PyTorch's best variant / mnistlab (above 1: mnistlab faster)"
echo "# floor: only the pass's least bytes moved; 2x/floor = PyTorch's best / 2 / floor (below 1: 2x is out of reach)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ml_args=(--threads "$threads") py_args=(--threads "$threads" --variants "$variants")
[[ -n "$only" ]] && ml_args+=(--only "$only") py_args+=(--only "$only")
run_ours() { "$ours" "${ml_args[@]}" >>"$tmp/lines" || { echo "depthwise.sh: $ours failed" >&2; exit 1; }; }
run_pytorch() {
  "$PYTHON" bench/pytorch_depthwise.py "${py_args[@]}" 2>/dev/null >>"$tmp/lines"
  OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 "$PYTHON" bench/pytorch_depthwise.py "${py_args[@]}" 2>/dev/null |
    sed 's/ pytorch \([a-z0-9_]*\) / pytorch \1+passive /' >>"$tmp/lines"
}
: >"$tmp/lines"
for ((r = 1; r <= rounds; r++)); do
  echo "  round $r/$rounds ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
  if ((r % 2 == 1)); then run_pytorch; run_ours; else run_ours; run_pytorch; fi
done
[[ $raw -eq 1 ]] && grep '^row ' "$tmp/lines"
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"

# row NAME PASS tT WHO VARIANT US us [foreign F]
awk '
  function median(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  $1 != "row" { next }
  {
    key = $2 " " $3 " " $4
    if (!(key in seen)) { seen[key] = 1; order[++rows] = key }
    if ($5 == "mnistlab") { ml[key] = ml[key] " " $7; if ($10 + 0 > foreign[key]) foreign[key] = $10 + 0 }
    else if ($5 == "floor") fl[key] = fl[key] " " $7
    else { vk = key SUBSEP $6; if (!(vk in py)) variants[key] = variants[key] " " $6; py[vk] = py[vk] " " $7 }
  }
  END {
    printf "\n%-20s %-8s %3s %12s %12s %-17s %7s  %-24s %9s %8s\n", "shape", "pass", "thr", "mnistlab us", "pytorch us", "(best variant)", "ratio", "pytorch f32 us / ratio", "floor us", "2x/floor"
    for (r = 1; r <= rows; ++r) {
      key = order[r]; split(key, k, " ")
      m = median(ml[key]); best = ""; best_v = ""
      n = split(variants[key], vs, " ")
      for (i = 1; i <= n; ++i) { t = median(py[key SUBSEP vs[i]]); if (best == "" || t < best) { best = t; best_v = vs[i] } }
      f32 = (key SUBSEP "f32") in py ? median(py[key SUBSEP "f32"]) : 0
      floor_us = median(fl[key])
      printf "%-20s %-8s %3s %12.1f %12.1f %-17s %6.2fx  %10.1f / %-11s %9.1f %7.2f%s\n", k[1], k[2], substr(k[3], 2), m, best,
             "(" best_v ")", best / m, f32, sprintf("%.2fx", f32 / m), floor_us, best / 2 / floor_us,
             (foreign[key] > 0.15 ? "  (load " foreign[key] " cores)" : "")
    }
  }' "$tmp/lines"
