#pragma once
#include <cstddef>

// Per-channel sums and biases of NCHW tensors, and the threads' shares of a gradient.
namespace mnistlab::cpu {

// y[i][c][p] += bias[c]
void add_channel_bias(int threads, const float* bias, int n, int c, int hw, float* y);
// out[c] = sum over i, p of x[i][c][p] (a bias gradient from NCHW)
void channel_sums(int threads, const float* x, int n, int c, int hw, float* out);
// out[j] = sum over t < count of parts[t * stride + j], j < len, added in
// order of t: the per-thread shares of a gradient, summed the same way
// every time for a given thread count.
void sum_parts(const float* parts, int count, size_t stride, size_t len, float* out);

}  // namespace mnistlab::cpu
