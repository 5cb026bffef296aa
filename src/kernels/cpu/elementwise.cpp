#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu/lane_sums.h"

namespace mnistlab::cpu {

void relu_forward(int threads, const float* x, size_t count, float* y) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < count; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
}

void relu_backward(int threads, const float* y, const float* dy, size_t count, float* dx) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < count; ++i) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}

void sigmoid_forward(int threads, const float* x, size_t count, float* y) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < count; ++i) y[i] = 1.f / (1.f + std::exp(-x[i]));
}

void sigmoid_backward(int threads, const float* y, const float* dy, size_t count, float* dx) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < count; ++i) dx[i] = dy[i] * y[i] * (1.f - y[i]);
}

void tanh_forward(int threads, const float* x, size_t count, float* y) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < count; ++i) y[i] = std::tanh(x[i]);
}

void tanh_backward(int threads, const float* y, const float* dy, size_t count, float* dx) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < count; ++i) dx[i] = dy[i] * (1.f - y[i] * y[i]);
}

void add_to_rows(int threads, const float* v, int rows, int cols, float* m) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m[long(i) * cols + j] += v[j];
}

void sum_rows(int threads, const float* m, int rows, int cols, float* out) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int j = 0; j < cols; ++j) {
    float s = 0.f;
    for (int i = 0; i < rows; ++i) s += m[long(i) * cols + j];
    out[j] = s;
  }
}

void sum_cols(int threads, const float* m, int rows, long cols, float* out, bool accumulate) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int r = 0; r < rows; ++r) {
    const float* row = m + r * cols;
    double s = 0.0;
    for (long j = 0; j < cols; j += 1024) s += lane_sum(row + j, int(std::min(cols - j, 1024L)));
    out[r] = accumulate ? out[r] + float(s) : float(s);
  }
}

void dropout_forward(const float* x, size_t count, float p, uint64_t seed, float* mask, float* y) {
  // Serial on purpose: the mask depends only on the seed, not on the thread count.
  std::mt19937_64 rng(seed);
  const float scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
  const uint64_t threshold = uint64_t(double(p) * 18446744073709551616.0);
  for (size_t i = 0; i < count; ++i) {
    mask[i] = (p >= 1.f || rng() < threshold) ? 0.f : scale;
    y[i] = x[i] * mask[i];
  }
}

void multiply(int threads, const float* a, const float* b, size_t count, float* out) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < count; ++i) out[i] = a[i] * b[i];
}

}  // namespace mnistlab::cpu
