// What augmentation costs a training step: the one training loop (fit, with
// its prefetching loader) over the same images with and without --augment,
// in alternating rounds of one epoch each, median seconds per step. Also
// what one batch's augmentation takes on one thread: the work the
// prefetching thread hides.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include "mnistlab/augment.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/trainer.h"

using namespace mnistlab;

namespace {

std::string cpu_model() {  // the line lscpu prints as "Model name"
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "?";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Training seconds per step of one epoch over `train`.
double seconds_per_step(const std::string& model_name, const Dataset& train, const Dataset& test, int batch,
                        int threads, const AugmentOptions& augment) {
  const ModelSource source = resolve_model(model_name);
  Model model = parse_model(source.text, source.origin);
  model.build(0);
  BackendOptions backend;
  backend.threads = threads;
  model.set_backend(backend);
  TrainOptions options;
  options.epochs = 1;
  options.batch_size = batch;
  options.augment = augment;
  const auto history = fit(model, train, test, options, {}, {});
  const double steps = double((train.size() + size_t(batch) - 1) / size_t(batch));
  return history.at(0).seconds / steps;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mnistlab: a training step's time with and without augmentation"};
  std::string model_name = "baseline", data_dir = "data/mnist", spec = "degrees=10,translate=0.1,scale=0.9:1.1,bilinear";
  int batch = 64, threads = 2, rounds = 3;
  size_t images = 6400;
  app.add_option("--model", model_name)->capture_default_str();
  app.add_option("--data-dir", data_dir)->capture_default_str();
  app.add_option("--augment", spec)->capture_default_str();
  app.add_option("--batch-size", batch)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--threads", threads)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--rounds", rounds)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--images", images, "training images per round")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const AugmentOptions augment = parse_augment(spec);
    const Dataset train = load_split(data_dir, true).head(images), test = load_split(data_dir, false).head(100);
    std::printf("# %s, %d threads; %s, batch %d, %zu images a round, %d rounds\n", cpu_model().c_str(), threads,
                model_name.c_str(), batch, train.size(), rounds);
    std::vector<double> plain, augmented;
    for (int r = 0; r < rounds; ++r) {  // alternate which goes first
      for (int k = 0; k < 2; ++k) {
        const bool with = (r + k) % 2 == 1;
        (with ? augmented : plain).push_back(seconds_per_step(model_name, train, test, batch, threads,
                                                              with ? augment : AugmentOptions{}));
      }
    }
    // One batch's augmentation on this thread alone, what the prefetching thread does.
    BatchLoader loader(train, batch, true, 0, augment);
    std::vector<float> pixels(size_t(batch) * train.image_size());
    std::vector<int32_t> labels(static_cast<size_t>(batch));
    const auto t0 = std::chrono::steady_clock::now();
    int batches = 0;
    for (int n; (n = loader.next(pixels.data(), labels.data())) > 0;) ++batches;
    const double augment_ms =
        1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / batches;

    const double p = median(plain), a = median(augmented);
    std::printf("step without augmentation  %8.2f ms (median of %d)\n", 1e3 * p, rounds);
    std::printf("step with --augment %s  %8.2f ms\n", augment_spec(augment).c_str(), 1e3 * a);
    std::printf("ratio with/without          %8.3f\n", a / p);
    std::printf("augmenting one batch alone  %8.2f ms on one thread (hidden by the prefetching thread)\n", augment_ms);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
