#include <chrono>

#include "mnistlab/denoise.h"
#include "mnistlab/error.h"
#include "mnistlab/image_metrics.h"
#include "mnistlab/loss.h"

namespace mnistlab {
namespace {

// Noise streams: the test set's is fixed; each training epoch gets its own.
uint64_t test_stream(uint64_t seed) { return seed * 2654435761u + 0x7e57ull; }
uint64_t epoch_stream(uint64_t seed, int epoch) { return (seed * 2654435761u) ^ (uint64_t(epoch + 1) << 32); }

double loss_of(const std::string& kind, const Tensor& output, const float* target, float* grad) {
  return kind == "mse" ? mse_loss(output, target, grad) : l1_loss(output, target, grad);
}

}  // namespace

void check_denoiser(const Model& model, const Dataset& data) {
  const SampleShape in = model.input_shape(), out = model.output_shape();
  if (!(in == out))
    throw Error("a denoiser must give back the shape it takes: the model takes " + in.str() + " and gives " +
                out.str());
  if (in.c != 1 || in.h != data.rows || in.w != data.cols)
    throw Error("the model takes inputs " + in.str() + " but the dataset has 1x" + std::to_string(data.rows) + "x" +
                std::to_string(data.cols) + " images");
}

void noisy_test_image(const Dataset& clean, size_t i, const NoiseOptions& noise, uint64_t seed, float* out) {
  const size_t pixels = clean.image_size();
  std::vector<float> image(pixels);
  for (size_t p = 0; p < pixels; ++p) image[p] = float(clean.pixels[i * pixels + p]) / 255.0f;
  add_noise(noise, test_stream(seed), i * pixels, image.data(), pixels, out);
}

DenoiseEval evaluate_denoiser(Model* model, const Dataset& clean, const DenoiseOptions& o, int batch_size) {
  if (clean.size() == 0) return {};
  const size_t pixels = clean.image_size();
  if (model) {
    check_denoiser(*model, clean);
    model->eval();
  }
  BatchLoader loader(clean, batch_size, false, 0);
  std::vector<float> images(size_t(batch_size) * pixels), noisy(images.size());
  std::vector<int32_t> labels(batch_size);
  DenoiseEval r;
  size_t first = 0;
  for (int n; (n = loader.next(images.data(), labels.data())) > 0;) {
    add_noise(o.noise, test_stream(o.seed), first * pixels, images.data(), size_t(n) * pixels, noisy.data());
    const Tensor out = model ? model->forward(noisy.data(), n) : Tensor{noisy.data(), n, image_shape(1, clean.rows, clean.cols)};
    r.loss += loss_of(o.loss, out, images.data(), nullptr) * n;
    for (int i = 0; i < n; ++i) {
      r.psnr += psnr(out.sample(i), images.data() + size_t(i) * pixels, clean.rows, clean.cols);
      r.ssim += ssim(out.sample(i), images.data() + size_t(i) * pixels, clean.rows, clean.cols);
    }
    first += size_t(n);
  }
  if (model) model->train();
  const double count = double(clean.size());
  return {r.loss / count, r.psnr / count, r.ssim / count};
}

std::vector<DenoiseMetrics> fit_denoiser(Model& model, Optimizer& optimizer, const Dataset& train,
                                         const Dataset& test, const DenoiseOptions& o,
                                         const std::function<void(const DenoiseMetrics&)>& on_epoch,
                                         const ProgressFn& on_step) {
  check_denoiser(model, train);
  if (train.size() == 0) throw Error("the training set is empty");
  const size_t pixels = train.image_size();
  model.reserve(o.batch_size);
  BatchLoader loader(train, o.batch_size, true, o.seed);
  std::vector<float> clean(size_t(o.batch_size) * pixels), noisy(clean.size()), grad(clean.size());
  std::vector<int32_t> labels(o.batch_size);
  std::vector<DenoiseMetrics> history;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    model.train();
    loader.start_epoch(epoch);
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    size_t done = 0;
    for (int n; (n = loader.next(clean.data(), labels.data())) > 0;) {
      add_noise(o.noise, epoch_stream(o.seed, epoch), done * pixels, clean.data(), size_t(n) * pixels, noisy.data());
      const Tensor& out = model.forward(noisy.data(), n);
      loss_sum += loss_of(o.loss, out, clean.data(), grad.data()) * n;
      model.backward(grad.data());
      optimizer.step(model.parameters(), model.gradients());
      done += size_t(n);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (on_step) on_step(epoch + 1, done, train.size(), seconds);
      if (o.stop && o.stop->load()) return history;
    }
    DenoiseMetrics m;
    m.epoch = epoch + 1;
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m.train_loss = loss_sum / double(train.size());
    const DenoiseEval t = evaluate_denoiser(&model, test, o, o.batch_size);
    m.test_loss = t.loss;
    m.test_psnr = t.psnr;
    m.test_ssim = t.ssim;
    history.push_back(m);
    if (on_epoch) on_epoch(m);
  }
  return history;
}

}  // namespace mnistlab
