#pragma once
// Denoising pieces the task (task.h) and the command share: the fixed noisy
// test set and the evaluation of a denoiser (or of no denoiser at all: the
// noisy input itself, the baseline to beat).
#include <cstdint>

#include "mnistlab/data.h"
#include "mnistlab/model.h"
#include "mnistlab/task.h"

namespace mnistlab {

struct DenoiseEval {
  double loss = 0, psnr = 0, ssim = 0;  // PSNR and SSIM: means over the images
};

// The fixed noisy version of sample i of `clean` (pixels image_size() floats),
// computed on `backend` (a model's: Model::backend()).
void noisy_test_image(const Backend& backend, const Dataset& clean, size_t i, const NoiseOptions& noise,
                      uint64_t seed, float* out);

// Loss, PSNR and SSIM of the model's outputs on the fixed noisy test set,
// the loss on the model's backend; with no model, of the noisy images
// themselves (the loss on a backend of default options: every CPU).
DenoiseEval evaluate_denoiser(Model* model, const Dataset& clean, const DenoiseOptions& options, int batch_size);

// Throws Error unless the model gives back the shape it takes and fits the images.
void check_denoiser(const Model& model, const Dataset& data);

}  // namespace mnistlab
