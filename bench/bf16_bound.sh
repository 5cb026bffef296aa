#!/usr/bin/env bash
# How fast bfloat16 can make a step at most, on this machine (issue 29's
# "bf16 at least 1.6x our fp32" rows). Amdahl's law with generous terms:
#   - the dot-product rate gains at most what mnistlab_bench_dot_peak
#     measures (vdpbf16ps against vfmadd231ps, registers only);
#   - everything the issue keeps in float32 gains nothing: the optimizer
#     step (float32 master weights and state), BatchNorm and the loss;
#   - everything else — products, packing, im2col, activations, memory
#     fills, even OpenMP's waits and the kernel's time — is assumed to gain
#     the full ratio, as if bf16 halved it too.
# So the bound overstates what any bf16 route can reach.
# A second bound takes Winograd into account: our float32 3x3 convolutions
# run F(2x2, 3x3), 16 products for 4 outputs where a direct convolution
# needs 36, and its transforms are float32 additions, which no bf16
# instruction speeds up. A bf16 route for those layers either keeps
# Winograd (transforms T as they are, products P at most `ratio` faster) or
# drops it (36/16 = 2.25 times the products, at most `ratio` faster, no
# transforms): at best min(T + P/ratio, 2.25 P/ratio) for T + P.
# Per row: the shares of the float32 step (perf samples of the timed steps
# only, through mnistlab_bench_throughput --perf-control) that stay float32,
# that are Winograd products and Winograd transforms; both bounds; and the
# bf16 / fp32 ratio measured now.
#
#   bench/bf16_bound.sh                 the four rows, 2 threads
#   bench/bf16_bound.sh --threads 1
#
# Needs perf (Debian: linux-perf), kernel.perf_event_paranoid <= 2 and a CPU
# with AVX512_BF16.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
threads=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) [[ $# -ge 2 ]] || { echo "bf16_bound.sh: --threads needs a value" >&2; exit 2; }; threads=$2; shift 2 ;;
    -h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bf16_bound.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
for v in $(env | grep -oE '^(OPENBLAS|GOTO|BLIS|LIBXSMM|ONEDNN|DNNL|MKL|OMP|KMP|GOMP)_[A-Z0-9_]*' || true); do unset "$v"; done
command -v perf >/dev/null || { echo "bf16_bound.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
bin=build/bench/mnistlab_bench_throughput
for b in "$bin" build/bench/mnistlab_bench_dot_peak; do
  [[ -x $b ]] || { echo "bf16_bound.sh: $b not found: build first (cmake --build build)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# CPU: $(lscpu | sed -n 's/^Model name: *//p'), $threads threads, $(date -u +%F)"
peak=$(build/bench/mnistlab_bench_dot_peak) || { echo "$peak"; exit 1; }
ratio=$(awk '$1 == "ratio" { print $2 }' <<<"$peak")
echo "# dot products per core: $(awk '$1 ~ /gflop/ { printf "%s %s  ", $1, $2 }' <<<"$peak")-> at most ${ratio}x"
# Symbols that stay float32 by the issue's rules.
fixed='adam_range|sgd_range|batchnorm|channel_mean_var|channel_sums|cross_entropy|log_softmax|regression_loss|mean_loss'

printf '%-20s %6s %6s %6s %6s %8s %9s %10s %9s\n' row target fixed wg-prod wg-tran bound wg-bound bf16/fp32 reachable
rows=("baseline-train|train|baseline|64|40|data/mnist|1.6"
      "vgg-bn-train|train|vgg-bn|64|20|data/fashion-mnist|1.6"
      "best-fashion-train|train|best-fashion|128|20|data/fashion-mnist|1.6"
      "vgg-bn-eval|eval|vgg-bn|1000|4|data/fashion-mnist|1.8")
for row in "${rows[@]}"; do
  IFS='|' read -r name task model batch steps data target <<<"$row"
  args=(--task "$task" --model "$model" --batch-size "$batch" --threads "$threads" --steps "$steps"
        --warmup 3 --data-dir "$data")
  rate() { "$bin" "${args[@]}" --repeats 3 --precision "$1" | awk '$1 == "images_per_s" { print $2 }'; }
  fp32=$(rate fp32) bf16=$(rate bf16)
  rm -f "$tmp/ctl" && mkfifo "$tmp/ctl"
  perf record -q -D -1 --control "fifo:$tmp/ctl" -F 999 -o "$tmp/perf.data" \
    "$bin" "${args[@]}" --repeats 1 --precision fp32 --perf-control "$tmp/ctl" >/dev/null 2>&1
  read -r f wp wt < <(perf report -i "$tmp/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
    awk -v re="$fixed" '/^ +[0-9.]+%/ { p = $1 + 0; total += p
                          if ($0 ~ re) f += p
                          else if ($0 ~ /product_block|winograd_products|winograd_weight_products/) wp += p
                          else if ($0 ~ /winograd_/) wt += p }
                        END { printf "%.4f %.4f %.4f\n", f / total, wp / total, wt / total }')
  awk -v n="$name" -v t="$target" -v f="$f" -v wp="$wp" -v wt="$wt" -v r="$ratio" -v a="$fp32" -v b="$bf16" 'BEGIN {
    bound = 1 / (f + (1 - f) / r)
    keep = wt + wp / r; direct = 2.25 * wp / r
    wg = 1 / (f + (keep < direct ? keep : direct) + (1 - f - wp - wt) / r)
    printf "%-20s %6.2f %5.1f%% %6.1f%% %6.1f%% %8.2f %9.2f %10.2f %9s\n", n, t, 100 * f, 100 * wp, 100 * wt,
      bound, wg, b / a, (wg >= t) ? "maybe" : "no" }'
done
