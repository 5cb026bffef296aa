// Seconds of training until MNIST test accuracy first reaches a target, the
// way bench/pytorch_time_to_accuracy.py measures PyTorch: one recipe (model,
// Adam, LR schedule, batch, epochs), the test set evaluated every N steps
// and at the end of each epoch with the clock stopped, so only training
// time counts.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <vector>

#include "mnistlab/data.h"
#include "mnistlab/error.h"
#include "mnistlab/loss.h"
#include "mnistlab/model_file.h"
#include "mnistlab/optim.h"
#include "mnistlab/schedule.h"
#include "mnistlab/trainer.h"

using namespace mnistlab;

int main(int argc, char** argv) {
  CLI::App app{"mnistlab seconds of training to a test accuracy"};
  std::string model_name = "fast", data_dir = "data/mnist";
  ScheduleOptions schedule;
  std::string schedule_name = "onecycle";
  OptimizerOptions optimizer_options;
  optimizer_options.lr = 0.005f;
  int batch = 32, epochs = 2, threads = 2, eval_every = 100;
  double target = 0.99;
  uint64_t seed = 0;
  app.add_option("--model", model_name);
  app.add_option("--data-dir", data_dir);
  app.add_option("--batch-size", batch)->check(CLI::PositiveNumber);
  app.add_option("--epochs", epochs)->check(CLI::PositiveNumber);
  app.add_option("--lr", optimizer_options.lr)->check(CLI::PositiveNumber);
  app.add_option("--lr-schedule", schedule_name)->check(CLI::IsMember({"none", "cosine", "onecycle"}));
  app.add_option("--threads", threads)->check(CLI::PositiveNumber);
  app.add_option("--eval-every", eval_every)->check(CLI::PositiveNumber);
  app.add_option("--target", target)->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", seed);
  CLI11_PARSE(app, argc, argv);
  try {
    schedule.kind = parse_schedule(schedule_name);
    const ModelSource source = resolve_model(model_name);
    Model model = parse_model(source.text, source.origin);
    model.build(seed);
    BackendOptions backend;
    backend.threads = threads;
    model.set_backend(backend);
    const int eval_batch = 1000;
    model.reserve(std::max(batch, eval_batch));
    const Dataset train = load_split(data_dir, true), test = load_split(data_dir, false);
    BatchLoader loader(train, batch, true, seed);
    auto optimizer = make_optimizer(optimizer_options, model.parameter_count());
    const LrSchedule lr_schedule(schedule, optimizer_options.lr, epochs, int64_t(loader.num_batches()));
    std::vector<float> images(size_t(batch) * train.image_size()), dlogits(size_t(batch) * 10);
    std::vector<int32_t> labels(batch);

    double trained_seconds = 0, reached_at = -1, last_acc = 0;
    int64_t step = 0;
    auto check = [&] {
      last_acc = evaluate(model, test, eval_batch).acc;
      model.train();
      std::printf("step %lld epoch %.2f train_seconds %.2f test_acc %.4f\n", (long long)step,
                  double(step) / double(loader.num_batches()), trained_seconds, last_acc);
      std::fflush(stdout);
      if (last_acc >= target && reached_at < 0) reached_at = trained_seconds;
      return reached_at >= 0;
    };
    bool done = false;
    for (int epoch = 0; epoch < epochs && !done; ++epoch) {
      model.train();
      loader.start_epoch(epoch);
      auto t0 = std::chrono::steady_clock::now();
      for (int n; !done && (n = loader.next(images.data(), labels.data())) > 0;) {
        const ScheduleValue rate = lr_schedule.at(optimizer->steps());
        optimizer->set_lr(rate.lr);
        if (rate.momentum >= 0) optimizer->set_momentum(rate.momentum);
        const Tensor& logits = model.forward(images.data(), n);
        cross_entropy(model.backend(), logits, labels.data(), dlogits.data(), nullptr);
        model.backward(dlogits.data());
        optimizer->step(model);
        ++step;
        const bool epoch_end = size_t(step) % loader.num_batches() == 0;
        if (step % eval_every == 0 || epoch_end) {
          trained_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          done = check();
          t0 = std::chrono::steady_clock::now();
        }
      }
    }
    if (reached_at >= 0)
      std::printf("seconds_to_target %.2f\n", reached_at);
    else
      std::printf("seconds_to_target none (final test_acc %.4f after %.2f s)\n", last_acc, trained_seconds);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
