// Throughput of one preset, measured the way bench/pytorch_throughput.py
// measures PyTorch: warmup steps, then timed windows of steps on real images,
// median of the windows. Tasks:
//   train    forward, cross-entropy, backward, Adam step (classification)
//   eval     forward in eval mode and argmax (no gradients)
//   denoise  fresh uniform noise U[0,1), forward, L1 loss, backward, Adam step
// Also prints the process's peak resident memory and the nominal GFLOP/s of
// the convolutions and linear layers (all kernel taps, as PyTorch counts).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include "kernels/backend.h"
#include "mnistlab/distributed.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"
#include "mnistlab/loss.h"
#include "mnistlab/model_file.h"
#include "mnistlab/noise.h"
#include "mnistlab/optim.h"

using namespace mnistlab;

namespace {

// Multiply-adds of one sample's forward pass through the GEMM-shaped layers.
double forward_macs(const Model& model) {
  double macs = 0;
  for (const auto& layer : model.layers()) {
    const std::string type = layer->type();
    if (layer->params().empty()) continue;
    const double weights = double(layer->params()[0].numel());
    const SampleShape& in = layer->input_shape();
    const SampleShape& out = layer->output_shape();
    if (type == "Conv2d") macs += weights * out.h * out.w;
    if (type == "ConvTranspose2d") macs += weights * in.h * in.w;
    if (type == "Linear") macs += weights;
  }
  return macs;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mnistlab throughput (images/s) of one task"};
  std::string task = "train", model_name = "baseline", data_dir = "data/mnist";
  int batch = 64, threads = 2, steps = 40, warmup = 5, repeats = 3;
  app.add_option("--task", task)->check(CLI::IsMember({"train", "eval", "denoise"}));
  app.add_option("--model", model_name);
  app.add_option("--data-dir", data_dir);
  app.add_option("--batch-size", batch)->check(CLI::PositiveNumber);
  app.add_option("--threads", threads)->check(CLI::PositiveNumber);
  app.add_option("--steps", steps)->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup)->check(CLI::NonNegativeNumber);
  app.add_option("--repeats", repeats)->check(CLI::PositiveNumber);
  std::string perf_control;
  app.add_option("--perf-control", perf_control,
                 "perf's control FIFO (perf record -D -1 --control fifo:PATH): "
                 "sampling enabled for the timed steps only, not start-up or warmup");
  // Route experiments (the defaults are the product's).
  BackendOptions backend;
  std::string conv = "auto";
  app.add_option("--conv", conv, "3x3 algorithm: auto, im2col, winograd")
      ->check(CLI::IsMember({"auto", "im2col", "winograd"}));
  app.add_option("--per-image-min-pixels", backend.per_image_min_pixels)->check(CLI::PositiveNumber);
  std::string precision = "fp32";
  app.add_option("--precision", precision, "convolutions and Linear: fp32 or bf16 (bfloat16 products, float32 sums)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  CLI11_PARSE(app, argc, argv);
  try {
    // Under mpirun: data parallel as `mnistlab train` runs it (each rank its
    // share of the global batch, gradients summed), rank 0 reporting.
    const Communicator& comm = world();
    const int rank = comm.rank(), ranks = comm.size();
    if (task != "eval" && batch % ranks != 0)
      throw Error("batch size " + std::to_string(batch) + " is not a multiple of the " + std::to_string(ranks) +
                  " processes");
    const int share = task == "eval" ? batch : batch / ranks;
    const ModelSource source = resolve_model(model_name);
    Model model = parse_model(source.text, source.origin);
    model.build(0);
    backend.threads = threads;
    backend.conv = conv == "im2col" ? ConvAlgorithm::Im2col : conv == "winograd" ? ConvAlgorithm::Winograd
                                                                                 : ConvAlgorithm::Auto;
    backend.precision = *parse_precision(precision);
    model.set_backend(backend);
    const bool training = task != "eval";
    model.reserve(share, training);
    model.train(training);
    const Dataset data = load_split(data_dir, training);
    if (size_t(batch) > data.size())
      throw Error("batch size " + std::to_string(batch) + " exceeds the " + std::to_string(data.size()) + " images");
    BatchLoader loader(data, batch, training, 0);
    if (training) loader.set_share(rank, ranks);
    loader.start_epoch(0);
    std::unique_ptr<Optimizer> optimizer;
    if (training) optimizer = make_optimizer(OptimizerOptions{}, model.parameter_count());
    const size_t pixels = data.image_size();
    const size_t outputs = model.output_shape().numel();
    std::vector<float> images(size_t(batch) * pixels), noisy(images.size()), grad(size_t(batch) * outputs);
    std::vector<int32_t> labels(batch), predicted(batch);
    NoiseOptions noise;
    noise = checked_noise(noise);
    uint64_t step_index = 0;
    int epoch = 0;
    auto next_batch = [&] {
      int n = loader.next(images.data(), labels.data());
      if (n < share) {  // drop the incomplete last batch, as the PyTorch script does
        loader.start_epoch(++epoch);
        n = loader.next(images.data(), labels.data());
      }
      return n;
    };
    // As fit() steps under mpirun: the gradients' sums of this rank's slice
    // of the parameters, its step of that slice, the slices traded; the
    // exchanges' time is the allreduce's (its two halves).
    double reduce_seconds = 0;
    const size_t count = model.parameter_count();
    const auto timed = [&](auto exchange) {
      const auto t0 = std::chrono::steady_clock::now();
      exchange();
      reduce_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    const auto optimizer_step = [&] {
      if (ranks == 1) {
        optimizer->step(model);
        return;
      }
      timed([&] {
        model.backend().sum_slice_across(comm, model.gradients(), count);
        double loss_sum = 0;  // the metric sums and the stop flag the command exchanges too
        comm.sum(&loss_sum, 1);
      });
      const Share mine = comm.slice(count);
      double bad = optimizer->step_slice(model, mine.first, mine.size()) ? 0 : 1;
      timed([&] {
        comm.sum(&bad, 1);
        model.backend().gather_across(comm, model.parameters(), count);
      });
    };
    auto step = [&] {
      const int n = next_batch();
      ++step_index;
      model.set_batch_part(uint64_t(rank) * uint64_t(share), nullptr);
      if (task == "train") {
        const Tensor& logits = model.forward(images.data(), n);
        cross_entropy(model.backend(), logits, labels.data(), grad.data(), nullptr, 0.f, batch);
        model.backward(grad.data());
        optimizer_step();
      } else if (task == "denoise") {
        add_noise(model.backend(), noise, step_index, uint64_t(rank) * share * pixels, images.data(),
                  size_t(n) * pixels, noisy.data());
        const Tensor& out = model.forward(noisy.data(), n);
        l1_loss(model.backend(), out, images.data(), grad.data(), batch);
        model.backward(grad.data());
        optimizer_step();
      } else {
        const Tensor& logits = model.forward(images.data(), n);
        for (int i = 0; i < n; ++i) {
          const float* row = logits.sample(i);
          predicted[i] = int32_t(std::max_element(row, row + outputs) - row);
        }
      }
    };
    for (int i = 0; i < warmup; ++i) step();
    std::ofstream perf_fifo;
    if (!perf_control.empty()) perf_fifo.open(perf_control);
    auto tell_perf = [&](const char* command) {
      if (perf_fifo.is_open()) perf_fifo << command << std::endl;
    };
    std::vector<double> rates;
    const auto barrier = [&] {
      double none = 0;
      comm.sum(&none, 1);
    };
    tell_perf("enable");
    reduce_seconds = 0;
    double step_seconds = 0;
    for (int r = 0; r < repeats; ++r) {
      barrier();
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < steps; ++i) step();
      barrier();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      step_seconds += s;
      rates.push_back(double(steps) * batch / s);
    }
    tell_perf("disable");
    std::vector<double> sorted = rates;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2];
    const double flops_per_image = 2.0 * forward_macs(model) * (training ? 3.0 : 1.0);
    if (rank != 0) return 0;  // rank 0 speaks for the run
    std::printf("images_per_s %.1f\nrepeats", median);
    for (double r : rates) std::printf(" %.1f", r);
    std::printf("\npeak_rss_mib %.1f\n", peak_rss_mib());
    std::printf("nominal_gflop_per_s %.1f\n", median * flops_per_image / 1e9);
    if (training) {
      // Data parallel: per step, the time in the gradients' allreduce, the
      // rest (compute, rank 0's), and the bytes each rank contributes to it.
      const double timed_steps = double(steps) * repeats;
      std::printf("ranks %d\nallreduce_ms_per_step %.3f\ncompute_ms_per_step %.3f\nbytes_reduced_per_step %zu\n",
                  ranks, 1e3 * reduce_seconds / timed_steps, 1e3 * (step_seconds - reduce_seconds) / timed_steps,
                  model.parameter_count() * sizeof(float));
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
