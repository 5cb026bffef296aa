#pragma once
// The 16 products of Winograd F(2x2, 3x3) (winograd.h) for one block of
// tiles, M[xi][co][t] = sum_ci U[xi][ci][co] V[xi][ci][t], in one translation
// unit per instruction set (winograd_products_{scalar,avx2,avx512}.cpp, each
// compiled for its level by CMakeLists.txt); winograd_conv3x3 calls the one
// its Winograd3x3 names.
//
// Those files share no inline function with code compiled for another level:
// the linker keeps one copy of an inline function for the whole program, and
// an AVX-512 copy reached from the scalar route would fault on a CPU without
// AVX-512. So the arguments are plain values and the loop below has internal
// linkage (each file compiles its own copy).
#include <cstddef>

namespace mnistlab::cpu {

// Product columns are computed in multiples of the level's tile columns (its
// narrowest kernel: one AVX register for AVX2, one 16-float zmm for AVX-512);
// the input transform fills V up to that multiple.
constexpr int kScalarTileCols = 8;
constexpr int kAvx2TileCols = 8;
constexpr int kAvx512TileCols = 16;

// No member initializers or functions: nothing here is an inline function.
struct WinogradProducts {
  int cin, cout;
  int cols;                    // columns of V and M per channel to compute, a multiple of the tile columns
  int ld;                      // floats from one channel's row of V (or M) to the next
  std::size_t v_step, m_step;  // floats from one of the 16 planes of V (or M) to the next
};

// u: U[16][cin][cout]; v: V[16][cin][ld]; m: M[16][cout][ld].
void winograd_products_scalar(const WinogradProducts& p, const float* u, const float* v, float* m);
void winograd_products_avx2(const WinogradProducts& p, const float* u, const float* v, float* m);
void winograd_products_avx512(const WinogradProducts& p, const float* u, const float* v, float* m);

namespace {

// m[r][0..C) = sum_ci u[ci][r] * v[ci][0..C) for r < rows, with u, v and m
// stepping ldu, ldv and ldm floats per channel or row.
using ProductBlock = void (*)(int cin, const float* u, int ldu, const float* v, int ldv, float* m, int ldm);

// The products of one block: columns in chunks of kWide (wide[rows]) while
// they last, then one of kWide / 2 (narrow[rows]); output channels in row
// blocks of at most kWideRows (kNarrowRows), as even as possible: 32 by 6 is
// 6+6+5+5+5+5 rather than 6*5+2, whose last block would wait on FMA latency.
template <int kWide, int kWideRows, int kNarrowRows>
void products_in_blocks(const WinogradProducts& p, const float* u, const float* v, float* m,
                        const ProductBlock (&wide)[kWideRows + 1], const ProductBlock (&narrow)[kNarrowRows + 1]) {
  for (int xi = 0; xi < 16; ++xi) {
    const float* uxi = u + std::size_t(xi) * p.cin * p.cout;
    const float* vxi = v + std::size_t(xi) * p.v_step;
    float* mxi = m + std::size_t(xi) * p.m_step;
    for (int t = 0; t < p.cols; t += kWide) {
      const bool is_wide = p.cols - t >= kWide;
      const ProductBlock* kernels = is_wide ? wide : narrow;
      const int max_rows = is_wide ? kWideRows : kNarrowRows;
      const int blocks = (p.cout + max_rows - 1) / max_rows, base = p.cout / blocks, extra = p.cout % blocks;
      for (int k = 0, co = 0; k < blocks; ++k) {
        const int rows = base + (k < extra);
        kernels[rows](p.cin, uxi + co, p.cout, vxi + t, p.ld, mxi + std::size_t(co) * p.ld + t, p.ld);
        co += rows;
      }
    }
  }
}

}  // namespace
}  // namespace mnistlab::cpu
