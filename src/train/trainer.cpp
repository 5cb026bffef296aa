#include "mnistlab/trainer.h"

#include <chrono>

#include "mnistlab/error.h"
#include "mnistlab/loss.h"

namespace mnistlab {
namespace {

void check_fits(const Model& model, const Dataset& data) {
  const SampleShape in = model.input_shape();
  if (in.c != 1 || in.h != data.rows || in.w != data.cols)
    throw Error("the model takes inputs " + in.str() + " but the dataset has 1x" + std::to_string(data.rows) + "x" +
                std::to_string(data.cols) + " images");
  if (model.output_shape().numel() != 10)
    throw Error("a classifier for these datasets needs 10 outputs, the model has " + model.output_shape().str());
}

}  // namespace

EvalResult evaluate(Model& model, const Dataset& data, int batch_size) {
  check_fits(model, data);
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
    loss_sum += cross_entropy(model.forward(images.data(), n), labels.data(), nullptr, &right) * n;
    correct += right;
  }
  model.train(was_training);
  return {loss_sum / double(data.size()), double(correct) / double(data.size())};
}

std::vector<EpochMetrics> fit(Model& model, const Dataset& train, const Dataset& test, const TrainOptions& options,
                              const std::function<void(const EpochMetrics&)>& on_epoch,
                              const ProgressFn& on_progress) {
  check_fits(model, train);
  if (train.size() == 0) throw Error("the training set is empty");
  auto optimizer = make_optimizer(options.optimizer, model.parameter_count());
  const int batch = options.batch_size;
  const int eval_batch = options.eval_batch_size > 0 ? options.eval_batch_size : batch;
  model.reserve(std::max(batch, eval_batch));
  BatchLoader loader(train, batch, true, options.seed);
  std::vector<float> images(size_t(batch) * train.image_size());
  std::vector<float> dlogits(size_t(batch) * model.output_shape().numel());
  std::vector<int32_t> labels(batch);
  std::vector<EpochMetrics> history;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    model.train();
    loader.start_epoch(epoch);
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    long correct = 0;
    size_t done = 0;
    for (int n; (n = loader.next(images.data(), labels.data())) > 0;) {
      int right = 0;
      const Tensor& logits = model.forward(images.data(), n);
      loss_sum += cross_entropy(logits, labels.data(), dlogits.data(), &right) * n;
      correct += right;
      model.backward(dlogits.data());
      optimizer->step(model.parameters(), model.gradients());
      done += size_t(n);
      if (on_progress)
        on_progress(epoch + 1, done, train.size(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m.train_loss = loss_sum / double(train.size());
    m.train_acc = double(correct) / double(train.size());
    const EvalResult t = evaluate(model, test, eval_batch);
    m.test_loss = t.loss;
    m.test_acc = t.acc;
    history.push_back(m);
    if (on_epoch) on_epoch(m);
  }
  return history;
}

}  // namespace mnistlab
