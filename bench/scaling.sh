#!/usr/bin/env bash
# Data-parallel scaling on this machine, in one run: for every preset,
# mnistlab as one process of 2 threads against 2 processes (mpirun) of 1
# thread each, the same global batch (build/bench/mnistlab_bench_throughput,
# which under mpirun trains as `mnistlab train` does: each rank its share of
# the batch, the gradients' sums of its slice of the parameters, its step of
# that slice, the slices traded: an allreduce in two halves); per step the
# time in those exchanges, the rest (compute) and the gradients' bytes. Then PyTorch's
# DistributedDataParallel (gloo, bench/pytorch_ddp.py) with the same 2 ranks
# x 1 thread on the networks it has, float32 and bf16 autocast (where the CPU
# has AVX512_BF16), each also with OMP_WAIT_POLICY=PASSIVE
# OPENBLAS_NUM_THREADS=1, the fastest counted. Last, a model of N-machine scaling
# from the 1-process compute time and the bytes: a ring allreduce sends
# 2 (N-1)/N of the gradients' bytes over each link, not overlapped with the
# backward pass.
#
#   bench/scaling.sh                  every row, 3 repeats of 10 steps
#   bench/scaling.sh --only "vgg-bn"  some presets
#   bench/scaling.sh --steps 20 --repeats 5
#   bench/scaling.sh --precision bf16 mnistlab in bf16 (where the CPU has AVX512_BF16)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=/usr/bin/python3
BIN=${MNISTLAB_BENCH_DIR:-build/bench}/mnistlab_bench_throughput
steps=10
repeats=3
only=""
precision=fp32
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --precision) precision="$2"; shift 2 ;;
    *) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
[[ -x $BIN ]] || { echo "scaling.sh: $BIN missing: build first (scripts/build.sh)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "scaling.sh: no mpirun: scripts/install-packages.sh installs Open MPI" >&2; exit 1; }
# The product reads no such variable; the benchmarks run in the default environment.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
mpirun=(mpirun --oversubscribe -np 2)
[[ $(id -u) -eq 0 ]] && mpirun+=(--allow-run-as-root)
bf16=no
grep -qw avx512_bf16 /proc/cpuinfo && bf16=yes

# preset task batch data pytorch-has-it
rows=("baseline train 64 data/mnist yes"
      "vgg-bn train 64 data/fashion-mnist yes"
      "fast train 64 data/mnist yes"
      "best-mnist train 128 data/mnist no"
      "best-fashion train 128 data/fashion-mnist no"
      "dae denoise 300 data/fashion-mnist yes"
      "dae-unet denoise 300 data/fashion-mnist no")

value() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2"; }
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(mpirun --version | head -1)"
echo "# mnistlab $precision; $steps steps x $repeats repeats; images/s of the global batch; PyTorch: DDP gloo, 2 ranks x 1 thread, best of fp32 and bf16 autocast (bf16 here: $bf16), each also with OMP_WAIT_POLICY=PASSIVE"
printf '%-13s %-8s %6s %10s %10s %8s %11s %11s %10s %10s %8s\n' preset task batch "1x2 img/s" "2x1 img/s" "2x1/1x2" "allred ms" "compute ms" "MB/step" "DDP img/s" "ours/DDP"
model_rows=()
for row in "${rows[@]}"; do
  read -r preset task batch data pytorch <<<"$row"
  [[ -n $only && " $only " != *" $preset "* ]] && continue
  common=(--task "$task" --model "$preset" --batch-size "$batch" --data-dir "$data" --steps "$steps" --repeats "$repeats"
          --warmup 3 --precision "$precision")
  one=$("$BIN" "${common[@]}" --threads 2 2>/dev/null)
  two=$("${mpirun[@]}" "$BIN" "${common[@]}" --threads 1 2>/dev/null)
  ddp="n/a"
  ratio="n/a"
  if [[ $pytorch == yes ]]; then
    best=0
    for variant in none bf16 none+passive bf16+passive; do
      mode=${variant%+passive}
      [[ $mode == bf16 && $bf16 == no ]] && continue
      envs=()
      [[ $variant == *+passive ]] && envs=(OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1)
      r=$(env "${envs[@]}" "$PYTHON" bench/pytorch_ddp.py --task "$task" --model "$preset" --batch-size "$batch" \
            --data-dir "$data" --ranks 2 --threads 1 --steps "$steps" --repeats "$repeats" --warmup 3 \
            --autocast "$mode" 2>/dev/null | awk '$1 == "images_per_s" { print $2 }')
      best=$(awk -v a="$best" -v b="${r:-0}" 'BEGIN { print (b > a) ? b : a }')
    done
    ddp=$best
    ratio=$(awk -v a="$(value images_per_s "$two")" -v b="$ddp" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
  fi
  i1=$(value images_per_s "$one"); i2=$(value images_per_s "$two")
  printf '%-13s %-8s %6s %10s %10s %8s %11s %11s %10s %10s %8s\n' "$preset" "$task" "$batch" "$i1" "$i2" \
    "$(awk -v a="$i2" -v b="$i1" 'BEGIN { printf "%.2f", a / b }')" "$(value allreduce_ms_per_step "$two")" \
    "$(value compute_ms_per_step "$two")" \
    "$(awk -v b="$(value bytes_reduced_per_step "$two")" 'BEGIN { printf "%.1f", b / 1e6 }')" "$ddp" "$ratio"
  model_rows+=("$preset $(value compute_ms_per_step "$one") $(value bytes_reduced_per_step "$one")")
done

echo
echo "# Model: N machines like this one (2 cores each), the global batch split N ways, one step ="
echo "# compute(1 machine) / N + 2 (N-1)/N x bytes / bandwidth; speedup over one machine (ideal: N)"
printf '%-13s %10s %8s' preset "compute ms" "MB"
for bw in 10 100; do for n in 2 4 8; do printf ' %9s' "${bw}G N=$n"; done; done
echo
for r in "${model_rows[@]}"; do
  read -r preset compute bytes <<<"$r"
  printf '%-13s %10s %8.1f' "$preset" "$compute" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')"
  for bw in 10 100; do
    for n in 2 4 8; do
      awk -v c="$compute" -v b="$bytes" -v g="$bw" -v n="$n" \
        'BEGIN { t = c / n + 1e3 * 2 * (n - 1) / n * b * 8 / (g * 1e9); printf " %9.2f", c / t }'
    done
  done
  echo
done
