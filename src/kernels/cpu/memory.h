#pragma once
// The CPU backend's memory: host blocks, zero-filled, aligned for AVX-512
// loads, and the copies and fills within them.
#include <cstddef>
#include <memory>

#include "kernels/backend.h"

namespace mnistlab::cpu {

std::unique_ptr<Storage> allocate_host(size_t bytes);
void copy(int threads, const float* from, size_t count, float* to);
void fill(int threads, float value, size_t count, float* to);

}  // namespace mnistlab::cpu
