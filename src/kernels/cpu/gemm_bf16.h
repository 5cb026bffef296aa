#pragma once
// Row-major GEMM with bfloat16 products and float32 accumulation, for
// convolutions and linear layers at Precision::Bf16 (PyTorch's CPU autocast):
// C[M,N] = op(A)[M,K] * op(B)[K,N] + beta * C, where A and B are float32 in
// memory and each element is rounded to bfloat16 (kernels/cpu/bf16.h,
// PyTorch's rounding) as it is packed, then multiplied pairwise by
// vdpbf16ps into float32 sums. AVX512_BF16 only (runs_bf16_kernels()).
//
// No allocation: the packed panels live on the calling thread's stack (a
// fixed 144 KiB). `threads` splits the larger of M and N (1 inside a
// parallel region).
#include "kernels/cpu/gemm.h"
#include "mnistlab/backend.h"

namespace mnistlab::cpu {

void gemm_bf16(int threads, bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda, const float* b,
               int ldb, float beta, float* c, int ldc);

// Round `count` floats to bfloat16 values held in floats (vectorized where
// the CPU has AVX-512; the same results as round_bf16 everywhere).
void round_bf16_floats(const float* x, size_t count, float* out);

// A layer's GEMM (alpha 1) at the backend's precision.
inline void matmul(Precision precision, int threads, bool trans_a, bool trans_b, int m, int n, int k, const float* a,
                   int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (precision == Precision::Bf16)
    gemm_bf16(threads, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
  else
    gemm(threads, trans_a, trans_b, m, n, k, 1.f, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace mnistlab::cpu
