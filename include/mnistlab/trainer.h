#pragma once
// The training loop: epochs of shuffled mini-batches, then evaluation.
#include <cstdint>
#include <functional>
#include <vector>

#include "mnistlab/data.h"
#include "mnistlab/model.h"
#include "mnistlab/optim.h"

namespace mnistlab {

struct TrainOptions {
  int epochs = 15;
  int batch_size = 64;
  int eval_batch_size = 0;  // 0: the training batch size (the arena is sized for one)
  uint64_t seed = 0;  // shuffling (initialization is Model::build's seed)
  OptimizerOptions optimizer;
};

struct EpochMetrics {
  int epoch = 0;  // 1-based
  double train_loss = 0, train_acc = 0, test_loss = 0, test_acc = 0;  // accuracies as fractions
  double seconds = 0;  // wall time of the training phase
};

struct EvalResult {
  double loss = 0, acc = 0;
};

// Mean cross-entropy and accuracy over the whole dataset, in eval mode.
EvalResult evaluate(Model& model, const Dataset& data, int batch_size);

// Images done so far in the epoch, the epoch's total, seconds since it began.
using ProgressFn = std::function<void(int epoch, size_t done, size_t total, double seconds)>;

// Trains for options.epochs, calling on_epoch after each epoch's evaluation
// and on_progress (when given) after each step.
std::vector<EpochMetrics> fit(Model& model, const Dataset& train, const Dataset& test, const TrainOptions& options,
                              const std::function<void(const EpochMetrics&)>& on_epoch,
                              const ProgressFn& on_progress = {});

}  // namespace mnistlab
