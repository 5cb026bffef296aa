#pragma once
// The nearest bfloat16 to a float, from the definition rather than from
// kernels/cpu/bf16.h's integer trick: the two bfloat16 values around f
// (f's bits cut to 16 and the next one up in magnitude) compared in double,
// a tie going to the one whose last mantissa bit is 0; NaN is NaN.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace bf16_test {

inline float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline uint32_t to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float nearest_bf16(float f) {
  if (std::isnan(f) || std::isinf(f)) return f;
  const uint32_t down = to_bits(f) & 0xFFFF0000u;  // toward zero
  if (down == to_bits(f)) return f;
  const uint32_t up = down + 0x10000u;  // away from zero (past the largest finite: infinity)
  const double d_down = std::fabs(double(f) - double(from_bits(down)));
  // Infinity as the value "one step past the largest": 2^128 in magnitude.
  const double v_up = (up & 0x7FFFFFFFu) == 0x7F800000u ? std::copysign(std::ldexp(1.0, 128), f) : from_bits(up);
  const double d_up = std::fabs(double(f) - v_up);
  if (d_down < d_up) return from_bits(down);
  if (d_up < d_down) return from_bits(up);
  return ((down >> 16) & 1u) ? from_bits(up) : from_bits(down);
}

}  // namespace bf16_test
