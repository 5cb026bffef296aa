// Winograd products in plain C++ (winograd_products.h), compiled for the
// x86-64 baseline (SSE2): the route for CPUs without AVX2, tested on every
// machine.
#include <utility>

#include "kernels/cpu/winograd_products.h"

namespace mnistlab::cpu {
namespace {

// Output channels per call. bench/conv3x3 (AMD Zen 5): 4 rows ran the
// 8-column kernel 1.25x faster than 6, and the 16-column one as fast.
constexpr int kMaxRows = 4;

// m[r][0..C) = sum_ci u[ci][r] * v[ci][0..C) for r < R. Unrolled by hand
// (the pragmas) so that GCC's straight-line vectorizer turns each row into
// C / 4 SSE multiply-adds with the accumulators in registers; left as loops,
// GCC vectorized the channel loop instead, with shuffles and the
// accumulators on the stack, 3.5x slower.
template <int R, int C>
void product_block(int cin, const float* u, int ldu, const float* v, int ldv, float* m, int ldm) {
  float acc[R][C] = {};
  for (int ci = 0; ci < cin; ++ci, u += ldu, v += ldv)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const float b = u[r];
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) acc[r][j] += v[j] * b;
    }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < C; ++j) m[r * ldm + j] = acc[r][j];
}

template <int C, class Rows>
struct Kernels;
template <int C, int... R>
struct Kernels<C, std::integer_sequence<int, R...>> {
  static constexpr ProductBlock by_rows[sizeof...(R) + 1] = {nullptr, product_block<R + 1, C>...};
};
using Rows = std::make_integer_sequence<int, kMaxRows>;

}  // namespace

void winograd_products_scalar(const WinogradProducts& p, const float* u, const float* v, float* m) {
  products_in_blocks<2 * kScalarTileCols, kMaxRows, kMaxRows>(p, u, v, m, Kernels<2 * kScalarTileCols, Rows>::by_rows,
                                                              Kernels<kScalarTileCols, Rows>::by_rows);
}

}  // namespace mnistlab::cpu
