// Winograd input and output transforms with AVX-512 (winograd_transforms.h).
//
// The plain C++ transforms (winograd.cpp) walk rows of 4 to 14 tiles with a
// stride of two columns: too short for 16-lane loops, so most of their work
// ran scalar, and on 28x28 maps they took as long as the AVX-512 products.
// Here one row of up to 16 tiles is one step of 16 lanes: masked loads read
// the image (zeros outside it, no padded copy), permutes split even and odd
// columns, and masked stores write only the tiles and pixels that exist.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/winograd_transforms.h"

namespace mnistlab::cpu {
namespace {

constexpr int kLanes = 16;

// Lanes lo <= lane < hi (either may lie outside 0..16).
__mmask16 lanes(int lo, int hi) {
  lo = lo < 0 ? 0 : lo > kLanes ? kLanes : lo;
  hi = hi < 0 ? 0 : hi > kLanes ? kLanes : hi;
  return __mmask16(((1u << hi) - 1) & ~((1u << lo) - 1));
}

// max(0, x), which keeps a NaN as winograd.cpp's std::max(x, 0.f) does.
// (The masked form: GCC 12 warns that _mm512_max_ps's own header reads an
// uninitialized value.)
__m512 relu_of(__m512 x) { return _mm512_mask_max_ps(x, __mmask16(0xffff), _mm512_setzero_ps(), x); }

// The image columns [0, w) among the four loads of deinterleave_row.
struct ColumnMasks {
  __mmask16 k[4];
  ColumnMasks(int tx0, int w) {
    const int c = 2 * tx0 - 1;
    k[0] = lanes(-c, w - c), k[1] = lanes(-c - kLanes, w - c - kLanes);
    k[2] = lanes(-c - 2, w - c - 2), k[3] = lanes(-c - 2 - kLanes, w - c - 2 - kLanes);
  }
};

// Four vectors: the four columns of a tile row's tiles, or four rows.
struct Four {
  __m512 x0, x1, x2, x3;
};

// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] applied to a, b, c, d.
__m512 bt0(__m512 a, __m512 c) { return _mm512_sub_ps(a, c); }
__m512 bt1(__m512 b, __m512 c) { return _mm512_add_ps(b, c); }
__m512 bt2(__m512 b, __m512 c) { return _mm512_sub_ps(c, b); }
__m512 bt3(__m512 b, __m512 d) { return _mm512_sub_ps(b, d); }

// For the tiles tx0 .. tx0+15 of a tile row, the four columns 2tx-1 .. 2tx+2
// of input row r (zeros outside the image): x0 and x2 from the even, x1 and
// x3 from the odd lanes of two pairs of loads, at columns 2tx0-1 and 2tx0+1.
Four deinterleave_row(const float* plane, int r, int h, int w, int tx0, const ColumnMasks& masks) {
  if (r < 0 || r >= h) return {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  // The address is formed as an integer: column 2tx0-1 may lie before the
  // array, which the masked-off lane never touches.
  const auto at = [&](int col) {
    return reinterpret_cast<const float*>(reinterpret_cast<std::uintptr_t>(plane) +
                                          (std::intptr_t(r) * w + col) * std::intptr_t(sizeof(float)));
  };
  const int col = 2 * tx0 - 1;
  const __m512 a0 = _mm512_maskz_loadu_ps(masks.k[0], at(col));
  const __m512 a1 = _mm512_maskz_loadu_ps(masks.k[1], at(col + kLanes));
  const __m512 b0 = _mm512_maskz_loadu_ps(masks.k[2], at(col + 2));
  const __m512 b1 = _mm512_maskz_loadu_ps(masks.k[3], at(col + 2 + kLanes));
  return {_mm512_permutex2var_ps(a0, even, a1), _mm512_permutex2var_ps(a0, odd, a1),
          _mm512_permutex2var_ps(b0, even, b1), _mm512_permutex2var_ps(b0, odd, b1)};
}

// V[4a+b] = sum_j B^T[b][j] e_a[j] for one a: four planes step floats apart.
void store_along(float* out, std::size_t step, __mmask16 k, const Four& e) {
  _mm512_mask_storeu_ps(out, k, bt0(e.x0, e.x2));
  _mm512_mask_storeu_ps(out + step, k, bt1(e.x1, e.x2));
  _mm512_mask_storeu_ps(out + 2 * step, k, bt2(e.x1, e.x2));
  _mm512_mask_storeu_ps(out + 3 * step, k, bt3(e.x1, e.x3));
}

}  // namespace

// Chunks of 16 tiles of a tile row at a time, down the block's rows of
// tiles: each input row is loaded once, the two it shares with the next row
// of tiles kept in registers. Then B^T down the four rows (e_a = sum_i
// B^T[a][i] d_i) and along the four columns, as winograd.cpp's down_rows and
// along_rows. The block's last row also fills the columns up to cols: the
// products read them (their results are dropped), and stale NaNs or
// denormals would slow them down.
void winograd_input_avx512(const WinogradTransform& g, const float* x, int ty0, int ty1, int cols, float* v) {
  const int tw = g.tiles_w, tiles = (ty1 - ty0) * tw;
  const std::size_t step = g.v_step;
  for (int ci = 0; ci < g.cin; ++ci) {
    const float* plane = x + std::size_t(ci) * g.h * g.w;
    float* vci = v + std::size_t(ci) * g.ld;
    for (int tx0 = 0; tx0 < tw; tx0 += kLanes) {
      const ColumnMasks masks(tx0, g.w);
      Four d0 = deinterleave_row(plane, 2 * ty0 - 1, g.h, g.w, tx0, masks);
      Four d1 = deinterleave_row(plane, 2 * ty0, g.h, g.w, tx0, masks);
      for (int ty = ty0; ty < ty1; ++ty) {
        const Four d2 = deinterleave_row(plane, 2 * ty + 1, g.h, g.w, tx0, masks);
        const Four d3 = deinterleave_row(plane, 2 * ty + 2, g.h, g.w, tx0, masks);
        // The last chunk of the block's last row takes the padding columns
        // that fit in its lanes (computed from columns past the image).
        const int first = (ty - ty0) * tw + tx0;
        const __mmask16 k = ty + 1 < ty1 ? lanes(0, tw - tx0) : lanes(0, cols - first);
        float* out = vci + first;
        store_along(out, step, k, {bt0(d0.x0, d2.x0), bt0(d0.x1, d2.x1), bt0(d0.x2, d2.x2), bt0(d0.x3, d2.x3)});
        store_along(out + 4 * step, step, k,
                    {bt1(d1.x0, d2.x0), bt1(d1.x1, d2.x1), bt1(d1.x2, d2.x2), bt1(d1.x3, d2.x3)});
        store_along(out + 8 * step, step, k,
                    {bt2(d1.x0, d2.x0), bt2(d1.x1, d2.x1), bt2(d1.x2, d2.x2), bt2(d1.x3, d2.x3)});
        store_along(out + 12 * step, step, k,
                    {bt3(d1.x0, d3.x0), bt3(d1.x1, d3.x1), bt3(d1.x2, d3.x2), bt3(d1.x3, d3.x3)});
        d0 = d2, d1 = d3;
      }
    }
    // Padding columns past the last chunk's lanes (cols - tiles < 16): zeros.
    const int covered = tiles - tw + (tw - 1) / kLanes * kLanes + kLanes;
    if (cols > covered)
      for (int xi = 0; xi < 16; ++xi)
        _mm512_mask_storeu_ps(vci + xi * step + covered, lanes(0, cols - covered), _mm512_setzero_ps());
  }
}

// Y = A^T M A for chunks of 16 tiles of a row, as winograd.cpp's
// tile_rows_out; the two output columns of each tile are interleaved by
// permutes into two rows of 32 pixels, stored up to the image's edge.
void winograd_output_avx512(const WinogradTransform& g, const float* m, int ty0, int ty1, const float* bias, bool relu,
                            float* y) {
  const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const int tw = g.tiles_w;
  const std::size_t step = g.m_step;
  for (int co = 0; co < g.cout; ++co) {
    const __m512 b = _mm512_set1_ps(bias ? bias[co] : 0.f);
    float* plane = y + std::size_t(co) * g.h * g.w;
    for (int ty = ty0; ty < ty1; ++ty) {
      const float* mrow = m + std::size_t(co) * g.ld + std::size_t(ty - ty0) * tw;
      for (int tx0 = 0; tx0 < tw; tx0 += kLanes) {
        const __mmask16 k = lanes(0, tw - tx0);
        __m512 s[2][4];
        for (int j = 0; j < 4; ++j) {
          const __m512 m0 = _mm512_maskz_loadu_ps(k, mrow + j * step + tx0);
          const __m512 m1 = _mm512_maskz_loadu_ps(k, mrow + (4 + j) * step + tx0);
          const __m512 m2 = _mm512_maskz_loadu_ps(k, mrow + (8 + j) * step + tx0);
          const __m512 m3 = _mm512_maskz_loadu_ps(k, mrow + (12 + j) * step + tx0);
          s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
          s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        for (int i = 0; i < 2; ++i) {
          const int r = 2 * ty + i;
          if (r >= g.h) break;
          __m512 left = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]), b);
          __m512 right = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]), b);
          if (relu) left = relu_of(left), right = relu_of(right);
          float* out = plane + std::size_t(r) * g.w + 2 * tx0;
          const int c = 2 * tx0;
          _mm512_mask_storeu_ps(out, lanes(0, g.w - c), _mm512_permutex2var_ps(left, low, right));
          if (g.w - c > kLanes)
            _mm512_mask_storeu_ps(out + kLanes, lanes(0, g.w - c - kLanes), _mm512_permutex2var_ps(left, high, right));
        }
      }
    }
  }
}

// T = A dy A^T for chunks of 16 tiles of a row, as winograd.cpp's
// output_gradient_transform: the two columns of each tile's two dy rows
// split into even and odd lanes by permutes, zeros past the image's edges.
void winograd_output_gradient_avx512(const WinogradTransform& g, const float* dy, int ty0, int ty1, float* t) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const int tw = g.tiles_w;
  const std::size_t step = g.m_step;
  const __m512 zero = _mm512_setzero_ps();
  for (int co = 0; co < g.cout; ++co) {
    const float* plane = dy + std::size_t(co) * g.h * g.w;
    for (int ty = ty0; ty < ty1; ++ty) {
      float* trow = t + std::size_t(co) * g.ld + std::size_t(ty - ty0) * tw;
      for (int tx0 = 0; tx0 < tw; tx0 += kLanes) {
        const int c = 2 * tx0;
        const __mmask16 k0 = lanes(0, g.w - c), k1 = lanes(0, g.w - c - kLanes);
        __m512 pq[2][2];  // [row][even, odd columns]
        for (int i = 0; i < 2; ++i) {
          const int r = 2 * ty + i;
          if (r >= g.h) {
            pq[i][0] = pq[i][1] = zero;
            continue;
          }
          const float* row = plane + std::size_t(r) * g.w + c;
          const __m512 lo = _mm512_maskz_loadu_ps(k0, row);
          const __m512 hi = g.w - c > kLanes ? _mm512_maskz_loadu_ps(k1, row + kLanes) : zero;
          pq[i][0] = _mm512_permutex2var_ps(lo, even, hi);
          pq[i][1] = _mm512_permutex2var_ps(lo, odd, hi);
        }
        const __m512 p = pq[0][0], q = pq[0][1], r = pq[1][0], s = pq[1][1];
        const __m512 a[4] = {p, _mm512_add_ps(p, q), _mm512_sub_ps(p, q), _mm512_sub_ps(zero, q)};
        const __m512 b[4] = {r, _mm512_add_ps(r, s), _mm512_sub_ps(r, s), _mm512_sub_ps(zero, s)};
        const __mmask16 k = lanes(0, tw - tx0);
        float* out = trow + tx0;
        for (int j = 0; j < 4; ++j) {
          _mm512_mask_storeu_ps(out + j * step, k, a[j]);
          _mm512_mask_storeu_ps(out + (4 + j) * step, k, _mm512_add_ps(a[j], b[j]));
          _mm512_mask_storeu_ps(out + (8 + j) * step, k, _mm512_sub_ps(a[j], b[j]));
          _mm512_mask_storeu_ps(out + (12 + j) * step, k, _mm512_sub_ps(zero, b[j]));
        }
      }
    }
  }
}

}  // namespace mnistlab::cpu
