// Training throughput of one preset, measured the way bench/pytorch_train.py
// measures PyTorch: warmup steps, then timed steps of real MNIST batches
// (forward, loss, backward, Adam step), median of repeats.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"
#include "mnistlab/loss.h"
#include "mnistlab/model_file.h"
#include "mnistlab/optim.h"

using namespace mnistlab;

int main(int argc, char** argv) {
  CLI::App app{"mnistlab training throughput (images/s)"};
  std::string model_name = "baseline", data_dir = "data/mnist";
  int batch = 64, threads = 2, steps = 40, warmup = 5, repeats = 3;
  app.add_option("--model", model_name);
  app.add_option("--data-dir", data_dir);
  app.add_option("--batch-size", batch)->check(CLI::PositiveNumber);
  app.add_option("--threads", threads)->check(CLI::PositiveNumber);
  app.add_option("--steps", steps)->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup)->check(CLI::NonNegativeNumber);
  app.add_option("--repeats", repeats)->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    cpu::set_num_threads(threads);
    const ModelSource source = resolve_model(model_name);
    Model model = parse_model(source.text, source.origin);
    model.build(0);
    model.reserve(batch);
    const Dataset train = load_split(data_dir, true);
    BatchLoader loader(train, batch, true, 0);
    loader.start_epoch(0);
    auto optimizer = make_optimizer(OptimizerOptions{}, model.parameter_count());
    std::vector<float> images(size_t(batch) * train.image_size()), dlogits(size_t(batch) * 10);
    std::vector<int32_t> labels(batch);
    auto step = [&] {
      int n = loader.next(images.data(), labels.data());
      if (n < batch) {
        loader.start_epoch(0);
        n = loader.next(images.data(), labels.data());
      }
      const Tensor& logits = model.forward(images.data(), n);
      cross_entropy(logits, labels.data(), dlogits.data(), nullptr);
      model.backward(dlogits.data());
      optimizer->step(model.parameters(), model.gradients());
    };
    for (int i = 0; i < warmup; ++i) step();
    std::vector<double> rates;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < steps; ++i) step();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rates.push_back(double(steps) * batch / s);
    }
    std::vector<double> sorted = rates;
    std::sort(sorted.begin(), sorted.end());
    std::printf("images_per_s %.1f\nrepeats", sorted[sorted.size() / 2]);
    for (double r : rates) std::printf(" %.1f", r);
    std::printf("\n");
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
