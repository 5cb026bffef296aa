#!/usr/bin/env bash
# Where a training step's time goes: perf samples of mnistlab training steps
# (build/bench/mnistlab_bench_throughput), grouped by function and by
# library, and the nominal GFLOP/s reached against this machine's SGEMM peak
# (build/bench/mnistlab_bench_sgemm_peak, the same OpenBLAS).
#
#   bench/profile.sh                      baseline, batch 64, 2 threads
#   bench/profile.sh --model vgg-bn --steps 20
#   bench/profile.sh --task denoise --model dae --batch-size 300 --data-dir data/fashion-mnist
#
# Options: --model M (baseline), --task train|eval|denoise (train),
# --batch-size B (64), --threads T (2), --steps S (40), --data-dir DIR
# (data/mnist), --top N (20 functions), --precision fp32|bf16 (fp32). Needs perf (Debian: linux-perf) and
# kernel.perf_event_paranoid <= 2.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

model=baseline task=train batch=64 threads=2 steps=40 data_dir=data/mnist top=20 precision=fp32
need() { [[ $# -ge 2 && -n "$2" ]] || { echo "profile.sh: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model)      need "$@"; model="$2"; shift 2 ;;
    --task)       need "$@"; task="$2"; shift 2 ;;
    --batch-size) need "$@"; batch="$2"; shift 2 ;;
    --threads)    need "$@"; threads="$2"; shift 2 ;;
    --steps)      need "$@"; steps="$2"; shift 2 ;;
    --data-dir)   need "$@"; data_dir="$2"; shift 2 ;;
    --top)        need "$@"; top="$2"; shift 2 ;;
    --precision)  need "$@"; precision="$2"; shift 2 ;;
    -h|--help)    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "profile.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
command -v perf >/dev/null || { echo "profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
bin=build/bench/mnistlab_bench_throughput
[[ -x $bin ]] || { echo "profile.sh: $bin not found: build first (cmake --build build)" >&2; exit 1; }

data=$(mktemp /tmp/mnistlab-profile.XXXXXX)
trap 'rm -f "$data"' EXIT
args=(--precision "$precision" --task "$task" --model "$model" --batch-size "$batch" --threads "$threads" --steps "$steps"
      --warmup 3 --repeats 1 --data-dir "$data_dir")

# Throughput without the profiler first, then the profiled run.
out=$("$bin" "${args[@]}")
# Sampling on for the timed steps only (perf's control FIFO), not start-up.
ctl=$(mktemp -u /tmp/mnistlab-profile-ctl.XXXXXX)
mkfifo "$ctl"
trap 'rm -f "$data" "$ctl"' EXIT
perf record -q -D -1 --control "fifo:$ctl" -F 999 -o "$data" "$bin" "${args[@]}" --perf-control "$ctl" >/dev/null 2>&1

echo "# $model $task, $precision, batch $batch, $threads threads, $steps steps (timed steps only)"
echo "# $(build/mnistlab info --threads "$threads" 2>/dev/null)"
echo "# by library"
# (head closes the pipe early: that is not a failure)
{ perf report -i "$data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8; } || true
echo "# by function (top $top)"
{ perf report -i "$data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' |
  sed -E 's/[ -]+$//' | head -"$top"; } || true

rate=$(awk '$1 == "images_per_s" { print $2 }' <<<"$out")
gflops=$(awk '$1 == "nominal_gflop_per_s" { print $2 }' <<<"$out")
peak=$(build/bench/mnistlab_bench_sgemm_peak --threads "$threads" | awk '{ print $2 }')
echo "# throughput $rate images/s: $gflops nominal GFLOP/s of the convolutions and linear layers,"
echo "# against an SGEMM peak of $peak GFLOP/s on $threads threads: $(awk -v a="$gflops" -v b="$peak" 'BEGIN { printf "%.0f%%", 100 * a / b }')"
