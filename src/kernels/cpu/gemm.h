#pragma once
#include <string>

// Row-major single-precision GEMM (oneDNN's SGEMM) on up to `threads`
// threads (1 inside a parallel region):
// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
namespace mnistlab::cpu {

void gemm(int threads, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc);

// "oneDNN 2.6.3 sgemm (JIT, avx512_core)": the library and the kernel it runs here.
std::string gemm_provider();

}  // namespace mnistlab::cpu
