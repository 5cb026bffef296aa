// What bfloat16 can gain on this core at most: the rate of vdpbf16ps
// (16 lanes x 2 products) against vfmadd231ps (16 lanes x 1 product), with
// 16 independent accumulators and operands in registers, so neither memory
// nor latency limits either. bench/bf16_bound.sh turns the ratio into an
// upper bound on a whole step's bf16 / fp32 speed-up.
#include <immintrin.h>

#include <chrono>
#include <cstdio>

#include "kernels/cpu/cpu_info.h"

namespace {

constexpr int kAccumulators = 16;
constexpr long kIterations = 50'000'000;

template <typename Body>
double gflops(double flops_per_iteration, Body body) {
  double best = 0;
  for (int run = 0; run < 3; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, kIterations * flops_per_iteration / s / 1e9);
  }
  return best;
}

// (GCC 12's _mm512_reduce_add_ps warns of an uninitialized register.)
float lane_sum(const __m512 (&acc)[kAccumulators]) {
  alignas(64) float lanes[16];
  float sum = 0;
  for (const auto& a : acc) {
    _mm512_store_ps(lanes, a);
    for (float v : lanes) sum += v;
  }
  return sum;
}

float fma_run() {
  __m512 acc[kAccumulators];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512 b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < kIterations; ++i) {
    const __m512 a = _mm512_set1_ps(float(i & 7));
#pragma GCC unroll 16
    for (int r = 0; r < kAccumulators; ++r) acc[r] = _mm512_fmadd_ps(a, b, acc[r]);
    asm volatile("" : "+v"(b));  // keeps the loop from being folded
  }
  return lane_sum(acc);
}

float dot_run() {
  __m512 acc[kAccumulators];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512bh b = (__m512bh)_mm512_set1_epi32(0x33d633d6);  // two bfloat16 1e-7
  for (long i = 0; i < kIterations; ++i) {
    const __m512bh a = (__m512bh)_mm512_set1_epi32(int(i & 7) * 0x00010001);
#pragma GCC unroll 16
    for (int r = 0; r < kAccumulators; ++r) acc[r] = _mm512_dpbf16_ps(acc[r], a, b);
    asm volatile("" : "+v"(b));
  }
  return lane_sum(acc);
}

}  // namespace

int main() {
  const auto& cpu = mnistlab::cpu::cpu_info();
  if (!cpu.avx512_bf16) {
    std::printf("# %s has no AVX512_BF16\n", cpu.model.c_str());
    return 1;
  }
  volatile float sink = 0;
  const double fp32 = gflops(kAccumulators * 16 * 2, [&] { sink = sink + fma_run(); });
  const double bf16 = gflops(kAccumulators * 32 * 2, [&] { sink = sink + dot_run(); });
  std::printf("# %s, one thread, operands in registers\n", cpu.model.c_str());
  std::printf("fp32_fma_gflop_per_s %.1f\nbf16_dot_gflop_per_s %.1f\nratio %.2f\n", fp32, bf16, bf16 / fp32);
}
