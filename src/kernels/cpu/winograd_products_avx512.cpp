// Winograd products with AVX-512 (winograd_products.h): 16 columns (tiles)
// per zmm register, 32 registers.
//
// Register blocking: 32-column chunks take 14 output channels x 2 registers
// (28 accumulators, 2 registers of V and one broadcast of U: 31 of 32), two
// multiply-adds per broadcast; the 16-column chunk at the end of a block
// takes up to 28 channels x 1 register, its broadcasts folded into the
// multiply-adds as memory operands ({1to16}). bench/conv3x3 on AMD Zen 5
// (2 x 512-bit FMA per cycle): the 32-column kernel runs the products of
// 28x28 and 14x14 maps at about 250 GFLOP/s, the FMA peak, and the narrow
// one those of 7x7 maps at about 210. 12, 14 or 15 rows in the wide kernel
// and 14, 16 or 28 in the narrow one were within 3% of each other; 8 and 8
// were up to 10% slower on 7x7 and 4x4 maps.
#include <immintrin.h>

#include <utility>

#include "kernels/cpu/winograd_products.h"

namespace mnistlab::cpu {
namespace {

constexpr int kLanes = kAvx512TileCols;
constexpr int kWideRows = 14, kNarrowRows = 28;

// m[r][0..C) = sum_ci u[ci][r] * v[ci][0..C) for r < R, C = 16 or 32. The
// pragmas unroll every loop but the one over channels, so GCC keeps the
// accumulator array in registers (checked in the assembly: no spills).
template <int R, int C>
void product_block(int cin, const float* u, int ldu, const float* v, int ldv, float* m, int ldm) {
  constexpr int kRegs = C / kLanes;
  static_assert(kRegs * R <= 28);
  __m512 acc[R][kRegs];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < kRegs; ++j) acc[r][j] = _mm512_setzero_ps();
  for (int ci = 0; ci < cin; ++ci, u += ldu, v += ldv) {
    __m512 x[kRegs];
#pragma GCC unroll 2
    for (int j = 0; j < kRegs; ++j) x[j] = _mm512_loadu_ps(v + kLanes * j);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const __m512 b = _mm512_set1_ps(u[r]);
#pragma GCC unroll 2
      for (int j = 0; j < kRegs; ++j) acc[r][j] = _mm512_fmadd_ps(b, x[j], acc[r][j]);
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < kRegs; ++j) _mm512_storeu_ps(m + r * ldm + kLanes * j, acc[r][j]);
}

template <int C, class Rows>
struct Kernels;
template <int C, int... R>
struct Kernels<C, std::integer_sequence<int, R...>> {
  static constexpr ProductBlock by_rows[sizeof...(R) + 1] = {nullptr, product_block<R + 1, C>...};
};

}  // namespace

void winograd_products_avx512(const WinogradProducts& p, const float* u, const float* v, float* m) {
  products_in_blocks<2 * kLanes, kWideRows, kNarrowRows>(
      p, u, v, m, Kernels<2 * kLanes, std::make_integer_sequence<int, kWideRows>>::by_rows,
      Kernels<kLanes, std::make_integer_sequence<int, kNarrowRows>>::by_rows);
}

}  // namespace mnistlab::cpu
