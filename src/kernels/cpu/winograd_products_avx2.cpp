// Winograd products with AVX2 and FMA (winograd_products.h): 8-float
// columns per register, 16 registers.
#include <immintrin.h>

#include <utility>

#include "kernels/cpu/winograd_products.h"

namespace mnistlab::cpu {
namespace {

constexpr int kMaxRows = 6;  // output channels per call of the kernel

// m[r][0..C) = sum_ci u[ci][r] * v[ci][0..C) for r < R, C = 8 or 16: a 6x16
// block keeps 12 accumulators, 2 loads and a broadcast in the 16 AVX registers.
template <int R, int C>
void product_block(int cin, const float* u, int ldu, const float* v, int ldv, float* m, int ldm) {
  static_assert(C == kAvx2TileCols || C == 2 * kAvx2TileCols);
  // Named accumulators: GCC keeps an array of them on the stack.
  const __m256 zero = _mm256_setzero_ps();
  __m256 a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero;
  __m256 a30 = zero, a31 = zero, a40 = zero, a41 = zero, a50 = zero, a51 = zero;
#define MNISTLAB_PRODUCT_ROW(r)                                        \
  if constexpr (R > r) {                                               \
    const __m256 b = _mm256_broadcast_ss(u + r);                       \
    a##r##0 = _mm256_fmadd_ps(b, v0, a##r##0);                         \
    if constexpr (C == 16) a##r##1 = _mm256_fmadd_ps(b, v1, a##r##1);  \
  }
  for (int ci = 0; ci < cin; ++ci, u += ldu, v += ldv) {
    const __m256 v0 = _mm256_loadu_ps(v);
    const __m256 v1 = C == 16 ? _mm256_loadu_ps(v + 8) : zero;
    MNISTLAB_PRODUCT_ROW(0)
    MNISTLAB_PRODUCT_ROW(1)
    MNISTLAB_PRODUCT_ROW(2)
    MNISTLAB_PRODUCT_ROW(3)
    MNISTLAB_PRODUCT_ROW(4)
    MNISTLAB_PRODUCT_ROW(5)
  }
#undef MNISTLAB_PRODUCT_ROW
  const __m256 acc[kMaxRows][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}};
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(m + r * ldm, acc[r][0]);
    if constexpr (C == 16) _mm256_storeu_ps(m + r * ldm + 8, acc[r][1]);
  }
}

template <int C, class Rows>
struct Kernels;
template <int C, int... R>
struct Kernels<C, std::integer_sequence<int, R...>> {
  static constexpr ProductBlock by_rows[sizeof...(R) + 1] = {nullptr, product_block<R + 1, C>...};
};
using Rows = std::make_integer_sequence<int, kMaxRows>;

}  // namespace

void winograd_products_avx2(const WinogradProducts& p, const float* u, const float* v, float* m) {
  products_in_blocks<2 * kAvx2TileCols, kMaxRows, kMaxRows>(p, u, v, m, Kernels<2 * kAvx2TileCols, Rows>::by_rows,
                                                            Kernels<kAvx2TileCols, Rows>::by_rows);
}

}  // namespace mnistlab::cpu
