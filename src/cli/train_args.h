#pragma once
// The options of `mnistlab train`, kept in the run folder as run.json so
// `--resume DIR` continues with exactly the same settings.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "mnistlab/optim.h"

namespace mnistlab::cli {

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
  std::string lr_schedule = "none";
  int step_size = 5;
  float gamma = 0.1f;
  double warmup_epochs = 0;
  int early_stop_patience = 0;
  std::string early_stop_metric = "test_acc";
  double val_split = 0;
  uint64_t seed = 0;
  int threads = 0;
  size_t train_limit = 0, test_limit = 0;
  bool overwrite = false;  // replace the run in the folder (not kept in run.json)
};

// Registers the options on `cmd`, writing into `args`: those every training
// command has (model, data, epochs, batch, optimizer, seed, threads, out,
// limits), then those of classification (schedules, early stopping, ...).
void add_common_training_options(CLI::App* cmd, TrainArgs& args);
void add_train_options(CLI::App* cmd, TrainArgs& args);

OptimizerOptions optimizer_options(const TrainArgs& args);

std::string to_json(const TrainArgs& args);
// Throws Error naming the file, the key, the value and what was expected
// when a field is missing, of the wrong type or out of the options' range.
TrainArgs train_args_from_json(const std::string& text, const std::string& origin);

std::string default_data_dir(const std::string& dataset);

}  // namespace mnistlab::cli
