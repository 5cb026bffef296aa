// nn.CrossEntropyLoss(label_smoothing=eps) against PyTorch
// (tests/reference/make_label_smoothing.py), by hand and by finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/loss.h"
#include "mnistlab/model_file.h"
#include "mnistlab/task.h"

using namespace mnistlab;

// The backend the losses and optimizers compute on here (a model's would be Model::backend()).
static const Backend& cpu_backend() {
  static const std::unique_ptr<Backend> backend = make_backend({});
  return *backend;
}

TEST(LabelSmoothing, LossAndGradientMatchPyTorch) {
  std::ifstream in(std::string(MNISTLAB_REFERENCE_DIR) + "/label_smoothing.json");
  ASSERT_TRUE(in.good()) << "run tests/reference/make_label_smoothing.py (the ctest fixture does)";
  const auto ref = nlohmann::json::parse(in);
  ASSERT_EQ(ref["cases"].size(), 6u);
  double worst_loss = 0, worst_grad = 0;
  for (const auto& c : ref["cases"]) {
    const int k = c["classes"];
    const float eps = c["label_smoothing"];
    std::vector<float> logits = c["logits"].get<std::vector<float>>();
    const std::vector<int32_t> labels = c["labels"].get<std::vector<int32_t>>();
    const std::vector<double> want_grad = c["grad"].get<std::vector<double>>();
    const int n = int(labels.size());
    const std::string which = "K=" + std::to_string(k) + " eps=" + c["label_smoothing"].dump();
    std::vector<float> grad(logits.size());
    const double loss =
        cross_entropy(cpu_backend(), Tensor{logits.data(), n, flat_shape(k)}, labels.data(), grad.data(), nullptr, eps);
    const double want_loss = c["loss"];
    EXPECT_NEAR(loss, want_loss, 1e-9 * want_loss) << which << ": loss differs";
    worst_loss = std::max(worst_loss, std::fabs(loss - want_loss));
    // dL/dz is rounded to float: half an ulp of values below 1/n.
    for (size_t i = 0; i < grad.size(); ++i) {
      EXPECT_NEAR(grad[i], want_grad[i], 1e-8) << which << ": gradient [" << i / k << "][" << i % k << "] differs";
      worst_grad = std::max(worst_grad, std::fabs(grad[i] - want_grad[i]));
    }
  }
  std::printf("largest difference from PyTorch: loss %.3g, gradient %.3g\n", worst_loss, worst_grad);
}

// Equal logits: p = 1/K whatever the target, so the loss is log K and the
// gradient is 1/K minus the smoothed target, over the batch of one.
TEST(LabelSmoothing, HandCalculation) {
  float z[4] = {0.5f, 0.5f, 0.5f, 0.5f};
  const int32_t label = 2;
  float grad[4];
  const double loss = cross_entropy(cpu_backend(), Tensor{z, 1, flat_shape(4)}, &label, grad, nullptr, 0.2f);
  EXPECT_NEAR(loss, std::log(4.0), 1e-12);
  EXPECT_NEAR(grad[0], 0.25f - 0.2f / 4, 1e-7);
  EXPECT_NEAR(grad[2], 0.25f - (0.8f + 0.2f / 4), 1e-7);
  // logits (0, ln 3): p = (1/4, 3/4), label 1, eps 0.5: 0.5 * -ln(3/4) + 0.5 * (-ln(1/4) - ln(3/4)) / 2.
  float two[2] = {0.f, std::log(3.f)};
  const int32_t one = 1;
  EXPECT_NEAR(cross_entropy(cpu_backend(), Tensor{two, 1, flat_shape(2)}, &one, nullptr, nullptr, 0.5f),
              -0.5 * std::log(0.75) - 0.25 * (std::log(0.25) + std::log(0.75)), 1e-7);
}

TEST(LabelSmoothing, GradientMatchesFiniteDifferences) {
  const int n = 3, k = 5;
  const float eps = 0.3f;
  std::vector<float> z(n * k), grad(n * k);
  for (int i = 0; i < n * k; ++i) z[i] = std::cos(1.3f * i) * 2.f;
  const std::vector<int32_t> labels = {1, 4, 0};
  const auto loss = [&](float* g) {
    return cross_entropy(cpu_backend(), Tensor{z.data(), n, flat_shape(k)}, labels.data(), g, nullptr, eps);
  };
  loss(grad.data());
  const float h = 1e-2f;
  for (int i = 0; i < n * k; ++i) {
    const float saved = z[i];
    z[i] = saved + h;
    const double up = loss(nullptr);
    z[i] = saved - h;
    const double down = loss(nullptr);
    z[i] = saved;
    EXPECT_NEAR(grad[i], (up - down) / (2 * h), 2e-4) << i;
  }
}

TEST(LabelSmoothing, OutsideZeroToOneIsRefused) {
  float z[2] = {0.f, 1.f};
  const int32_t label = 0;
  for (float eps : {-0.1f, 1.0f, 1.5f, std::nanf("")})
    EXPECT_THROW(cross_entropy(cpu_backend(), Tensor{z, 1, flat_shape(2)}, &label, nullptr, nullptr, eps), Error) << eps;
}

// The task's train_loss is the smoothed loss; its evaluation stays plain
// cross-entropy, so test losses compare across runs.
TEST(LabelSmoothing, TheTaskTrainsSmoothedAndEvaluatesPlain) {
  Model model = parse_model("input 1 4 4\nflatten\nlinear 10\n", "tiny");
  model.build(2);
  Dataset data;
  data.rows = data.cols = 4;
  for (int i = 0; i < 6; ++i) {
    data.labels.push_back(uint8_t(i));
    for (int p = 0; p < 16; ++p) data.pixels.push_back(uint8_t((37 * i + 11 * p) % 256));
  }
  std::vector<float> images(data.pixels.begin(), data.pixels.end());
  for (float& x : images) x /= 255.0f;
  const std::vector<int32_t> labels(data.labels.begin(), data.labels.end());
  model.reserve(6);
  auto task = make_classification_task({0.3f, false});
  task->reserve(model, 6);
  model.train();
  double sums[2] = {0, 0};
  task->train_step(model, images.data(), labels.data(), 6, 6, 0, 0, sums);  // no optimizer step: same weights after
  const Tensor& logits = model.forward(images.data(), 6);
  EXPECT_NEAR(sums[0] / 6, cross_entropy(model.backend(), logits, labels.data(), nullptr, nullptr, 0.3f), 1e-12);
  const double plain = cross_entropy(model.backend(), logits, labels.data(), nullptr, nullptr);
  EXPECT_NEAR(task->evaluate(model, data, 4)[0], plain, 1e-6);
  EXPECT_THROW(make_classification_task({1.f, false}), Error);
}
