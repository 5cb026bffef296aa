// Noise for the denoising task (Backend::add_noise). A counter-based
// generator (SplitMix64 of seed and pixel index) gives each pixel its own
// random numbers without a sequential state.
#include <cmath>
#include <numbers>

#include "kernels/cpu/noise.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/splitmix.h"

namespace mnistlab::cpu {
namespace {

// Uniform in [0, 1) from the top 24 bits: every value is a float exactly.
float unit(uint64_t bits) { return float(bits >> 40) * (1.0f / 16777216.0f); }

}  // namespace

void add_noise(int threads, NoiseKind kind, float amount, bool clip, uint64_t seed, uint64_t first,
               const float* clean, size_t count, float* noisy) {
  const uint64_t stream = splitmix64(seed ^ 0x6E6F697365ull);  // "noise"
  const long n = long(count);
  parallel_for(threads, n, [&](long i) {
    const uint64_t r1 = splitmix64(stream + 2 * (first + uint64_t(i)));
    float v = clean[i];
    if (kind == NoiseKind::Uniform) {
      v += amount * unit(r1);
    } else if (kind == NoiseKind::Gaussian) {
      // Box-Muller; 1 - u keeps the logarithm finite.
      const float u1 = 1.f - unit(r1), u2 = unit(splitmix64(stream + 2 * (first + uint64_t(i)) + 1));
      v += amount * std::sqrt(-2.f * std::log(u1)) * std::cos(2.f * std::numbers::pi_v<float> * u2);
    } else if (unit(r1) < amount) {  // salt-pepper: half salt, half pepper
      v = (r1 & 1) ? 1.f : 0.f;
    }
    noisy[i] = clip ? std::fmin(std::fmax(v, 0.f), 1.f) : v;
  });
}

}  // namespace mnistlab::cpu
