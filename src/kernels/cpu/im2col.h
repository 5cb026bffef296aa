#pragma once
// Unfold an image into columns so a convolution is one GEMM: col is
// [C*T, HO*WO] for the T active kernel taps, row c*T + t, column oh*WO + ow.
// With every tap active that is the order of a [Cout, Cin, KH, KW] weight
// flattened to [Cout, K]. (Small maps of a whole batch: tap_groups.h.)
#include <algorithm>
#include <cstddef>
#include <vector>

namespace mnistlab::cpu {

struct ConvGeometry {
  int c = 0, h = 0, w = 0;      // input channels and size
  int kh = 1, kw = 1;           // kernel
  int stride = 1, pad = 0;      // the same in both directions
  // Taps (ki*kw + kj) that see the image for at least one output. The rest
  // only ever see padding (a 3x3 kernel with padding 1 on a 1x1 image uses
  // only its centre): their columns would be zero, so they are left out.
  std::vector<int> taps;
  // Maps with rows shorter than a vector register (VGG-BN's 7x7, the
  // autoencoder's 7x7 and 14x14): per active tap, the input pixel each output
  // reads (-1: padding), so unfolding is one gather per tap instead of a
  // loop per row. Empty for wider maps, whose rows are copied whole.
  std::vector<int> offsets;

  ConvGeometry() = default;
  ConvGeometry(int c, int h, int w, int kh, int kw, int stride, int pad);
  int ho() const { return (h + 2 * pad - kh) / stride + 1; }
  int wo() const { return (w + 2 * pad - kw) / stride + 1; }
  int k() const { return c * int(taps.size()); }
  bool all_taps() const { return int(taps.size()) == kh * kw; }
};

// Output rows per band so that a band's columns (per_row floats a row) stay
// within `floats`: at least 1, at most `rows`.
inline int band_rows(size_t floats, size_t per_row, int rows) {
  return int(std::clamp<size_t>(floats / std::max<size_t>(per_row, 1), 1, size_t(std::max(rows, 1))));
}

// One image's columns for output rows [oh0, oh1) only: [C*T, (oh1-oh0)*WO],
// single-threaded (callers split the batch among threads).
void im2col_band(const ConvGeometry& g, const float* x, int oh0, int oh1, float* col);
// A weight [rows, kh*kw] restricted to the active taps: packed [rows, taps].
void pack_taps(const ConvGeometry& g, const float* weight, size_t rows, float* packed);
// The reverse for gradients: inactive taps get exactly zero.
void unpack_taps(const ConvGeometry& g, const float* packed, size_t rows, float* weight);
// Overwrites dx (one image) with the sum of the column entries that came
// from each pixel; single-threaded.
void col2im(const ConvGeometry& g, const float* col, float* dx);
// The same for the columns of output rows [oh0, oh1) (im2col_band's layout),
// added to dx: a whole image is the sum of its bands.
void col2im_band(const ConvGeometry& g, const float* col, int oh0, int oh1, float* dx);

}  // namespace mnistlab::cpu
