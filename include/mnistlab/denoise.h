#pragma once
// Training a denoiser on (noisy, clean) pairs made on the fly from a clean
// dataset: fresh noise for every training epoch, one fixed noisy test set.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mnistlab/data.h"
#include "mnistlab/model.h"
#include "mnistlab/noise.h"
#include "mnistlab/optim.h"
#include "mnistlab/trainer.h"

namespace mnistlab {

struct DenoiseOptions {
  int epochs = 20;          // the course's recipe: Adam lr 1e-3, batch 300, 20 epochs, L1
  int batch_size = 300;
  uint64_t seed = 0;        // shuffling and noise
  OptimizerOptions optimizer;
  NoiseOptions noise;       // checked (checked_noise)
  std::string loss = "l1";  // l1 | mse
  const std::atomic<bool>* stop = nullptr;
};

struct DenoiseMetrics {
  int epoch = 0;
  double train_loss = 0, test_loss = 0, test_psnr = 0, test_ssim = 0;
  double seconds = 0;
};

struct DenoiseEval {
  double loss = 0, psnr = 0, ssim = 0;  // PSNR and SSIM: means over the images
};

// The fixed noisy version of sample i of `clean` (pixels image_size() floats).
void noisy_test_image(const Dataset& clean, size_t i, const NoiseOptions& noise, uint64_t seed, float* out);

// Loss, PSNR and SSIM of the model's outputs on the fixed noisy test set;
// with no model, of the noisy images themselves (the baseline to beat).
DenoiseEval evaluate_denoiser(Model* model, const Dataset& clean, const DenoiseOptions& options, int batch_size);

// Throws Error unless the model gives back the shape it takes and fits the images.
void check_denoiser(const Model& model, const Dataset& data);

// Trains; calls on_epoch after each epoch's evaluation. Returns the history.
std::vector<DenoiseMetrics> fit_denoiser(Model& model, Optimizer& optimizer, const Dataset& train,
                                         const Dataset& test, const DenoiseOptions& options,
                                         const std::function<void(const DenoiseMetrics&)>& on_epoch,
                                         const ProgressFn& on_step = {});

}  // namespace mnistlab
