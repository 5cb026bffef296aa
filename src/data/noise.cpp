// Noise options; the noise itself is the backend's (Backend::add_noise,
// kernels/cpu/add_noise.cpp).
#include "mnistlab/noise.h"

#include "kernels/backend.h"
#include "mnistlab/error.h"

namespace mnistlab {

const char* noise_name(NoiseKind kind) { return name_of(kNoiseNames, kind); }

NoiseKind parse_noise(const std::string& name) { return parse_named(kNoiseNames, name, "noise"); }

NoiseOptions checked_noise(NoiseOptions o) {
  if (o.kind == NoiseKind::Uniform) {
    if (!o.amount) o.amount = 1.f;
    if (!(*o.amount > 0 && *o.amount <= 10))
      throw Error("uniform noise needs --noise-amount a in (0, 10] (U[0, a) is added), got " +
                  std::to_string(*o.amount));
  } else if (o.kind == NoiseKind::Gaussian) {
    if (!o.amount) o.amount = 0.1f;
    if (!(*o.amount > 0 && *o.amount <= 10))
      throw Error("gaussian noise needs --noise-amount sigma in (0, 10], got " + std::to_string(*o.amount));
  } else {
    if (!o.amount) o.amount = 0.1f;
    if (!(*o.amount > 0 && *o.amount <= 1))
      throw Error("salt-pepper noise needs --noise-amount p in (0, 1] (the share of pixels set to 0 or 1), got " +
                  std::to_string(*o.amount));
  }
  return o;
}

float noise_amount(const NoiseOptions& o) { return o.amount.value_or(0.f); }

void add_noise(const Backend& backend, const NoiseOptions& o, uint64_t seed, uint64_t first, const float* clean,
               size_t count, float* noisy) {
  backend.add_noise(o.kind, noise_amount(o), o.clip, seed, first, clean, count, noisy);
}

}  // namespace mnistlab
