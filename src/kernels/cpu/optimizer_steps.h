#pragma once
// Kernels of the optimizers' steps (Backend::sgd_step, adam_step).
#include <bit>
#include <cstddef>
#include <cstdint>

#include "kernels/backend.h"

namespace mnistlab::cpu {

// A float's exponent bits: all ones only for NaN and +-inf, whatever the
// floating-point flags. The steps take their max over the gradients in the
// loop that reads them anyway: 0.2% (SGD) to 0.5% (Adam) of a baseline
// training step, where a pass of its own over them costs 1.6%.
constexpr uint32_t kNonFiniteExponent = 0x7f800000u;
inline uint32_t exponent_bits(float x) { return std::bit_cast<uint32_t>(x) & kNonFiniteExponent; }

bool sgd_step(int threads, const SgdStep& s, float* params, const float* grads, float* momentum_buffer,
              size_t count);
bool adam_step(int threads, const AdamStep& s, float* params, const float* grads, float* exp_avg, float* exp_avg_sq,
               size_t count);

}  // namespace mnistlab::cpu
