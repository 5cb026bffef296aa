#include "mnistlab/trainer.h"

#include <chrono>

#include "mnistlab/error.h"
#include "mnistlab/loss.h"

namespace mnistlab {
namespace {

constexpr int kNumClasses = 10;

}  // namespace

void check_classifier_fits(const Model& model, const Dataset& data) {
  const SampleShape in = model.input_shape();
  if (in.c != 1 || in.h != data.rows || in.w != data.cols)
    throw Error("the model takes inputs " + in.str() + " but the dataset has 1x" + std::to_string(data.rows) + "x" +
                std::to_string(data.cols) + " images");
  if (model.output_shape().numel() != kNumClasses)
    throw Error("a classifier for these datasets needs 10 outputs, the model has " + model.output_shape().str());
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Records the finished epoch; says whether it is the best so far.
bool close_epoch(TrainProgress& p, const EpochMetrics& m, bool on_loss) {
  const double metric = on_loss ? m.test_loss : m.test_acc;
  const bool improved = p.best_epoch == 0 || (on_loss ? metric < p.best_metric : metric > p.best_metric);
  if (improved) {
    p.best_epoch = m.epoch;
    p.best_metric = metric;
  }
  p.history.push_back(m);
  p.epoch = m.epoch;
  p.batch = 0;
  p.loss_sum = 0;
  p.correct = 0;
  p.seconds = 0;
  return improved;
}

}  // namespace

EvalResult evaluate(Model& model, const Dataset& data, int batch_size, std::vector<int64_t>* confusion,
                    std::vector<int>* predicted) {
  check_classifier_fits(model, data);
  if (confusion) confusion->assign(kNumClasses * kNumClasses, 0);
  if (predicted) predicted->clear();
  if (data.size() == 0) return {};
  const bool was_training = model.is_training();
  model.eval();
  BatchLoader loader(data, batch_size, false, 0);
  std::vector<float> images(size_t(batch_size) * data.image_size());
  std::vector<int32_t> labels(batch_size);
  loader.start_epoch(0);
  double loss_sum = 0;
  long correct = 0;
  for (int n; (n = loader.next(images.data(), labels.data())) > 0;) {
    int right = 0;
    const Tensor& logits = model.forward(images.data(), n);
    loss_sum += cross_entropy(logits, labels.data(), nullptr, &right) * n;
    correct += right;
    if (!confusion && !predicted) continue;
    for (int i = 0; i < n; ++i) {
      const float* row = logits.sample(i);
      int best = 0;
      for (int k = 1; k < kNumClasses; ++k)
        if (row[k] > row[best]) best = k;
      if (confusion) ++(*confusion)[size_t(labels[i]) * kNumClasses + size_t(best)];
      if (predicted) predicted->push_back(best);
    }
  }
  model.train(was_training);
  return {loss_sum / double(data.size()), double(correct) / double(data.size())};
}

void fit(Model& model, Optimizer& optimizer, const Dataset& train, const Dataset& eval_set,
         const TrainOptions& options, TrainProgress& progress, const TrainCallbacks& callbacks) {
  check_classifier_fits(model, train);
  if (train.size() == 0) throw Error("the training set is empty");
  const int batch = options.batch_size;
  const int eval_batch = options.eval_batch_size > 0 ? options.eval_batch_size : batch;
  model.reserve(std::max(batch, eval_batch));
  BatchLoader loader(train, batch, true, options.seed);
  const LrSchedule schedule(options.schedule, options.optimizer.lr, options.epochs, int64_t(loader.num_batches()));
  std::vector<float> images(size_t(batch) * train.image_size());
  std::vector<float> dlogits(size_t(batch) * model.output_shape().numel());
  std::vector<int32_t> labels(batch);
  // Dropout's masks follow the step count; after a resume it is the optimizer's.
  model.set_training_steps(uint64_t(optimizer.steps()));
  progress.outcome = TrainProgress::Outcome::Running;

  for (int epoch = progress.epoch; epoch < options.epochs; ++epoch) {
    model.train();
    loader.start_epoch(epoch);
    loader.skip_batches(size_t(progress.batch));
    const auto start = std::chrono::steady_clock::now();
    const double seconds_before = progress.seconds;
    size_t done = std::min(train.size(), size_t(progress.batch) * size_t(batch));
    for (int n; (n = loader.next(images.data(), labels.data())) > 0;) {
      const ScheduleValue rate = schedule.at(optimizer.steps());
      optimizer.set_lr(rate.lr);
      if (rate.momentum >= 0) optimizer.set_momentum(rate.momentum);
      int right = 0;
      const Tensor& logits = model.forward(images.data(), n);
      progress.loss_sum += cross_entropy(logits, labels.data(), dlogits.data(), &right) * n;
      progress.correct += right;
      model.backward(dlogits.data());
      optimizer.step(model.parameters(), model.gradients());
      ++progress.batch;
      done += size_t(n);
      progress.seconds = seconds_before + seconds_since(start);
      if (callbacks.on_step) callbacks.on_step(epoch + 1, done, train.size(), progress.seconds);
      if (options.stop && options.stop->load()) {
        progress.outcome = TrainProgress::Outcome::Interrupted;
        return;
      }
    }
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.seconds = progress.seconds;
    m.train_loss = progress.loss_sum / double(train.size());
    m.train_acc = double(progress.correct) / double(train.size());
    const EvalResult t = evaluate(model, eval_set, eval_batch);
    m.test_loss = t.loss;
    m.test_acc = t.acc;
    const bool improved = close_epoch(progress, m, options.early_stop_on_loss);
    if (callbacks.on_epoch) callbacks.on_epoch(m, improved);
    if (options.early_stop_patience > 0 && progress.epoch - progress.best_epoch >= options.early_stop_patience) {
      progress.outcome = TrainProgress::Outcome::StoppedEarly;
      return;
    }
    if (options.stop && options.stop->load()) {
      progress.outcome = TrainProgress::Outcome::Interrupted;
      return;
    }
  }
  progress.outcome = TrainProgress::Outcome::Finished;
}

std::vector<EpochMetrics> fit(Model& model, const Dataset& train, const Dataset& test, const TrainOptions& options,
                              const std::function<void(const EpochMetrics&)>& on_epoch,
                              const ProgressFn& on_progress) {
  auto optimizer = make_optimizer(options.optimizer, model.parameter_count());
  TrainProgress progress;
  TrainCallbacks callbacks;
  if (on_epoch) callbacks.on_epoch = [&](const EpochMetrics& m, bool) { on_epoch(m); };
  callbacks.on_step = on_progress;
  fit(model, *optimizer, train, test, options, progress, callbacks);
  return progress.history;
}

}  // namespace mnistlab
