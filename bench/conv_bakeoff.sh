#!/usr/bin/env bash
# Convolution bake-off, joined: mnistlab's own routes (mnistlab_bench_conv_bakeoff)
# against oneDNN's primitives (mnistlab_bench_onednn_conv) on every Conv2d /
# ConvTranspose2d shape of the presets (bench/conv_shapes.h), in the default
# environment (variables that steer a library's choice of kernels are removed,
# as a user's machine does not have them). Prints one table per thread count:
# per shape and pass, our fastest route and its time, the time of the route
# the defaults pick (Auto), oneDNN's time on plain NCHW tensors with its
# reorders and its implementation, and which wins by how much.
#
#   bench/conv_bakeoff.sh                          everything, 1 and 2 threads (about 20 min on a quiet machine)
#   bench/conv_bakeoff.sh --only vgg-bn.L3 --threads 2
#   bench/conv_bakeoff.sh --onednn bench/results/onednn_conv.txt   reuse a saved oneDNN run
#
# Options: --only SUBSTRING, --threads "1 2", --max-wait S (per measurement,
# for a quiet machine; default 30), --ours FILE / --onednn FILE (use a saved
# run's output instead of running that program), --raw (print both programs'
# output too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN_DIR=${MNISTLAB_BENCH_DIR:-build/bench}
only="" threads="1 2" max_wait="" ours_file="" onednn_file="" raw=0
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  [[ "$1" =~ ^--(only|threads|max-wait|ours|onednn)$ && $# -lt 2 ]] && { echo "conv_bakeoff.sh: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --only) only=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --max-wait) max_wait=$2; shift 2 ;;
    --ours) ours_file=$2; shift 2 ;;
    --onednn) onednn_file=$2; shift 2 ;;
    --raw) raw=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "conv_bakeoff.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
for v in $(env | grep -oE '^(OPENBLAS|GOTO|BLIS|LIBXSMM|ONEDNN|DNNL|MKL|OMP|KMP|GOMP)_[A-Z0-9_]*' || true); do unset "$v"; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(--threads "$threads")
[[ -n "$only" ]] && args+=(--only "$only")
[[ -n "$max_wait" ]] && args+=(--max-wait "$max_wait")
cpu=$(lscpu | awk -F: '/^Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
echo "# $(date '+%Y-%m-%d %H:%M')  CPU: $cpu ($(nproc) cores), $(git log -1 --format='%h %s' | cut -c1-60)"
if [[ -n "$ours_file" ]]; then cp "$ours_file" "$tmp/ours"; else "$BIN_DIR/mnistlab_bench_conv_bakeoff" "${args[@]}" >"$tmp/ours"; fi
if [[ -n "$onednn_file" ]]; then cp "$onednn_file" "$tmp/onednn"; else "$BIN_DIR/mnistlab_bench_onednn_conv" "${args[@]}" >"$tmp/onednn"; fi
[[ $raw -eq 1 ]] && cat "$tmp/ours" "$tmp/onednn"
grep -m1 '^mnistlab ' "$tmp/ours" | sed 's/^/# /'
grep -m1 '^oneDNN ' "$tmp/onednn" | sed 's/^/# /'
[[ -n "$onednn_file" ]] && echo "# oneDNN times from $onednn_file (another run: compare with care)"
bad=$(grep -c '^check .* BAD ' "$tmp/ours" || true)
[[ "$bad" != 0 ]] && echo "# $bad route(s) failed their check (left out of the contest):" && grep '^check .* BAD ' "$tmp/ours"

for t in $threads; do
  echo
  awk -v t="t$t" -v only="$only" '
    function passcol(   i) { for (i = 1; i <= NF; ++i) if ($i ~ /^(fwd_train|fwd_inf|bwd_wgt|bwd_data|bwd_both)$/) return i; return 0 }
    function namepart(j,   i, s) { s = $1; for (i = 2; i < j; ++i) s = s " " $i; return s }
    function shortimpl(s) { sub(/:(avx|sse)[a-z0-9_]*$/, "", s); return s }
    FNR == 1 { file++ }
    /^(#|check|mnistlab|oneDNN)/ { next }
    {
      j = passcol(); if (!j || $(j+1) != t) next
      name = namepart(j); pass = $(j); if (only != "" && index(name, only) == 0) next
      key = name SUBSEP pass
      if (!(name in seen)) { seen[name] = 1; order[++n] = name }
      if (file == 1) {  # ours: NAME PASS tT US us GF GF/s ext E MARK CHECK ROUTE
        us = $(j+2) + 0; ext = $(j+7); route = $(j+10)
        if ($(j+8) == "auto") { auto_us[key] = us; auto_id[key] = route }
        if ($(j+9) != "ok") next
        if (!(key in best_us) || us < best_us[key]) { best_us[key] = us; best_id[key] = route; best_ext[key] = ext }
      } else {          # oneDNN: NAME PASS tT plain|blocked US us GF GF/s ext E IMPL HOW...
        if ($(j+2) == "unimplemented" || $(j+3) == "unimplemented") next
        if ($(j+2) == "plain") { d_us[key] = $(j+3) + 0; d_impl[key] = shortimpl($(j+9)) " " $(j+11); d_ext[key] = $(j+8) }
        else d_blk[key] = $(j+3) + 0
      }
    }
    END {
      printf "-- %s thread%s: microseconds per call; ours = fastest of our routes that passed the check; auto = the defaults\x27 route;\n", substr(t, 2), (t == "t1" ? "" : "s")
      printf "   dnnl = oneDNN on NCHW tensors, reorders included (blocked: its own formats, no reorders); bwd_data (ours) = bwd_both - bwd_wgt;\n"
      printf "   bwd_both = weight + input gradient (oneDNN: bwd_data + bwd_wgt); * = other processes used > 0.15 cores during a measurement\n"
      printf "%-46s %-9s %-30s %9s %9s %-27s %9s %9s  %s\n", "shape", "pass", "ours: fastest route", "us", "auto us", "auto route (if not fastest)", "dnnl us", "blocked", "winner, dnnl impl"
      for (k = 1; k <= n; ++k) {
        name = order[k]
        split(name, w, " "); split(w[1], nl, "."); layer = nl[2]; row = nl[1] " " w[length(w)]
        for (p = 1; p <= 5; ++p) {
          pass = p == 1 ? "fwd_train" : p == 2 ? "fwd_inf" : p == 3 ? "bwd_data" : p == 4 ? "bwd_wgt" : "bwd_both"
          key = name SUBSEP pass
          if (pass == "bwd_both") {
            kd = name SUBSEP "bwd_data"; kw = name SUBSEP "bwd_wgt"
            if ((kd in d_us) && (kw in d_us)) { d_us[key] = d_us[kd] + d_us[kw]; d_impl[key] = "(bwd_data + bwd_wgt)"; d_ext[key] = (d_ext[kd] > d_ext[kw] ? d_ext[kd] : d_ext[kw]) }
            if ((kd in d_blk) && (kw in d_blk)) d_blk[key] = d_blk[kd] + d_blk[kw]
          }
          if (!(key in best_us) && !(key in d_us)) continue
          b = (key in best_us) ? sprintf("%9.1f", best_us[key]) : sprintf("%9s", "-")
          a = (key in auto_us) ? sprintf("%9.1f", auto_us[key]) : sprintf("%9s", "-")
          aid = (key in auto_id) && auto_id[key] != best_id[key] ? auto_id[key] : ""
          d = (key in d_us) ? sprintf("%9.1f", d_us[key]) : sprintf("%9s", "-")
          bl = (key in d_blk) ? sprintf("%9.1f", d_blk[key]) : sprintf("%9s", "-")
          win = "-"
          if ((key in best_us) && (key in d_us) && best_us[key] > 0)
            win = best_us[key] <= d_us[key] ? sprintf("ours x%.2f", d_us[key] / best_us[key]) : sprintf("dnnl x%.2f", best_us[key] / d_us[key])
          else if ((key in best_us) && (key in d_us)) win = "ours (<=0)"
          star = (best_ext[key] > 0.15 || d_ext[key] > 0.15) ? "*" : " "
          printf "%-46s %-9s %-30s %s %s %-27s %s %s %s%s, %s\n", name, pass, (key in best_id ? best_id[key] : "-"), b, a, aid, d, bl, star, win, (key in d_impl ? d_impl[key] : "-")
          # Totals per network row: what a step runs (training: fwd_train + bwd_both, without L1 input gradient).
          # (only where both sides have the pass).
          if (pass == "fwd_train" || pass == "fwd_inf" || (pass == "bwd_both" && layer != "L1") || (pass == "bwd_wgt" && layer == "L1")) {
            if (!(row in rows)) { rows[row] = 1; row_order[++nrows] = row }
            if ((key in best_us) && (key in auto_us) && (key in d_us)) {
              sum[row, "best"] += best_us[key]; sum[row, "auto"] += auto_us[key]; sum[row, "dnnl"] += d_us[key]
              sum[row, "blk"] += (key in d_blk) ? d_blk[key] : d_us[key]; ++count[row]
            } else ++missing[row]
          }
        }
      }
      printf "\nsums over the layers above (training: forward + weight and input gradients, L1 without its input gradient; ours fastest = per pass, an optimistic mix)\n"
      printf "%-20s %12s %12s %12s %12s\n", "row", "ours fastest", "ours auto", "dnnl plain", "dnnl blocked"
      for (q = 1; q <= nrows; ++q) {
        r = row_order[q]
        if (!count[r]) continue
        printf "%-20s %9.2f ms %9.2f ms %9.2f ms %9.2f ms  %d passes%s\n", r, sum[r, "best"] / 1e3, sum[r, "auto"] / 1e3,
               sum[r, "dnnl"] / 1e3, sum[r, "blk"] / 1e3, count[r], missing[r] ? sprintf(" (%d left out: one side has no time)", missing[r]) : ""
      }
    }' "$tmp/ours" "$tmp/onednn"
done
