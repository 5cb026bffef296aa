#include "kernels/cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

namespace mnistlab::cpu {

// OpenBLAS runs single-threaded and the OpenMP threads each multiply a slice
// of C. One thread pool instead of two: OpenBLAS's pthreads and OpenMP's
// workers would otherwise spin against each other on a 2-core machine (the
// first version of this file, with both pools, ran 2 threads slower than 1).
static void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                  int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
              lda, b, ldb, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc) {
  static const bool blas_single_threaded = (openblas_set_num_threads(1), true);
  (void)blas_single_threaded;
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

void set_num_threads(int threads) {
  openblas_set_num_threads(1);
  omp_set_num_threads(threads);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace mnistlab::cpu
