#pragma once
// bfloat16: the top 16 bits of a float32 (sign, 8 exponent bits, 7 mantissa
// bits). Rounding is PyTorch's float -> bfloat16 conversion
// (c10::detail::round_to_nearest_even): round to nearest, ties to even, as
// an integer add on the float's bits, so infinities stay infinite, floats
// beyond bfloat16's largest round to infinity, denormals round like any
// other value, and every NaN becomes the quiet NaN 0x7FC0. Portable C++: the
// reference every vectorized conversion is tested against, on every CPU.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "kernels/cpu/cpu_info.h"

namespace mnistlab::cpu {

inline uint16_t bf16_bits(float f) {
  if (f != f) return 0x7FC0;
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// f rounded to the nearest bfloat16, as a float.
inline float round_bf16(float f) { return bf16_to_float(bf16_bits(f)); }

// Why this CPU (with kernels capped at max_isa) cannot run bfloat16
// convolutions and linear layers; empty when it can. Only CPUID's feature
// bits count (AVX512_BF16: leaf 7 subleaf 1 EAX bit 5; AMX-BF16: leaf 7 EDX
// bit 22), never the model.
std::string bf16_unsupported(const CpuInfo& cpu, std::optional<Isa> max_isa);

// Whether this CPU runs mnistlab's own bfloat16 kernels (vdpbf16ps).
inline bool runs_bf16_kernels() { return cpu_info().avx512_bf16; }

}  // namespace mnistlab::cpu
