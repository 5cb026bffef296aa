#pragma once
// The eval epilogue folded into a convolution's weights and bias:
// (conv(x, W) + b) * scale + shift = conv(x, W * scale) + (b * scale + shift)
// per output channel, so a BatchNorm2d after the convolution costs no pass
// over its output (kernels/backend.h, ChannelAffine).
#include <cstddef>

#include "kernels/backend.h"

namespace mnistlab::cpu {

// folded[co] = bias[co] * scale[co] + shift[co] (missing parts: 0 or 1);
// returns null when there is nothing to add.
inline const float* fold_bias(const float* bias, const ChannelAffine& a, int cout, float* folded) {
  if (!bias && !a.shift) return nullptr;
  for (int co = 0; co < cout; ++co)
    folded[co] = (bias ? bias[co] : 0.f) * (a.scale ? a.scale[co] : 1.f) + (a.shift ? a.shift[co] : 0.f);
  return folded;
}

// Rows of a weight [cout, per_row] multiplied by scale[row], in place.
inline void scale_rows(const ChannelAffine& a, int cout, size_t per_row, float* weight) {
  if (!a.scale) return;
  for (int co = 0; co < cout; ++co)
    for (size_t j = 0; j < per_row; ++j) weight[co * per_row + j] *= a.scale[co];
}

}  // namespace mnistlab::cpu
