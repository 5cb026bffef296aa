// The course's "Noisy Fashion-MNIST" task: the model gets a noisy image and
// is scored against the clean one (L1 or MSE, PSNR, SSIM). Training noise is
// fresh each epoch; the test set's is fixed, so epochs compare.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "kernels/backend.h"
#include "mnistlab/denoise.h"
#include "mnistlab/error.h"
#include "mnistlab/image_grid.h"
#include "mnistlab/image_metrics.h"
#include "mnistlab/loss.h"
#include "mnistlab/run.h"
#include "train/last_evaluation.h"
#include "train/memory_budget.h"
#include "train/task_evaluation.h"

namespace mnistlab {
namespace {

constexpr int kSampleRows = 8;  // the picture: fixed test images 0..7

// Noise streams: the test set's is fixed; each training epoch gets its own.
uint64_t test_stream(uint64_t seed) { return seed * 2654435761u + 0x7e57ull; }
uint64_t epoch_stream(uint64_t seed, int epoch) { return (seed * 2654435761u) ^ (uint64_t(epoch + 1) << 32); }

double loss_of(const Backend& backend, LossKind kind, const Tensor& output, const float* target, float* grad,
               int batch = 0) {
  return kind == LossKind::Mse ? mse_loss(backend, output, target, grad, batch)
                               : l1_loss(backend, output, target, grad, batch);
}

// evaluate_denoiser, the loss on `backend` (the run's model's, also when
// the noisy input itself is scored).
DenoiseEval evaluate_on(const Backend& backend, Model* model, const Dataset& clean, const DenoiseOptions& o,
                     int batch_size);

class DenoisingTask final : public Task {
 public:
  explicit DenoisingTask(const DenoiseOptions& o) : o_(o) { o_.noise = checked_noise(o.noise); }

  TaskKind kind() const override { return TaskKind::Denoising; }
  void check(const Model& model, const Dataset& data) const override { check_denoiser(model, data); }
  std::vector<MetricInfo> train_metrics() const override { return {loss()}; }
  std::vector<MetricInfo> eval_metrics() const override {
    return {loss(), {"psnr", "psnr", true, kNoLimit, "PSNR (dB)", true, 1, 2, " dB"}, {"ssim", "ssim", true, 1.0, "ssim", true}};
  }

  void reserve(Model& model, int batch_size) override {
    noisy_.resize(batch_floats(model, batch_size) / 2);
    grad_ = model.backend().allocate(noisy_.size() * sizeof(float));
  }
  size_t batch_floats(const Model& model, int batch_size) const override {
    return 2 * size_t(batch_size) * model.input_shape().numel();  // noisy input, output gradient
  }

  void train_step(Model& model, const float* clean, const int32_t*, int n, int batch, int epoch, size_t first,
                  double* sums) override {
    const size_t pixels = model.input_shape().numel(), count = size_t(n) * pixels;
    add_noise(model.backend(), o_.noise, epoch_stream(o_.seed, epoch), first * pixels, clean, count, noisy_.data());
    const Tensor& out = model.forward(noisy_.data(), n);
    sums[0] += loss_of(model.backend(), o_.loss, out, clean, grad_->as<float>(), batch) * n;
    model.backward(grad_->as<float>());
  }

  std::vector<double> evaluate(Model& model, const Dataset& data, int batch_size) override {
    const DenoiseEval e = evaluate_denoiser(&model, data, o_, batch_size);
    last_.keep(data, model, e);
    return {e.loss, e.psnr, e.ssim};
  }

  // Fixed test images 0..7 as the evaluation sees them.
  GrayImage picture(Model& model, const Dataset& test, int) override {
    const size_t count = std::min<size_t>(kSampleRows, test.size()), pixels = test.image_size();
    if (count == 0) return {};
    std::vector<float> noisy(count * pixels), clean(count * pixels), output(count * pixels);
    const Dataset shown = test.head(count);
    EvalMode eval_mode(&model);
    const int batch = evaluation_batch(model, int(count));
    for_each_batch(shown, batch, [&](float* images, const int32_t*, int n, size_t first) {
      const size_t at = first * pixels, size = size_t(n) * pixels;
      std::copy(images, images + size, clean.data() + at);
      add_noise(model.backend(), o_.noise, test_stream(o_.seed), at, images, size, noisy.data() + at);
      model.forward(noisy.data() + at, n);
      model.read_output(output.data() + at);
    });
    std::vector<std::vector<const float*>> rows;
    for (size_t i = 0; i < count; ++i)
      rows.push_back({noisy.data() + i * pixels, output.data() + i * pixels, clean.data() + i * pixels});
    GridLayout layout;
    layout.group_size = 3;
    return image_grid(rows, test.rows, test.cols, layout);
  }
  std::string picture_name() const override { return "samples"; }
  std::string folder_suffix() const override { return std::string("-") + noise_name(o_.noise.kind); }
  std::string title_suffix() const override { return std::string(" with ") + noise_name(o_.noise.kind) + " noise"; }

  std::string baseline(Model& model, const Dataset& test, int batch_size) override {
    const DenoiseEval noisy = evaluate_on(model.backend(), nullptr, test, o_, batch_size);
    char line[160];
    std::snprintf(line, sizeof line, "noisy test input itself: %s %.4f  PSNR %.2f dB  SSIM %.4f", loss_name(o_.loss),
                  noisy.loss, noisy.psnr, noisy.ssim);
    return line;
  }

  std::string report(Model& model, const Dataset& test, int batch_size) override {
    const DenoiseEval input = evaluate_on(model.backend(), nullptr, test, o_, batch_size);
    // The run's final evaluation of this set, when it came just before.
    const std::optional<DenoiseEval> last = last_.take(test, model);
    const DenoiseEval output = last ? *last : evaluate_denoiser(&model, test, o_, batch_size);
    char text[512];
    std::snprintf(text, sizeof text,
                  "noise: %s %g%s, test set fixed by seed %llu\n"
                  "noisy test input itself: %s %.6f  PSNR %.2f dB  SSIM %.4f\n"
                  "denoised:                %s %.6f  PSNR %.2f dB  SSIM %.4f\n",
                  noise_name(o_.noise.kind), noise_amount(o_.noise), o_.noise.clip ? " clipped" : "",
                  static_cast<unsigned long long>(o_.seed), loss_name(o_.loss), input.loss, input.psnr, input.ssim,
                  loss_name(o_.loss), output.loss, output.psnr, output.ssim);
    return text;
  }

 private:
  static constexpr double kNoLimit = std::numeric_limits<double>::infinity();
  MetricInfo loss() const { return {"loss", "loss", false, kNoLimit, "loss"}; }

  DenoiseOptions o_;
  std::vector<float> noisy_;       // the batch as the model's input takes it, from the host
  std::unique_ptr<Storage> grad_;  // dL/doutput
  LastEvaluation<DenoiseEval> last_;
};

}  // namespace

void noisy_test_image(const Backend& backend, const Dataset& clean, size_t i, const NoiseOptions& noise, uint64_t seed,
                      float* out) {
  const size_t pixels = clean.image_size();
  std::vector<float> image(pixels);
  for (size_t p = 0; p < pixels; ++p) image[p] = float(clean.pixels[i * pixels + p]) / 255.0f;
  add_noise(backend, noise, test_stream(seed), i * pixels, image.data(), pixels, out);
}

DenoiseEval evaluate_denoiser(Model* model, const Dataset& clean, const DenoiseOptions& o, int batch_size) {
  if (model) return evaluate_on(model->backend(), model, clean, o, batch_size);
  const std::unique_ptr<Backend> backend = make_backend({});
  return evaluate_on(*backend, nullptr, clean, o, batch_size);
}

namespace {

DenoiseEval evaluate_on(const Backend& backend, Model* model, const Dataset& clean, const DenoiseOptions& o,
                     int batch_size) {
  if (clean.size() == 0) return {};
  const size_t pixels = clean.image_size();
  if (model) check_denoiser(*model, clean);
  EvalMode eval_mode(model);
  // Without a model only the two image buffers grow with the batch.
  const size_t most = std::min(size_t(batch_size), clean.size());
  batch_size = model ? evaluation_batch(*model, int(most))
                     : int(std::min(most, std::max<size_t>(1, kEvaluationArenaBytes / (8 * pixels))));
  std::vector<float> noisy(size_t(batch_size) * pixels), output(model ? noisy.size() : 0);
  DenoiseEval r;
  for_each_batch(clean, batch_size, [&](float* images, const int32_t*, int n, size_t first) {
    add_noise(backend, o.noise, test_stream(o.seed), (clean.origin + first) * pixels, images, size_t(n) * pixels,
              noisy.data());
    Tensor out{noisy.data(), n, image_shape(1, clean.rows, clean.cols)};
    if (model) {
      out.shape = model->forward(noisy.data(), n).shape;
      model->read_output(output.data());
      out.data = output.data();
    }
    for (int i = 0; i < n; ++i) {
      // Image by image, so the sums do not depend on how the set is cut into batches.
      const float* target = images + size_t(i) * pixels;
      r.loss += loss_of(backend, o.loss, Tensor{out.sample(i), 1, out.shape}, target, nullptr);
      r.psnr += psnr(out.sample(i), target, clean.rows, clean.cols);
      r.ssim += ssim(out.sample(i), target, clean.rows, clean.cols);
    }
  });
  const double count = double(clean.size());
  return {r.loss / count, r.psnr / count, r.ssim / count};
}

}  // namespace

std::unique_ptr<Task> make_denoising_task(const DenoiseOptions& options) {
  return std::make_unique<DenoisingTask>(options);
}

const TaskType& denoising_task_type() {
  static const TaskType type{
      .kind = TaskKind::Denoising,
      .command = "mnistlab denoise train",
      .defaults =
          [](RunConfig& c) {
            c.model = "dae";
            c.dataset = "fashion";
            c.train.epochs = 20;
            c.train.batch_size = 300;
          },
      .check = [](RunConfig& c) { c.noise = checked_noise(c.noise); },
      .make = [](const RunConfig& c) { return make_denoising_task({c.noise, c.loss, c.train.seed}); },
  };
  return type;
}

}  // namespace mnistlab
