#pragma once
// Unfold a chunk of images into columns so a convolution is one GEMM.
// col is [C*T, n*HO*WO] for the T active kernel taps: row c*T + t, column
// i*HO*WO + oh*WO + ow. With every tap active that is the order of a
// [Cout, Cin, KH, KW] weight flattened to [Cout, K].
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

  ConvGeometry() = default;
  ConvGeometry(int c, int h, int w, int kh, int kw, int stride, int pad);
  int ho() const { return (h + 2 * pad - kh) / stride + 1; }
  int wo() const { return (w + 2 * pad - kw) / stride + 1; }
  int k() const { return c * int(taps.size()); }
  bool all_taps() const { return int(taps.size()) == kh * kw; }
};

void im2col(int threads, const ConvGeometry& g, const float* x, int n, float* col);
// One image's columns for output rows [oh0, oh1) only: [C*T, (oh1-oh0)*WO],
// single-threaded (callers split the batch among threads).
void im2col_band(const ConvGeometry& g, const float* x, int oh0, int oh1, float* col);
// A weight [rows, kh*kw] restricted to the active taps: packed [rows, taps].
void pack_taps(const ConvGeometry& g, const float* weight, size_t rows, float* packed);
// The reverse for gradients: inactive taps get exactly zero.
void unpack_taps(const ConvGeometry& g, const float* packed, size_t rows, float* weight);
// Overwrites dx (n images) with the sum of the column entries that came from each pixel.
void col2im(int threads, const ConvGeometry& g, const float* col, int n, float* dx);

}  // namespace mnistlab::cpu
