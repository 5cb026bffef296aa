#pragma once
// The kernel of Backend::add_noise.
#include <cstddef>
#include <cstdint>

#include "mnistlab/noise.h"

namespace mnistlab::cpu {

void add_noise(int threads, NoiseKind kind, float amount, bool clip, uint64_t seed, uint64_t first,
               const float* clean, size_t count, float* noisy);

}  // namespace mnistlab::cpu
