#pragma once
#include <cstddef>
#include <cstdint>

namespace mnistlab::cpu {

void relu_forward(int threads, const float* x, size_t count, float* y);
// dx = dy where the output was positive, else 0 (y may alias x's storage).
void relu_backward(int threads, const float* y, const float* dy, size_t count, float* dx);

// y = 1 / (1 + exp(-x)); dx = dy * y * (1 - y)
void sigmoid_forward(int threads, const float* x, size_t count, float* y);
void sigmoid_backward(int threads, const float* y, const float* dy, size_t count, float* dx);
// y = tanh(x); dx = dy * (1 - y^2)
void tanh_forward(int threads, const float* x, size_t count, float* y);
void tanh_backward(int threads, const float* y, const float* dy, size_t count, float* dx);
// GELU (PyTorch's approximate='none'): y = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2;
// dx = dy * (Phi(x) + x * phi(x)), phi the standard normal density.
void gelu_forward(int threads, const float* x, size_t count, float* y);
void gelu_backward(int threads, const float* x, const float* dy, size_t count, float* dx);
// SiLU: y = x * s, s = 1 / (1 + exp(-x)); dx = dy * s * (1 + x * (1 - s)).
void silu_forward(int threads, const float* x, size_t count, float* y);
void silu_backward(int threads, const float* x, const float* dy, size_t count, float* dx);
// LeakyReLU: y = x > 0 ? x : slope * x; dx = x > 0 ? dy : slope * dy (PyTorch's, at 0 too).
void leaky_relu_forward(int threads, float slope, const float* x, size_t count, float* y);
void leaky_relu_backward(int threads, float slope, const float* x, const float* dy, size_t count, float* dx);

// m[i][j] += v[j] for an [rows, cols] matrix (Linear's bias).
void add_to_rows(int threads, const float* v, int rows, int cols, float* m);
// out[j] = sum_i m[i][j] for an [rows, cols] matrix (Linear's bias gradient).
void sum_rows(int threads, const float* m, int rows, int cols, float* out);
// out[r] = sum_j m[r][j] (a convolution's bias gradient from [C, n*HW]).
void sum_cols(int threads, const float* m, int rows, long cols, float* out, bool accumulate);

// y = x * keep / (1 - p) with keep drawn from Bernoulli(1 - p) into mask.
void dropout_forward(int threads, const float* x, size_t count, float p, uint64_t seed, uint64_t first, float* mask,
                     float* y);
void multiply(int threads, const float* a, const float* b, size_t count, float* out);

}  // namespace mnistlab::cpu
