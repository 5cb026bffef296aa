#!/usr/bin/env bash
# bfloat16 bake-off (issue 29): per Conv2d / ConvTranspose2d shape of the
# presets (bench/conv_shapes.h) and pass, mnistlab's float32 route (the
# defaults, Auto) against each bfloat16 route:
#   ours       mnistlab's own bf16 routes (mnistlab_bench_conv_bakeoff --precision bf16 --isa avx512:
#              the defaults' route and each forced one): im2col + the vdpbf16ps GEMM
#              (kernels/cpu/gemm_bf16_avx512bf16.cpp), and on 3x3 stride-1 layers float32
#              Winograd on inputs rounded to bf16; the fastest is shown, and "bf16 auto" is
#              what Precision::Bf16 dispatches
#   dnnl       oneDNN 2.6's bf16 convolution / deconvolution primitives on NCHW float32 tensors,
#              the float32 -> bfloat16 reorders included (mnistlab_bench_onednn_conv --bf16, "plain")
# then the Linear layers (mnistlab_bench_bf16_linear: fp32, bf16-gemm, oneDNN bf16 matmul).
# Prints per shape and pass: fp32 us, each bf16 route's us, the winner and its speed-up over fp32.
#
#   bench/bf16_bakeoff.sh                          everything, 1 and 2 threads
#   bench/bf16_bakeoff.sh --only vgg-bn --threads 2
#
# Options: --only SUBSTRING, --threads "1 2", --max-wait S (per measurement; default 30),
# --from DIR (join a saved run: DIR/fp32, DIR/bf16, DIR/dnnl and DIR/linear, the four programs'
# outputs, e.g. from another machine), --keep DIR (save this run's four outputs there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN_DIR=${MNISTLAB_BENCH_DIR:-build/bench}
only="" threads="1 2" max_wait=30 from="" keep=""
while [[ $# -gt 0 ]]; do
  [[ "$1" =~ ^--(only|threads|max-wait|from|keep)$ && $# -lt 2 ]] && { echo "bf16_bakeoff.sh: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --only) only=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --max-wait) max_wait=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bf16_bakeoff.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for v in $(env | grep -oE '^(OPENBLAS|GOTO|BLIS|LIBXSMM|ONEDNN|DNNL|MKL|OMP|KMP|GOMP)_[A-Z0-9_]*' || true); do unset "$v"; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(--threads "$threads" --max-wait "$max_wait")
[[ -n "$only" ]] && args+=(--only "$only")
cpu=$(lscpu | awk -F: '/^Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
echo "# $(date '+%Y-%m-%d %H:%M')  CPU: $cpu ($(nproc) cores), $(git log -1 --format='%h %s' | cut -c1-60), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "$from" ]]; then
  cp "$from/fp32" "$from/bf16" "$from/dnnl" "$tmp/"
  cp "$from/linear" "$tmp/linear" 2>/dev/null || : >"$tmp/linear"
  echo "# joined from $from: $(grep -m1 '^mnistlab ' "$tmp/fp32")"
else
  "$BIN_DIR/mnistlab_bench_conv_bakeoff" --auto-only "${args[@]}" >"$tmp/fp32"
  "$BIN_DIR/mnistlab_bench_conv_bakeoff" --isa avx512 --precision bf16 "${args[@]}" >"$tmp/bf16"
  "$BIN_DIR/mnistlab_bench_onednn_conv" --bf16 --no-check "${args[@]}" >"$tmp/dnnl"
  "$BIN_DIR/mnistlab_bench_bf16_linear" --threads "$threads" --max-wait "$max_wait" >"$tmp/linear"
fi
[[ -n "$keep" ]] && mkdir -p "$keep" && cp "$tmp/fp32" "$tmp/bf16" "$tmp/dnnl" "$tmp/linear" "$keep/"
{ grep -m1 '^oneDNN ' "$tmp/dnnl" || true; } | sed 's/^/# /'
bad=$(grep -c '^check .* BAD ' "$tmp/bf16" || true)
[[ "$bad" != 0 ]] && echo "# $bad bf16 route(s) failed their check:" && grep '^check .* BAD ' "$tmp/bf16"

for t in $threads; do
  echo
  awk -v t="t$t" '
    function passcol(   i) { for (i = 1; i <= NF; ++i) if ($i ~ /^(fwd_train|fwd_inf|bwd_wgt|bwd_data|bwd_both)$/) return i; return 0 }
    function namepart(j,   i, s) { s = $1; for (i = 2; i < j; ++i) s = s " " $i; return s }
    FNR == 1 { file++ }
    /^(#|check|mnistlab|oneDNN)/ { next }
    {
      j = passcol(); if (!j || $(j+1) != t) next
      name = namepart(j); pass = $(j); key = name SUBSEP pass
      if (!(name in seen)) { seen[name] = 1; order[++n] = name }
      if (file == 1) { f32[key] = $(j+2) + 0; ext[key] = $(j+7) + 0 }
      else if (file == 2) {
        if ($(j+8) == "auto") auto16[key] = $(j+2) + 0
        if ($(j+9) != "ok") next
        if (!(key in ours) || $(j+2) + 0 < ours[key]) { ours[key] = $(j+2) + 0; oid[key] = $(j+10) }
        if ($(j+7) + 0 > ext[key]) ext[key] = $(j+7) + 0
      }
      else if ($(j+2) == "plain") { dn[key] = $(j+3) + 0; dimpl[key] = $(j+9); if ($(j+8) + 0 > ext[key]) ext[key] = $(j+8) + 0 }
    }
    END {
      printf "-- %s thread%s: microseconds per call; fp32 = the defaults (Auto); ours = fastest of our bf16 routes; bf16 auto = what Bf16 dispatches;\n", substr(t, 2), (t == "t1" ? "" : "s")
      printf "   dnnl = oneDNN bf16 primitives on NCHW f32 tensors, reorders included;\n"
      printf "   bwd_data (ours) = bwd_both - bwd_wgt; * = other processes used > 0.15 cores during a measurement\n"
      printf "%-46s %-9s %9s %9s %9s %9s  %s\n", "shape", "pass", "fp32", "ours", "bf16 auto", "dnnl", "winner (x fp32), our fastest route, dnnl impl"
      for (k = 1; k <= n; ++k) {
        name = order[k]
        for (p = 1; p <= 4; ++p) {
          pass = p == 1 ? "fwd_train" : p == 2 ? "fwd_inf" : p == 3 ? "bwd_data" : "bwd_wgt"
          key = name SUBSEP pass
          if (!(key in f32)) continue
          o = (key in ours) ? ours[key] : 1e30; d = (key in dn) ? dn[key] : 1e30
          best = o <= d ? "ours" : "dnnl"; star = ext[key] > 0.15 ? "*" : " "
          printf "%-46s %-9s %9.1f %9s %9s %9s %s %s x%.2f, %s, %s\n", name, pass, f32[key], (key in ours) ? sprintf("%9.1f", o) : "-",
                 (key in auto16) ? sprintf("%9.1f", auto16[key]) : "-", (key in dn) ? sprintf("%9.1f", d) : "-",
                 star, best, f32[key] / (o <= d ? o : d), (key in oid) ? oid[key] : "-", (key in dimpl) ? dimpl[key] : "-"
        }
      }
    }' "$tmp/fp32" "$tmp/bf16" "$tmp/dnnl"
done
echo
cat "$tmp/linear"
