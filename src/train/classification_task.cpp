// The classification task: cross-entropy (label smoothing optional) on one
// score per class, accuracy, and a picture of the test images the model gets
// wrong; evaluation with or without test-time flips.
#include <algorithm>
#include <cstdio>

#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/image_grid.h"
#include "mnistlab/loss.h"
#include "mnistlab/report.h"
#include "mnistlab/run.h"
#include "mnistlab/trainer.h"
#include "loss/log_softmax.h"
#include "report/label_strip.h"
#include "train/class_log_probs.h"
#include "train/last_evaluation.h"
#include "train/memory_budget.h"
#include "train/task_evaluation.h"

namespace mnistlab {
namespace {

constexpr int kPictureImages = 32, kPicturePerRow = 8;

// "label>predicted" under a misclassified image: the class names when they
// fit under it, else the class numbers.
std::string caption(const Dataset& data, int label, int predicted) {
  const std::vector<std::string>& names = data.class_names;
  if (size_t(std::max(label, predicted)) < names.size()) {
    const std::string text = names[size_t(label)] + ">" + names[size_t(predicted)];
    if (label_strip_fits(text, data.cols)) return text;
  }
  return std::to_string(label) + ">" + std::to_string(predicted);
}

// The report's row names: the dataset's class names, or the class numbers.
std::vector<std::string> class_names_or_numbers(const Dataset& data, size_t classes) {
  if (data.class_names.size() == classes) return data.class_names;
  std::vector<std::string> numbers;
  for (size_t c = 0; c < classes; ++c) numbers.push_back(std::to_string(c));
  return numbers;
}

class ClassificationTask final : public Task {
 public:
  explicit ClassificationTask(const ClassificationOptions& o) : o_(o) {
    o_.label_smoothing = checked_label_smoothing(o.label_smoothing);  // before a run writes anything
  }
  TaskKind kind() const override { return TaskKind::Classification; }
  void check(const Model& model, const Dataset& data) const override { check_classifier_fits(model, data); }
  std::vector<MetricInfo> train_metrics() const override { return {loss(), accuracy()}; }
  std::vector<MetricInfo> eval_metrics() const override { return {loss(), accuracy()}; }

  void reserve(Model& model, int batch_size) override {
    dlogits_ = model.backend().allocate(batch_floats(model, batch_size) * sizeof(float));
  }
  size_t batch_floats(const Model& model, int batch_size) const override {
    return size_t(batch_size) * model.output_shape().numel();
  }

  void train_step(Model& model, const float* images, const int32_t* labels, int n, int batch, int, size_t,
                  double* sums) override {
    int right = 0;
    const Tensor& logits = model.forward(images, n);
    float* dlogits = dlogits_->as<float>();
    sums[0] += cross_entropy(model.backend(), logits, labels, dlogits, &right, o_.label_smoothing, batch) * n;
    sums[1] += right;
    model.backward(dlogits);
  }

  std::vector<double> evaluate(Model& model, const Dataset& data, int batch_size) override {
    Evaluation e;
    e.result = mnistlab::evaluate(model, data, batch_size, nullptr, &e.classes, o_.tta);
    const std::vector<double> metrics = {e.result.loss, e.result.acc};
    last_.keep(data, model, std::move(e));
    return metrics;
  }

  // The first misclassified test images, each above "label>predicted".
  GrayImage picture(Model& model, const Dataset& test, int batch_size) override {
    // Without a validation split the loop has just evaluated this set with
    // these weights: no second pass.
    std::vector<int> predicted;
    if (std::optional<Evaluation> e = last_.take(test, model)) predicted = std::move(e->classes);
    else mnistlab::evaluate(model, test, batch_size, nullptr, &predicted, o_.tta);
    const size_t pixels = test.image_size();
    std::vector<std::vector<float>> cells;
    for (size_t i = 0; i < test.size() && cells.size() < kPictureImages; ++i) {
      if (predicted[i] == test.labels[i]) continue;
      std::vector<float> cell(pixels);
      for (size_t p = 0; p < pixels; ++p) cell[p] = float(test.pixels[i * pixels + p]) / 255.0f;
      append_label_strip(caption(test, test.labels[i], predicted[i]), test.cols, cell);
      cells.push_back(std::move(cell));
    }
    if (cells.empty()) return {};
    std::vector<std::vector<const float*>> rows;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i % kPicturePerRow == 0) rows.emplace_back();
      rows.back().push_back(cells[i].data());
    }
    GridLayout layout;
    layout.group_size = 1;
    return image_grid(rows, int(cells[0].size() / size_t(test.cols)), test.cols, layout);
  }
  std::string picture_name() const override { return "misclassified"; }
  bool uses_class_names() const override { return true; }

  std::string report(Model& model, const Dataset& test, int batch_size) override {
    // The run's final evaluation of this set, when it came just before.
    const size_t classes = model.output_shape().numel();
    std::vector<int64_t> confusion;
    EvalResult r;
    if (std::optional<Evaluation> e = last_.take(test, model)) {
      r = e->result;
      confusion.assign(classes * classes, 0);
      for (size_t i = 0; i < test.size(); ++i) ++confusion[size_t(test.labels[i]) * classes + size_t(e->classes[i])];
    } else {
      r = mnistlab::evaluate(model, test, batch_size, &confusion, nullptr, o_.tta);
    }
    char line[160];
    const std::string views = o_.tta.views() > 1 ? " (softmax averaged over " + o_.tta.describe() + ")" : "";
    std::snprintf(line, sizeof line, "test_loss %.6f test_acc %.6f%s\n\n", r.loss, r.acc, views.c_str());
    return line + class_report(confusion, class_names_or_numbers(test, classes));
  }

 private:
  static MetricInfo loss() { return {"loss", "loss", false, kNoLimit, "cross-entropy loss"}; }
  static MetricInfo accuracy() { return {"acc", "accuracy", true, 1.0, "accuracy (%)", false, 100, 2, "%"}; }
  static constexpr double kNoLimit = std::numeric_limits<double>::infinity();

  struct Evaluation {
    EvalResult result;
    std::vector<int> classes;  // predicted, sample by sample
  };
  ClassificationOptions o_;
  std::unique_ptr<Storage> dlogits_;  // dL/dlogits, in the backend's memory
  LastEvaluation<Evaluation> last_;
};

}  // namespace

void check_flips_allowed(const std::string& dataset, const std::string& option) {
  if (dataset == "mnist")
    throw Error(option + ": a mirrored digit is not the same digit (MNIST is not flip-invariant); flips are for "
                "datasets such as fashion");
}

EvalResult evaluate(Model& model, const Dataset& data, int batch_size, std::vector<int64_t>* confusion,
                    std::vector<int>* predicted, const TestTimeAugmentation& tta) {
  check_classifier_fits(model, data);
  const size_t classes = model.output_shape().numel();
  if (confusion) confusion->assign(classes * classes, 0);
  if (predicted) predicted->clear();
  if (data.size() == 0) return {};
  EvalMode eval_mode(&model);
  std::vector<double> log_p;
  double loss_sum = 0;
  long correct = 0;
  const int batch = evaluation_batch(model, int(std::min(size_t(batch_size), data.size())));
  for_each_batch(data, batch, [&](float* images, const int32_t* labels, int n, size_t) {
    class_log_probs(model, images, n, tta, log_p);
    for (int i = 0; i < n; ++i) {
      const double* row = log_p.data() + size_t(i) * classes;
      const int best = argmax(row, int(classes));
      loss_sum -= row[labels[i]];
      correct += best == labels[i];
      if (confusion) ++(*confusion)[size_t(labels[i]) * classes + size_t(best)];
      if (predicted) predicted->push_back(best);
    }
  });
  return {loss_sum / double(data.size()), double(correct) / double(data.size())};
}

std::unique_ptr<Task> make_classification_task(const ClassificationOptions& options) {
  return std::make_unique<ClassificationTask>(options);
}

const TaskType& classification_task_type() {
  static const TaskType type{
      .kind = TaskKind::Classification,
      .command = "mnistlab train",
      .defaults =
          [](RunConfig& c) {
            c.model = "baseline";
            c.dataset = "mnist";
            c.train.epochs = 15;
            c.train.batch_size = 64;
          },
      .check =
          [](RunConfig& c) {
            // A denoiser may see mirrored digits: only a class depends on handedness.
            if (c.classification.tta.flip) check_flips_allowed(c.dataset, kTtaOption);
            if (c.train.augment.hflip) check_flips_allowed(c.dataset, "--augment hflip (RandomHorizontalFlip)");
          },
      .make = [](const RunConfig& c) { return make_classification_task(c.classification); },
  };
  return type;
}

}  // namespace mnistlab
