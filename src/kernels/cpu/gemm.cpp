#include "kernels/cpu/gemm.h"

#include <dnnl.h>
#include <omp.h>

#include <algorithm>

namespace mnistlab::cpu {

// oneDNN's SGEMM: JIT kernels for the widest instruction set CPUID reports
// (AVX-512, AVX2 or SSE4.1), on AMD as on Intel; OpenBLAS picks its kernels
// from a table of CPU models and falls back to SSE3 on models it does not
// know (bench/README.md). Inside an OpenMP parallel region oneDNN runs on the
// calling thread only, so each thread below multiplies its own slice of C.
static void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                  int ldb, float beta, float* c, int ldc) {
  dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const double flops = 2.0 * m * n * k;
  if (threads == 1 || flops < 4e6) {
    sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const bool split_n = n >= m;
  const int extent = split_n ? n : m;
  const int parts = std::min(threads, std::max(1, extent / 16));
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; ++part) {
    // Slices are multiples of 16 so each thread's kernel sees whole panels.
    const int per = (extent / parts + 15) / 16 * 16;
    const int begin = std::min(extent, part * per);
    const int end = part == parts - 1 ? extent : std::min(extent, begin + per);
    if (end <= begin) continue;
    if (split_n) {
      const float* bs = trans_b ? b + long(begin) * ldb : b + begin;
      sgemm(trans_a, trans_b, m, end - begin, k, alpha, a, lda, bs, ldb, beta, c + begin, ldc);
    } else {
      const float* as = trans_a ? a + begin : a + long(begin) * lda;
      sgemm(trans_a, trans_b, end - begin, n, k, alpha, as, lda, b, ldb, beta, c + long(begin) * ldc, ldc);
    }
  }
}

void set_num_threads(int threads) { omp_set_num_threads(threads); }

int num_threads() { return omp_get_max_threads(); }

}  // namespace mnistlab::cpu
