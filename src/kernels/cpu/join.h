#pragma once
// Kernels of the skip-connection layers (Concat, Add).
#include <cstddef>

namespace mnistlab::cpu {

// Per sample s of n: y[s] = [a[s] (a_len floats), b[s] (b_len floats)],
// which is torch.cat on dim 1 of NCHW or [N, F] tensors.
void concat_samples(int threads, const float* a, size_t a_len, const float* b, size_t b_len, int n, float* y);
// The reverse for gradients: da[s] = first part of dy[s] (skipped when da is
// null), db[s] += second part.
void split_samples_accumulate(int threads, const float* dy, size_t a_len, size_t b_len, int n, float* da, float* db);

void add(int threads, const float* a, const float* b, size_t count, float* out);
void add_into(int threads, const float* x, size_t count, float* acc);

}  // namespace mnistlab::cpu
