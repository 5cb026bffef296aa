#include "kernels/cpu/join.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>

namespace mnistlab::cpu {

void concat_samples(int threads, const float* a, size_t a_len, const float* b, size_t b_len, int n, float* y) {
  const size_t y_len = a_len + b_len;
  parallel_for(threads, n, [&](int s) {
    std::copy_n(a + s * a_len, a_len, y + s * y_len);
    std::copy_n(b + s * b_len, b_len, y + s * y_len + a_len);
  });
}

void split_samples_accumulate(int threads, const float* dy, size_t a_len, size_t b_len, int n, float* da, float* db) {
  const size_t y_len = a_len + b_len;
  parallel_for(threads, n, [&](int s) {
    const float* row = dy + s * y_len;
    if (da) std::copy_n(row, a_len, da + s * a_len);
    float* out = db + s * b_len;
    for (size_t i = 0; i < b_len; ++i) out[i] += row[a_len + i];
  });
}

void add(int threads, const float* a, const float* b, size_t count, float* out) {
  parallel_for(threads, count, [&](size_t i) { out[i] = a[i] + b[i]; });
}

void add_into(int threads, const float* x, size_t count, float* acc) {
  parallel_for(threads, count, [&](size_t i) { acc[i] += x[i]; });
}

}  // namespace mnistlab::cpu
