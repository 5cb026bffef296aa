#pragma once
// Unfold a chunk of images into columns so a convolution is one GEMM.
// col is [C*KH*KW, n*HO*WO]: row (c*KH + ki)*KW + kj, column i*HO*WO + oh*WO + ow,
// the same order as a [Cout, Cin, KH, KW] weight flattened to [Cout, K].
namespace mnistlab::cpu {

struct ConvGeometry {
  int c, h, w;      // input channels and size
  int kh, kw;       // kernel
  int stride, pad;  // the same in both directions
  int ho() const { return (h + 2 * pad - kh) / stride + 1; }
  int wo() const { return (w + 2 * pad - kw) / stride + 1; }
  int k() const { return c * kh * kw; }
};

void im2col(const ConvGeometry& g, const float* x, int n, float* col);
// Overwrites dx (n images) with the sum of the column entries that came from each pixel.
void col2im(const ConvGeometry& g, const float* col, int n, float* dx);

}  // namespace mnistlab::cpu
