#pragma once
// "Noisy Fashion-MNIST": noise added to clean images in [0, 1]. Every noisy
// pixel is a function of (seed, index) alone, so the noisy test set is the
// same in every evaluation and a training epoch's noise is the same on any
// thread count.
#include <cstdint>
#include <optional>
#include <string>

#include "mnistlab/names.h"

namespace mnistlab {

enum class NoiseKind {
  Uniform,     // adds U[0, a)
  Gaussian,    // adds N(0, sigma^2)
  SaltPepper,  // sets a share p of the pixels to 0 or 1
};
inline constexpr Named<NoiseKind> kNoiseNames[] = {
    {"uniform", NoiseKind::Uniform}, {"gaussian", NoiseKind::Gaussian}, {"salt-pepper", NoiseKind::SaltPepper}};
const char* noise_name(NoiseKind kind);
// Throws Error naming the value and the choices.
NoiseKind parse_noise(const std::string& name);

struct NoiseOptions {
  NoiseKind kind = NoiseKind::Uniform;
  // uniform: a in U[0, a) (default 1); gaussian: sigma (default 0.1); salt-pepper: p (default 0.1)
  std::optional<float> amount;
  bool clip = false;  // clamp the result to [0, 1]
};

// Fills in the default amount and checks the range; throws Error naming
// the option and what is allowed.
NoiseOptions checked_noise(NoiseOptions options);
float noise_amount(const NoiseOptions& checked);

class Backend;  // src/kernels/backend.h; a library user passes Model::backend() along

// noisy[i] = clean[i] + noise for the pixels [first, first + count) of a
// stream identified by seed; `first` makes the noise of a pixel independent
// of how the stream is cut into batches. Computed on `backend` (the model's).
void add_noise(const Backend& backend, const NoiseOptions& options, uint64_t seed, uint64_t first,
               const float* clean, size_t count, float* noisy);

}  // namespace mnistlab
