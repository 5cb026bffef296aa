// mnistlab train: the classification experiments of the course.
#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/validators.h"
#include "kernels/cpu/gemm.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/safetensors.h"
#include "mnistlab/trainer.h"

namespace mnistlab::cli {
namespace {

struct TrainArgs {
  std::string model = "baseline";
  std::string dataset = "mnist";
  std::string data_dir;
  std::string out;
  int epochs = 15;
  int batch_size = 64;
  std::string optimizer = "adam";
  float lr = 1e-3f;
  float momentum = 0.f;
  bool nesterov = false;
  float weight_decay = -1;
  uint64_t seed = 0;
  int threads = 0;
  size_t train_limit = 0, test_limit = 0;
};

std::string default_data_dir(const std::string& dataset) {
  return dataset == "fashion" ? "data/fashion-mnist" : "data/mnist";
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw Error(path.string() + ": cannot write");
}

void run_train(const TrainArgs& a, const std::string& command_line) {
  const int threads = a.threads > 0 ? a.threads : omp_get_num_procs();
  cpu::set_num_threads(threads);
  const std::string data_dir = a.data_dir.empty() ? default_data_dir(a.dataset) : a.data_dir;

  const ModelSource source = resolve_model(a.model);
  Model model = parse_model(source.text, source.origin);
  model.build(a.seed);
  Dataset train = load_split(data_dir, true);
  Dataset test = load_split(data_dir, false);
  if (a.train_limit > 0) train = train.head(a.train_limit);
  if (a.test_limit > 0) test = test.head(a.test_limit);

  TrainOptions options;
  options.epochs = a.epochs;
  options.batch_size = a.batch_size;
  options.seed = a.seed;
  options.optimizer.name = a.optimizer;
  options.optimizer.lr = a.lr;
  options.optimizer.momentum = a.momentum;
  options.optimizer.nesterov = a.nesterov;
  options.optimizer.weight_decay = a.weight_decay;
  make_optimizer(options.optimizer, 1);  // reject bad options before any output

  const std::filesystem::path out = a.out.empty() ? "runs/" + a.model + "-" + a.dataset : a.out;
  std::filesystem::create_directories(out);
  write_text(out / "model.txt", source.text);
  write_text(out / "command.txt", command_line + "\n");
  std::ofstream csv(out / "metrics.csv");
  if (!csv) throw Error((out / "metrics.csv").string() + ": cannot write");
  csv << "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n" << std::flush;

  std::printf("model %s (%zu parameters), %s: %zu train / %zu test images, %s lr %g, batch %d, %d threads\n",
              source.origin.c_str(), model.parameter_count(), data_dir.c_str(), train.size(), test.size(),
              a.optimizer.c_str(), a.lr, a.batch_size, threads);
  std::fflush(stdout);
  double best = 0;
  // On a terminal, one line that updates in place while an epoch runs; in
  // pipes and CI logs only the per-epoch lines.
  const bool terminal = isatty(STDOUT_FILENO);
  double last_shown = -1;
  ProgressFn progress;
  if (terminal)
    progress = [&](int epoch, size_t done, size_t total, double seconds) {
      if (seconds - last_shown < 0.5 && done < total) return;
      last_shown = seconds;
      const double rate = done / std::max(seconds, 1e-9);
      std::printf("\r\033[Kepoch %3d  %zu/%zu images  %.0f images/s  ETA %.0fs", epoch, done, total, rate,
                  double(total - done) / std::max(rate, 1e-9));
      std::fflush(stdout);
    };
  fit(
      model, train, test, options,
      [&](const EpochMetrics& m) {
        if (terminal) std::printf("\r\033[K");
        last_shown = -1;
        std::printf("epoch %3d  train_loss %.4f  train_acc %.2f%%  test_loss %.4f  test_acc %.2f%%  %.1fs\n", m.epoch,
                    m.train_loss, 100 * m.train_acc, m.test_loss, 100 * m.test_acc, m.seconds);
        std::fflush(stdout);
        char row[256];
        std::snprintf(row, sizeof row, "%d,%.6f,%.6f,%.6f,%.6f,%.3f\n", m.epoch, m.train_loss, m.train_acc, m.test_loss,
                      m.test_acc, m.seconds);
        csv << row << std::flush;
        best = std::max(best, m.test_acc);
        save_state_dict(model, out / "last.safetensors");
      },
      progress);
  std::printf("done: best test accuracy %.2f%%; metrics in %s, weights in %s\n", 100 * best,
              (out / "metrics.csv").c_str(), (out / "last.safetensors").c_str());
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train a classifier on MNIST or Fashion-MNIST");
  cmd->add_option("--model", args->model, "Preset name (" + preset_list() + ") or model file")->capture_default_str();
  cmd->add_option("--dataset", args->dataset, "mnist or fashion")
      ->check(CLI::IsMember({"mnist", "fashion"}))
      ->capture_default_str();
  cmd->add_option("--data-dir", args->data_dir,
                  "Folder with the dataset's four IDX files (raw or .gz); default data/mnist or data/fashion-mnist");
  cmd->add_option("--epochs", args->epochs, "Passes over the training set")
      ->check(integer_in(1, 100000))
      ->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Images per step")
      ->check(integer_in(1, 65536))
      ->capture_default_str();
  cmd->add_option("--optimizer", args->optimizer, "sgd, adam or adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--lr", args->lr, "Learning rate")
      ->check(number_in(0, 10, true, "> 0 (at most 10)"))
      ->capture_default_str();
  cmd->add_option("--momentum", args->momentum, "SGD momentum")
      ->check(number_in(0, 0.999999, false, "in [0, 1)"))
      ->capture_default_str();
  cmd->add_flag("--nesterov", args->nesterov, "SGD with Nesterov momentum");
  cmd->add_option("--weight-decay", args->weight_decay, "Weight decay (default: 0; AdamW 0.01)")
      ->check(number_in(0, 1, false, "in [0, 1]"));
  cmd->add_option("--seed", args->seed, "Seed for initialization and shuffling")
      ->check(integer_in(0, 2147483647))
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads (default: all cores)")->check(integer_in(1, 1024));
  cmd->add_option("--out", args->out, "Run folder for metrics.csv and the rest (default runs/MODEL-DATASET)");
  cmd->add_option("--train-limit", args->train_limit, "Use only the first N training images (0: all)")
      ->check(integer_in(0, 1000000000));
  cmd->add_option("--test-limit", args->test_limit, "Use only the first N test images (0: all)")
      ->check(integer_in(0, 1000000000));
  cmd->callback([args]() { run_train(*args, command_line()); });
}

}  // namespace mnistlab::cli
