#!/usr/bin/env bash
# GEMM bake-off: every single-precision GEMM shape of the course's networks
# through OpenBLAS, oneDNN, BLIS and libxsmm (build/bench/mnistlab_bench_gemm_*),
# on 1 and 2 threads, in the default environment: variables that steer a
# library's choice of kernels (OPENBLAS_CORETYPE, ...) are removed, as a
# user's machine does not have them. Prints GFLOP/s per shape and library.
#
#   bench/gemm_bakeoff.sh            the table (about 2 minutes)
#   bench/gemm_bakeoff.sh --raw      each program's own lines as well
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN_DIR=${MNISTLAB_BENCH_DIR:-build/bench}
raw=0
[[ "${1:-}" == "--raw" ]] && raw=1
for v in $(env | grep -oE '^(OPENBLAS|GOTO|BLIS|LIBXSMM|ONEDNN|DNNL)_[A-Z0-9_]*' || true); do unset "$v"; done

cpu=$(lscpu | awk -F: '/^Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
echo "# $(date '+%Y-%m-%d %H:%M')  CPU: $cpu ($(nproc) cores); default environment"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for p in openblas onednn blis libxsmm; do
  "$BIN_DIR/mnistlab_bench_gemm_$p" 1 2 >>"$out"
done
[[ $raw -eq 1 ]] && cat "$out"
grep '^#' "$out"
echo
printf '%-44s %-2s %17s  %9s %9s %9s %9s\n' shape op "M N K" openblas onednn blis libxsmm
for t in 1 2; do
  echo "-- $t thread$([[ $t == 1 ]] || echo s), GFLOP/s"
  awk -v t="$t" '
    $1 !~ /^#/ && $2 == t {
      name = ""; for (i = 3; i <= NF; ++i) { if ($i ~ /^[NT][NT]$/) break; name = name (name == "" ? "" : " ") $i }
      op = $i; dims = $(i+1) " " $(i+2) " " $(i+3); v = ($(i+4) == "n/a") ? "n/a" : $(i+4)
      key = name; if (!(key in seen)) { seen[key] = 1; order[++n] = key; ops[key] = op; dim[key] = dims }
      val[key, $1] = v
    }
    END {
      for (k = 1; k <= n; ++k) { key = order[k]
        printf "%-44s %-2s %17s  %9s %9s %9s %9s\n", key, ops[key], dim[key], val[key, "openblas"],
               val[key, "onednn"], val[key, "blis"], val[key, "libxsmm"] }
    }' "$out"
done
