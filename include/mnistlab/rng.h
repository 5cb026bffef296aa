#pragma once
// Seeded random numbers; the same seed gives the same stream on every run.
#include <cstdint>
#include <random>

namespace mnistlab {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [lo, hi); built from the engine's bits, not std::uniform_real_distribution,
  // whose algorithm differs between standard libraries.
  float uniform(float lo, float hi) { return lo + (hi - lo) * float((engine_() >> 40) * 0x1.0p-24); }
  uint64_t next() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace mnistlab
