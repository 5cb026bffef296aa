#pragma once
// Row-major single-precision GEMM through CBLAS (OpenBLAS):
// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
namespace mnistlab::cpu {

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc);

// Threads used by BLAS and by the OpenMP loops of the kernels.
void set_num_threads(int threads);
int num_threads();

}  // namespace mnistlab::cpu
