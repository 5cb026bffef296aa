#pragma once
// SplitMix64: the counter-based generator of the random kernels (noise,
// dropout masks), so value i's draw is a function of (seed, i) alone and no
// thread count, batch cut or rank's share changes it.
#include <cstdint>

namespace mnistlab::cpu {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace mnistlab::cpu
