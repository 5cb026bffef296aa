#pragma once
// Moves between a GEMM's channel-major result [C, n*HW] and NCHW.
namespace mnistlab::cpu {

// y[i][c][p] = src[c][i*hw + p] + (bias ? bias[c] : 0)
void channels_to_nchw(const float* src, int n, int c, int hw, const float* bias, float* y);
// dst[c][i*hw + p] = x[i][c][p]
void nchw_to_channels(const float* x, int n, int c, int hw, float* dst);

}  // namespace mnistlab::cpu
