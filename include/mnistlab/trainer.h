#pragma once
// The training loop: epochs of shuffled mini-batches, evaluation after each,
// learning-rate schedule, early stopping, and a state that resumes bit for
// bit (same seed, same thread count) from any step.
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "mnistlab/data.h"
#include "mnistlab/model.h"
#include "mnistlab/optim.h"
#include "mnistlab/schedule.h"

namespace mnistlab {

struct TrainOptions {
  int epochs = 15;
  int batch_size = 64;
  int eval_batch_size = 0;  // 0: the training batch size (the arena is sized for one)
  uint64_t seed = 0;        // shuffling (initialization is Model::build's seed)
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  // Stop after this many epochs without improvement of the metric on the
  // evaluation set; 0: never.
  int early_stop_patience = 0;
  bool early_stop_on_loss = false;  // the metric: accuracy (higher is better) or loss (lower)
  // When set (by a signal handler), stop after the current step.
  const std::atomic<bool>* stop = nullptr;
};

struct EpochMetrics {
  int epoch = 0;  // 1-based
  double train_loss = 0, train_acc = 0;
  double test_loss = 0, test_acc = 0;  // on the evaluation set (test, or validation with --val-split)
  double seconds = 0;                  // wall time of the training phase
};

// Where a run stands; fit() reads it to resume and updates it as it goes.
struct TrainProgress {
  int epoch = 0;         // epochs finished
  int64_t batch = 0;     // batches done in the epoch under way
  double loss_sum = 0;   // ... and their summed loss, correct count and seconds
  int64_t correct = 0;
  double seconds = 0;
  int best_epoch = 0;    // 1-based; 0: none yet
  double best_metric = 0;
  std::vector<EpochMetrics> history;
  enum class Outcome { Running, Finished, StoppedEarly, Interrupted } outcome = Outcome::Running;
};

struct EvalResult {
  double loss = 0, acc = 0;
};

// Mean cross-entropy and accuracy over the whole dataset, in eval mode.
// confusion, when given, gets counts[label * 10 + predicted]; predicted, the
// class of each sample in order.
EvalResult evaluate(Model& model, const Dataset& data, int batch_size, std::vector<int64_t>* confusion = nullptr,
                    std::vector<int>* predicted = nullptr);

// Images done so far in the epoch, the epoch's total, seconds since it began.
using ProgressFn = std::function<void(int epoch, size_t done, size_t total, double seconds)>;

struct TrainCallbacks {
  // After each epoch's evaluation; `improved`: the best epoch so far.
  std::function<void(const EpochMetrics&, bool improved)> on_epoch;
  ProgressFn on_step;
};

// Trains from `progress` until options.epochs, early stopping or options.stop.
// Throws Error when the model's input is not the dataset's image size or
// its output is not one score per class (before a run writes anything).
void check_classifier_fits(const Model& model, const Dataset& data);

void fit(Model& model, Optimizer& optimizer, const Dataset& train, const Dataset& eval_set,
         const TrainOptions& options, TrainProgress& progress, const TrainCallbacks& callbacks);

// From scratch, with a fresh optimizer; returns the per-epoch metrics.
std::vector<EpochMetrics> fit(Model& model, const Dataset& train, const Dataset& test, const TrainOptions& options,
                              const std::function<void(const EpochMetrics&)>& on_epoch,
                              const ProgressFn& on_progress = {});

}  // namespace mnistlab
