#pragma once
// A training run and its folder, for every task: the settings (run.json),
// the model file and command line, metrics.csv, curves.png, the task's
// picture, report.txt, best/last/resume checkpoints, all written by one
// component. The folder is locked while a run trains in it and never
// silently replaced; an interrupted run resumes bit for bit.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "mnistlab/backend.h"
#include "mnistlab/distributed.h"
#include "mnistlab/noise.h"
#include "mnistlab/optim.h"
#include "mnistlab/schedule.h"
#include "mnistlab/task.h"
#include "mnistlab/trainer.h"

namespace mnistlab {

// Everything a run is made of, kept as run.json so a resume continues with
// exactly the same settings. The options, their ranges and help are a table
// (run_options.h); a task's defaults come from its TaskType.
struct RunConfig {
  TaskKind task = TaskKind::Classification;
  std::string model;               // preset name or model file, as given
  std::string dataset;             // mnist | fashion | a dataset folder, as given (dataset_dir, data.h)
  std::string data_dir;            // mnist and fashion: "": data/mnist or data/fashion-mnist
  std::string class_names;         // a names file; "": the folder's classes.txt or the built-in names
  std::string out;                 // the run folder
  // The loop's options: epochs, batch size, seed, augmentation, optimizer,
  // schedule, early stopping (early_stop_metric "": the task's default),
  // evaluation every Nth epoch. Its stop is set by train_options.
  TrainOptions train;
  double val_split = 0;            // share of the training set held out to choose the epoch
  int threads = 0;                 // 0: every CPU
  Precision precision = Precision::Fp32;  // of convolutions and linear layers (BackendOptions::precision)
  size_t train_limit = 0, test_limit = 0;  // 0: all
  int log_every_steps = 0;         // loss/train_step and lr in the event file; 0: about 50 points an epoch
  ClassificationOptions classification;  // classification: label smoothing, test-time flips
  NoiseOptions noise;              // denoising
  LossKind loss = LossKind::L1;    // denoising
  // Fine-tuning: the weights a new run starts from (a safetensors
  // state_dict, strict keys) instead of the seed's initialization, and the
  // file's SHA-256 (set when the run starts; run.json keeps both). A resume
  // takes its checkpoint's weights and reads neither.
  std::string init_weights, init_weights_sha256;
  // Parameters that keep their values (PyTorch's requires_grad = False):
  // state_dict keys or their leading components ("0" is 0.weight and
  // 0.bias), separated by commas; TrainOptions::freeze.
  std::string freeze;
  // The processes that started the run (data parallel); run.json keeps it
  // when more than one. A resume may use another number.
  int processes = 1;
  // Not a run option (nor in run.json): which backend the library trains on,
  // for tests that run the guarded one (BackendKind::GuardedCpu) through a whole run.
  BackendKind backend = BackendKind::Cpu;
};

// The settings of a run of `task` that sets nothing: the options' defaults
// with the task's own (TaskType::defaults).
RunConfig default_run_config(TaskKind task);
// The checks that span settings, the same for a new run and a resumed one:
// every option's range (run_options.h), then the task's own (TaskType::check:
// the noise's amount for its kind, made explicit; label smoothing; flips only
// for a classifier of a dataset whose classes survive a mirror). Returns the
// settings or throws Error.
RunConfig checked_run_config(RunConfig config);
// The loop's options and the task a run of these settings trains with.
TrainOptions train_options(const RunConfig& config, const std::atomic<bool>* stop);
std::unique_ptr<Task> make_task(const RunConfig& config);
// run.json: "task" and the value of every run option the task takes, by its key.
std::string to_json(const RunConfig& config);
// Throws Error naming the file, the key, the value and what was expected
// when a field is missing, of the wrong type or out of the options' range.
RunConfig run_config_from_json(const std::string& text, const std::string& origin);

// What a command prints as the run goes.
struct RunStart {
  std::filesystem::path dir;
  std::string model_origin;
  size_t parameters = 0;
  std::string data_dir, eval_name;  // eval_name: "test", or "val" with a validation split
  size_t train = 0, eval = 0, test = 0;
  int threads = 0;
  Precision precision = Precision::Fp32;
  bool resumed = false;
  int epoch = 0;      // a resumed run's epochs done ...
  int64_t batch = 0;  // ... and batches of the next
  std::string baseline;  // denoising: the noisy input's own scores, one line
  std::string note;      // why the folder is not the first default name, or ""
  std::string init_weights, init_weights_sha256;  // a new run's starting weights (--init-weights), or ""
  std::vector<MetricInfo> train_metrics, eval_metrics;  // the task's, in EpochMetrics' order
  std::string best_metric;  // the eval metric that picks the best epoch
  std::string picture;      // the picture file's name
};
struct RunCallbacks {
  std::function<void(const RunStart&)> on_start;
  std::function<void(const StepInfo&)> on_step;
  std::function<void(const EpochMetrics&, bool improved)> on_epoch;
  std::function<void(const std::string&)> on_warning;
};
struct RunOutcome {
  TrainProgress::Outcome outcome = TrainProgress::Outcome::Running;
  int epochs_done = 0, best_epoch = 0;
  int64_t batch = 0;                 // batches done of the next epoch (when interrupted)
  int reported_epoch = 0;            // whose weights the report and best/last describe
  std::string weights;               // "best.safetensors" or "last.safetensors"
  std::vector<double> test;          // the task's eval_metrics() on the test set, with those weights
  std::filesystem::path resume_file;  // when interrupted
};

class Run {
 public:
  // A new run: the folder `config.out` (refused when it holds a run, unless
  // `overwrite`), or without one the first free runs/NAME, runs/NAME-2, ...
  // Locked until the Run is destroyed; command_line goes to command.txt and
  // the lock file.
  // Data parallel: with `comm` of several ranks, every rank calls it; rank 0
  // claims and writes the folder and sends the settings to the others.
  static Run create(RunConfig config, const std::string& command_line, bool overwrite,
                    const Communicator* comm = nullptr);
  // The interrupted run in `dir`, locked, with its own settings (comm: as
  // create's; only rank 0 reads the folder, so it may be on rank 0's machine alone).
  static Run resume(const std::filesystem::path& dir, const std::string& command_line,
                    const Communicator* comm = nullptr);

  Run(Run&&) noexcept;
  Run& operator=(Run&&) noexcept;
  ~Run();

  const RunConfig& config() const;
  const std::filesystem::path& dir() const;
  // Trains until the end, early stopping or *stop (then the state is saved
  // for --resume), writing the folder as it goes.
  RunOutcome train(const std::atomic<bool>* stop, const RunCallbacks& callbacks);

  struct State;  // the folder, the settings, the model file (src/train/run.cpp)

 private:
  explicit Run(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace mnistlab
