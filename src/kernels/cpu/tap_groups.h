#pragma once
// Output pixels grouped by the kernel taps that see the image for them. On
// a small map most outputs are at an edge: a 3x3 kernel with padding 1 on a
// 2x2 map sees 4 of its 9 taps from every output, so unfolding all 9 taps
// multiplies 5 zeros for every 4 products (VGG-BN's 2x2 layers). Grouping the
// pixels by their tap set (corners, edges, interior) gives one exact GEMM
// per group: K = Cin * (the group's taps), N = the group's pixels x batch.
#include <vector>

#include "kernels/cpu/im2col.h"

namespace mnistlab::cpu {

struct TapGroup {
  std::vector<int> pixels;   // output pixels oh*wo + ow
  std::vector<int> taps;     // ki*kw + kj: the taps every pixel of the group sees the image with
  std::vector<int> offsets;  // [taps][pixels]: the input pixel ih*w + iw each tap reads
  int size() const { return int(pixels.size()); }
  int k(int channels) const { return channels * int(taps.size()); }
};

// Every output pixel in exactly one group; taps that see only padding for a
// pixel are in none of its group's taps.
std::vector<TapGroup> tap_groups(const ConvGeometry& g);

// The columns are pixel-major, one row per (image, pixel), so that every
// gather and scatter stays inside one image (NCHW): transposing the other
// way, [Cin*T, n*P], strides across the batch for every element and cost
// more than the GEMMs on VGG-BN's 2x2 maps.
//
// rows[i*P + p][c*T + t] = x[i][c][offsets[t][p]]: [n*P, Cin*T].
void gather_rows(int threads, const ConvGeometry& g, const TapGroup& group, const float* x, int n, float* rows);
// dx[i][c][offsets[t][p]] += rows[i*P + p][c*T + t] (the reverse, adding).
void scatter_rows_add(int threads, const ConvGeometry& g, const TapGroup& group, const float* rows, int n, float* dx);
// m[i*P + p][ch] = nchw[i][ch][pixels[p]] for `channels` channels of planes
// `plane` pixels long; and back (overwriting, plus bias[ch] when given).
void gather_pixels(int threads, const TapGroup& group, const float* nchw, int n, int channels, int plane, float* m);
void scatter_pixels(int threads, const TapGroup& group, const float* m, int n, int channels, int plane,
                    const float* bias, float* nchw);
// packed[row][c*T + t] = weight[row][c][taps[t]] for weights [rows, Cin, kh*kw].
void pack_group_weight(int threads, const ConvGeometry& g, const TapGroup& group, const float* weight, int rows,
                       float* packed);
// weight[row][c][taps[t]] += packed[row][c*T + t].
void unpack_group_weight_add(int threads, const ConvGeometry& g, const TapGroup& group, const float* packed, int rows,
                             float* weight);

}  // namespace mnistlab::cpu
