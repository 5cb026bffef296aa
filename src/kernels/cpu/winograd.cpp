#include "kernels/cpu/winograd.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/winograd_products.h"
#include "kernels/cpu/winograd_transforms.h"
#include "mnistlab/error.h"

namespace mnistlab::cpu {
namespace {

int round_up(int v, int m) { return (v + m - 1) / m * m; }

int tile_cols_for(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return kScalarTileCols;
    case Isa::Avx2: return kAvx2TileCols;
    case Isa::Avx512: return kAvx512TileCols;
  }
  return kScalarTileCols;
}

// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], first down the four input
// rows of a row of tiles, on whole rows: e_a = sum_i B^T[a][i] d_i.
// (restrict on parameters: GCC ignores it on local pointers and would not
// vectorize.)
void down_rows(const float* __restrict d0, const float* __restrict d1, const float* __restrict d2,
               const float* __restrict d3, int n, float* __restrict e0, float* __restrict e1, float* __restrict e2,
               float* __restrict e3) {
  for (int i = 0; i < n; ++i) {
    e0[i] = d0[i] - d2[i];
    e1[i] = d1[i] + d2[i];
    e2[i] = d2[i] - d1[i];
    e3[i] = d1[i] - d3[i];
  }
}

// Then along the rows: tile tx covers e_a[2tx .. 2tx+3] of each row padded
// with a zero on each side; V[4a+b][tx] = sum_j B^T[b][j] e_a[2tx + j],
// the 16 planes of V step floats apart.
void along_rows(const float* __restrict e, int padded, int n, float* __restrict v, size_t step) {
  for (int a = 0; a < 4; ++a, e += padded, v += 4 * step)
    for (int tx = 0; tx < n; ++tx) {
      const float c0 = e[2 * tx], c1 = e[2 * tx + 1], c2 = e[2 * tx + 2], c3 = e[2 * tx + 3];
      v[tx] = c0 - c2;
      v[step + tx] = c1 + c2;
      v[2 * step + tx] = c2 - c1;
      v[3 * step + tx] = c1 - c3;
    }
}

// V = B^T d B for the tiles of tile rows [ty0, ty1), a row of tiles at a
// time; rows above and below the image read a row of zeros.
void input_transform(const Winograd3x3& g, const float* x, int ty0, int ty1, int cols, float* v, float* work) {
  const int tw = g.tiles_w, padded = g.padded_row();
  float* zeros = work;
  float* e = work + padded;  // four padded rows; all but their columns 1..w stay zero
  std::fill(work, work + 5 * padded, 0.f);
  for (int ci = 0; ci < g.cin; ++ci) {
    const float* plane = x + size_t(ci) * g.h * g.w;
    for (int ty = ty0; ty < ty1; ++ty) {
      const float* d[4];
      for (int i = 0; i < 4; ++i) {
        const int r = 2 * ty - 1 + i;
        d[i] = r >= 0 && r < g.h ? plane + size_t(r) * g.w : zeros + 1;
      }
      down_rows(d[0], d[1], d[2], d[3], g.w, e + 1, e + padded + 1, e + 2 * padded + 1, e + 3 * padded + 1);
      // The block's last row also fills the columns up to cols, from the
      // zeros past the row's end: the products read them (their results
      // are dropped), and stale NaNs or denormals would slow them down.
      const int first = (ty - ty0) * tw, n = ty + 1 < ty1 ? tw : cols - first;
      along_rows(e, padded, n, v + size_t(ci) * g.block + first, g.v_step());
    }
  }
}

void products(const Winograd3x3& g, const float* u, const float* v, int cols, float* m) {
  const WinogradProducts p{g.cin, g.cout, cols, g.block, g.v_step(), g.m_step()};
  switch (g.isa) {
    case Isa::Scalar: return winograd_products_scalar(p, u, v, m);
    case Isa::Avx2: return winograd_products_avx2(p, u, v, m);
    case Isa::Avx512: return winograd_products_avx512(p, u, v, m);
  }
}

// Y = A^T M A with A^T = [1 1 1 0; 0 1 -1 -1] for a row of n tiles (the 16
// planes of M step floats apart), plus bias, clamped below by lower (0 for
// ReLU): the tiles' top and bottom output rows, two columns per tile.
void tile_rows_out(const float* __restrict m, size_t step, int n, float bias, float lower, float* __restrict top,
                   float* __restrict bottom) {
  for (int tx = 0; tx < n; ++tx) {
    float s[2][4];
    for (int b = 0; b < 4; ++b) {
      const float m0 = m[(0 + b) * step + tx], m1 = m[(4 + b) * step + tx];
      const float m2 = m[(8 + b) * step + tx], m3 = m[(12 + b) * step + tx];
      s[0][b] = m0 + m1 + m2;
      s[1][b] = m1 - m2 - m3;
    }
    top[2 * tx] = std::max(s[0][0] + s[0][1] + s[0][2] + bias, lower);
    top[2 * tx + 1] = std::max(s[0][1] - s[0][2] - s[0][3] + bias, lower);
    bottom[2 * tx] = std::max(s[1][0] + s[1][1] + s[1][2] + bias, lower);
    bottom[2 * tx + 1] = std::max(s[1][1] - s[1][2] - s[1][3] + bias, lower);
  }
}

// The output planes from M, a row of tiles at a time. Tiles hanging over the
// right or bottom edge (odd sizes) go through work, and only their pixels
// inside the image are copied.
void output_transform(const Winograd3x3& g, const float* m, int ty0, int ty1, const float* bias, bool relu,
                      float* work, float* y) {
  const int tw = g.tiles_w;
  const bool even_w = g.w % 2 == 0;
  float* top = work;
  float* bottom = work + 2 * tw;
  const float lower = relu ? 0.f : -std::numeric_limits<float>::infinity();
  for (int co = 0; co < g.cout; ++co) {
    const float b0 = bias ? bias[co] : 0.f;
    float* plane = y + size_t(co) * g.h * g.w;
    for (int ty = ty0; ty < ty1; ++ty) {
      float* row0 = plane + size_t(2 * ty) * g.w;
      const bool has_row1 = 2 * ty + 1 < g.h;
      const bool direct = even_w && has_row1;
      tile_rows_out(m + size_t(co) * g.block + size_t(ty - ty0) * tw, g.m_step(), tw, b0, lower,
                    direct ? row0 : top, direct ? row0 + g.w : bottom);
      if (direct) continue;
      std::memcpy(row0, top, sizeof(float) * g.w);
      if (has_row1) std::memcpy(row0 + g.w, bottom, sizeof(float) * g.w);
    }
  }
}

// T = A dy A^T with A = [1 0; 1 1; 1 -1; 0 -1] for the 2x2 tiles of dy in
// tile rows [ty0, ty1) (zeros past the edges of odd maps), laid out as the
// forward's M: T[4i+j][co][t], planes step floats apart.
void output_gradient_transform(const Winograd3x3& g, const float* dy, int ty0, int ty1, float* t) {
  const size_t step = g.m_step();
  const int tw = g.tiles_w;
  for (int co = 0; co < g.cout; ++co) {
    const float* plane = dy + size_t(co) * g.h * g.w;
    float* out = t + size_t(co) * g.block;
    for (int ty = ty0; ty < ty1; ++ty) {
      const float* row0 = plane + size_t(2 * ty) * g.w;
      const float* row1 = 2 * ty + 1 < g.h ? row0 + g.w : nullptr;
      float* o = out + size_t(ty - ty0) * tw;
      for (int tx = 0; tx < tw; ++tx) {
        const int c0 = 2 * tx;
        const bool c1 = c0 + 1 < g.w;
        const float p = row0[c0], q = c1 ? row0[c0 + 1] : 0.f;
        const float r = row1 ? row1[c0] : 0.f, s = row1 && c1 ? row1[c0 + 1] : 0.f;
        const float a[4] = {p, p + q, p - q, -q}, b[4] = {r, r + s, r - s, -s};
        for (int j = 0; j < 4; ++j) {
          o[j * step + tx] = a[j];
          o[(4 + j) * step + tx] = a[j] + b[j];
          o[(8 + j) * step + tx] = a[j] - b[j];
          o[(12 + j) * step + tx] = -b[j];
        }
      }
    }
  }
}

WinogradTransform transform_of(const Winograd3x3& g) {
  return {g.cin, g.cout, g.h, g.w, g.tiles_w, g.block, g.v_step(), g.m_step()};
}

// The input transform of tile rows [ty0, ty1). AVX-512's: bench/conv3x3
// measured it 3x faster than the plain one, whose rows of 4 to 14 tiles are
// too short for 16 lanes.
void input_block(const Winograd3x3& g, const float* x, int ty0, int ty1, int cols, float* v, float* rest) {
  if (g.isa == Isa::Avx512)
    winograd_input_avx512(transform_of(g), x, ty0, ty1, cols, v);
  else
    input_transform(g, x, ty0, ty1, cols, v, rest);
}

// fn(ty0, ty1, tiles, cols) for each block of tile rows; cols: tiles rounded
// up to the product kernel's width.
template <class Fn>
void for_each_block(const Winograd3x3& g, Fn fn) {
  for (int ty0 = 0; ty0 < g.tiles_h; ty0 += g.block_rows) {
    const int ty1 = std::min(g.tiles_h, ty0 + g.block_rows), tiles = (ty1 - ty0) * g.tiles_w;
    fn(ty0, ty1, tiles, round_up(tiles, g.tile_cols));
  }
}

}  // namespace

Winograd3x3::Winograd3x3(int cin_, int cout_, int h_, int w_, Isa isa_, size_t block_floats)
    : cin(cin_), cout(cout_), h(h_), w(w_), tiles_h((h_ + 1) / 2), tiles_w((w_ + 1) / 2), isa(isa_),
      tile_cols(tile_cols_for(isa_)) {
  if (!runs(isa))
    throw Error(std::string("Winograd3x3: this CPU does not run ") + isa_name(isa) + " code (its widest is " +
                isa_name(widest_isa()) + ")");
  // Whole rows of tiles per block, so every transform loop runs over whole
  // rows; of the block heights that fit, the one that pads the fewest
  // product columns (a multiple of tile_cols per block), the taller on ties.
  const int fits = std::clamp(int(block_floats / (size_t(16) * (cin + cout))) / tiles_w, 1, tiles_h);
  const auto columns = [&](int rows) { return long(round_up(rows * tiles_w, tile_cols)); };
  long best = -1;
  for (int rows = 1; rows <= fits; ++rows) {
    const long cols = tiles_h / rows * columns(rows) + (tiles_h % rows ? columns(tiles_h % rows) : 0);
    if (best < 0 || cols <= best) {
      best = cols;
      block_rows = rows;
    }
  }
  block = int(columns(block_rows));
}

size_t Winograd3x3::workspace_floats() const {
  const size_t transforms = 5 * size_t(padded_row());  // input: zeros and four padded rows; output: two rows
  return 16 * (v_step() + m_step()) + transforms;
}

// U = G g G^T with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
void winograd_weight(const Winograd3x3& g, const float* weight, float* u) {
  for (int co = 0; co < g.cout; ++co)
    for (int ci = 0; ci < g.cin; ++ci) {
      const float* k = weight + (size_t(co) * g.cin + ci) * 9;
      float t[4][3];  // G k
      for (int j = 0; j < 3; ++j) {
        t[0][j] = k[j];
        t[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
        t[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
        t[3][j] = k[6 + j];
      }
      for (int i = 0; i < 4; ++i) {
        const float r[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]),
                            t[i][2]};
        for (int j = 0; j < 4; ++j) u[(size_t(i * 4 + j) * g.cin + ci) * g.cout + co] = r[j];
      }
    }
}

void winograd_conv3x3(const Winograd3x3& g, const float* u, const float* x, const float* bias, bool relu,
                      float* y, float* work) {
  float* v = work;
  float* m = v + 16 * g.v_step();
  float* rest = m + 16 * g.m_step();
  for_each_block(g, [&](int ty0, int ty1, int, int cols) {
    input_block(g, x, ty0, ty1, cols, v, rest);
    products(g, u, v, cols, m);
    if (g.isa == Isa::Avx512)
      winograd_output_avx512(transform_of(g), m, ty0, ty1, bias, relu, y);
    else
      output_transform(g, m, ty0, ty1, bias, relu, rest, y);
  });
}

void winograd_weight_products(const Winograd3x3& g, const float* x, const float* dy, float* mgrad, float* work) {
  float* v = work;
  float* t = v + 16 * g.v_step();
  float* rest = t + 16 * g.m_step();
  for_each_block(g, [&](int ty0, int ty1, int tiles, int cols) {
    input_block(g, x, ty0, ty1, cols, v, rest);
    if (g.isa == Isa::Avx512)
      winograd_output_gradient_avx512(transform_of(g), dy, ty0, ty1, t);
    else
      output_gradient_transform(g, dy, ty0, ty1, t);
    for (int xi = 0; xi < 16; ++xi)
      gemm(1, false, true, g.cout, g.cin, tiles, 1.f, t + xi * g.m_step(), g.block, v + xi * g.v_step(), g.block, 1.f,
           mgrad + size_t(xi) * g.cout * g.cin, g.cin);
  });
}

// G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1] on both sides of each 4x4 M.
void winograd_weight_gradient(const Winograd3x3& g, const float* mgrad, float* dweight) {
  const size_t plane = size_t(g.cout) * g.cin;
  for (int co = 0; co < g.cout; ++co)
    for (int ci = 0; ci < g.cin; ++ci) {
      const size_t at = size_t(co) * g.cin + ci;
      float m[4][4];
      for (int xi = 0; xi < 16; ++xi) m[xi / 4][xi % 4] = mgrad[xi * plane + at];
      float t[3][4];  // G^T M
      for (int j = 0; j < 4; ++j) {
        const float half_sum = 0.5f * (m[1][j] + m[2][j]);
        t[0][j] = m[0][j] + half_sum;
        t[1][j] = 0.5f * (m[1][j] - m[2][j]);
        t[2][j] = half_sum + m[3][j];
      }
      float* k = dweight + at * 9;
      for (int i = 0; i < 3; ++i) {
        const float half_sum = 0.5f * (t[i][1] + t[i][2]);
        k[3 * i] = t[i][0] + half_sum;
        k[3 * i + 1] = 0.5f * (t[i][1] - t[i][2]);
        k[3 * i + 2] = half_sum + t[i][3];
      }
    }
}

}  // namespace mnistlab::cpu
