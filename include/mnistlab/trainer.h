#pragma once
// The one training loop, for every task (task.h): epochs of shuffled
// mini-batches, evaluation after each (or every Nth), learning-rate schedule, early
// stopping on any of the task's metrics, and a state that resumes bit for
// bit (same seed, same thread count) from any step.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mnistlab/data.h"
#include "mnistlab/distributed.h"
#include "mnistlab/model.h"
#include "mnistlab/optim.h"
#include "mnistlab/schedule.h"
#include "mnistlab/task.h"

namespace mnistlab {

struct TrainOptions {
  int epochs = 15;
  int batch_size = 64;
  int eval_batch_size = 0;  // 0: the training batch size (the arena is sized for one)
  uint64_t seed = 0;        // shuffling and augmentation (initialization is Model::build's seed)
  AugmentOptions augment;   // of the training images
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  // Stop after this many epochs without improvement of early_stop_metric on
  // the evaluation set; 0: never. The metric also picks the best epoch.
  int early_stop_patience = 0;
  // One of the task's eval_metrics() ("loss", "acc", "psnr", "ssim"); empty:
  // the first that is not the loss (accuracy, PSNR).
  std::string early_stop_metric;
  // Evaluate after every Nth epoch and after the last (patience still counts
  // epochs); the other epochs have empty EpochMetrics::eval.
  int eval_every = 1;
  // When set (by a signal handler), stop after the current step. Data
  // parallel: after the first step at whose end any rank's is set.
  const std::atomic<bool>* stop = nullptr;
  // Data parallel (distributed.h): the ranks that train this model together
  // (null: this process alone). batch_size stays the global batch; each rank
  // takes its share, their gradients are summed, and every rank takes the
  // same step; metrics and evaluation cover the whole data on every rank.
  const Communicator* comm = nullptr;
  // BatchNorm's statistics over the global batch (PyTorch's SyncBatchNorm)
  // instead of each rank's share (DistributedDataParallel's default).
  bool sync_batchnorm = false;
  // Parameters the optimizer leaves as they are (PyTorch's requires_grad =
  // False): each a state_dict key ("0.weight") or its leading components
  // ("0": 0.weight and 0.bias; not 10.weight). One that names no
  // parameter is an Error listing the model's.
  std::vector<std::string> freeze;
};

struct EpochMetrics {
  int epoch = 0;              // 1-based
  std::vector<double> train;  // the task's train_metrics(), loss first
  std::vector<double> eval;   // its eval_metrics() on the evaluation set (test, or validation); empty: not evaluated
  double seconds = 0;         // wall time of the training phase
  double images_per_second = 0;
};

// Where a run stands; fit() reads it to resume and updates it as it goes.
struct TrainProgress {
  int epoch = 0;             // epochs finished
  int64_t batch = 0;         // batches done in the epoch under way
  std::vector<double> sums;  // ... their per-sample sums of train_metrics()
  double seconds = 0;        // ... and their seconds
  int best_epoch = 0;        // 1-based; 0: none yet
  double best_metric = 0;
  std::vector<EpochMetrics> history;
  enum class Outcome { Running, Finished, StoppedEarly, Interrupted } outcome = Outcome::Running;
};

struct StepInfo {
  int epoch = 0;         // 1-based
  size_t done = 0;       // images of the epoch so far
  size_t total = 0;      // the epoch's images
  double seconds = 0;    // of the epoch so far
  int64_t step = 0;      // optimizer steps so far, this one included
  double loss = 0;       // this batch's mean loss
  double lr = 0;         // the rate this step used
};

struct TrainCallbacks {
  // After each epoch's evaluation; `improved`: the best epoch so far.
  std::function<void(const EpochMetrics&, bool improved)> on_epoch;
  std::function<void(const StepInfo&)> on_step;
};

// Index of `name` in the task's eval_metrics() (the default when empty);
// Error naming the choices otherwise.
size_t early_stop_index(const Task& task, const std::string& name);

// Trains from `progress` until options.epochs, early stopping or options.stop.
// Throws Error naming the epoch and batch at the first loss or gradient that
// is not finite, and before on_epoch (or an interruption) would hand over
// weights or buffers that are not: callbacks only ever see finite ones. The
// model is left as the failing step made it.
void fit(Model& model, Optimizer& optimizer, Task& task, const Dataset& train, const Dataset& eval_set,
         const TrainOptions& options, TrainProgress& progress, const TrainCallbacks& callbacks);

// --- Classification ----------------------------------------------------

// Throws Error when the model's input is not the dataset's image size or
// its output is not one score per class (Dataset::num_classes; for a
// dataset made in memory, at least one per label), before a run writes
// anything; the message says which line of the model file to change.
void check_classifier_fits(const Model& model, const Dataset& data);

struct EvalResult {
  double loss = 0, acc = 0;
};
// Mean cross-entropy and accuracy over the whole dataset, in eval mode.
// confusion, when given, gets counts[label * K + predicted] for the model's
// K outputs; predicted, the class of each sample in order. With test-time
// augmentation the class probabilities are the mean of the softmax of the
// image's views (TestTimeAugmentation), and the loss is -log of that mean's
// label entry.
EvalResult evaluate(Model& model, const Dataset& data, int batch_size, std::vector<int64_t>* confusion = nullptr,
                    std::vector<int>* predicted = nullptr, const TestTimeAugmentation& tta = {});

// A classifier from scratch with a fresh optimizer; on_epoch gets
// {train loss, train accuracy} and {test loss, test accuracy}. Returns the history.
std::vector<EpochMetrics> fit(Model& model, const Dataset& train, const Dataset& test, const TrainOptions& options,
                              const std::function<void(const EpochMetrics&)>& on_epoch,
                              const std::function<void(const StepInfo&)>& on_step = {});

}  // namespace mnistlab
