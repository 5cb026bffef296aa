// CrossEntropyLoss against hand calculations and finite differences; the
// optimizers against their update rules worked out by hand (the pseudocode
// in PyTorch's documentation of SGD, Adam and AdamW).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/loss.h"
#include "mnistlab/optim.h"

using namespace mnistlab;

// The backend the losses and optimizers compute on here (a model's would be Model::backend()).
static const Backend& cpu_backend() {
  static const std::unique_ptr<Backend> backend = make_backend({});
  return *backend;
}

TEST(CrossEntropy, HandCalculation) {
  // logits (0, ln 3): softmax (1/4, 3/4); label 1 -> loss -ln(3/4).
  float z[2] = {0.f, std::log(3.f)};
  int32_t label = 1;
  float grad[2];
  int correct = 0;
  const double loss = cross_entropy(cpu_backend(), Tensor{z, 1, flat_shape(2)}, &label, grad, &correct);
  EXPECT_NEAR(loss, -std::log(0.75), 1e-6);
  EXPECT_NEAR(grad[0], 0.25f, 1e-6);
  EXPECT_NEAR(grad[1], -0.25f, 1e-6);
  EXPECT_EQ(correct, 1);
}

TEST(CrossEntropy, StableForHugeLogits) {
  float z[3] = {1000.f, 0.f, -1000.f};
  int32_t label = 1;
  float grad[3];
  const double loss = cross_entropy(cpu_backend(), Tensor{z, 1, flat_shape(3)}, &label, grad, nullptr);
  EXPECT_NEAR(loss, 1000.0, 1e-3);
  EXPECT_NEAR(grad[0], 1.f, 1e-6);
  EXPECT_NEAR(grad[1], -1.f, 1e-6);
}

TEST(CrossEntropy, GradientMatchesFiniteDifferencesAndIsMeanOverBatch) {
  const int n = 3, k = 5;
  std::vector<float> z(n * k), grad(n * k);
  for (int i = 0; i < n * k; ++i) z[i] = std::sin(1.7f * i) * 2.f;
  std::vector<int32_t> labels = {4, 0, 2};
  cross_entropy(cpu_backend(), Tensor{z.data(), n, flat_shape(k)}, labels.data(), grad.data(), nullptr);
  const float eps = 1e-2f;
  for (int i = 0; i < n * k; ++i) {
    const float saved = z[i];
    z[i] = saved + eps;
    const double up = cross_entropy(cpu_backend(), Tensor{z.data(), n, flat_shape(k)}, labels.data(), nullptr, nullptr);
    z[i] = saved - eps;
    const double down = cross_entropy(cpu_backend(), Tensor{z.data(), n, flat_shape(k)}, labels.data(), nullptr, nullptr);
    z[i] = saved;
    EXPECT_NEAR(grad[i], (up - down) / (2 * eps), 2e-4) << i;
  }
}

// L1 and MSE by hand: differences (1, -2, 0, 0.5) over 4 elements.
TEST(RegressionLoss, HandCalculation) {
  float out[4] = {1.f, -1.f, 3.f, 0.5f};
  const float target[4] = {0.f, 1.f, 3.f, 0.f};
  float grad[4];
  const Tensor y{out, 2, flat_shape(2)};
  EXPECT_NEAR(l1_loss(cpu_backend(), y, target, grad), (1 + 2 + 0 + 0.5) / 4.0, 1e-7);
  EXPECT_FLOAT_EQ(grad[0], 0.25f);
  EXPECT_FLOAT_EQ(grad[1], -0.25f);
  EXPECT_FLOAT_EQ(grad[2], 0.f);  // torch.sign(0) = 0
  EXPECT_NEAR(mse_loss(cpu_backend(), y, target, grad), (1 + 4 + 0 + 0.25) / 4.0, 1e-7);
  EXPECT_FLOAT_EQ(grad[1], 2 * -2.f / 4);
  EXPECT_FLOAT_EQ(grad[3], 2 * 0.5f / 4);
}

TEST(RegressionLoss, GradientsMatchFiniteDifferences) {
  std::vector<float> out(12), target(12), grad(12);
  for (int i = 0; i < 12; ++i) {
    out[i] = std::sin(1.3f * i);
    target[i] = std::cos(0.7f * i) * 0.5f;
  }
  for (auto loss : {l1_loss, mse_loss}) {
    loss(cpu_backend(), Tensor{out.data(), 3, flat_shape(4)}, target.data(), grad.data(), 0);
    const float eps = 1e-3f;
    for (int i = 0; i < 12; ++i) {
      const float saved = out[i];
      out[i] = saved + eps;
      const double up = loss(cpu_backend(), Tensor{out.data(), 3, flat_shape(4)}, target.data(), nullptr, 0);
      out[i] = saved - eps;
      const double down = loss(cpu_backend(), Tensor{out.data(), 3, flat_shape(4)}, target.data(), nullptr, 0);
      out[i] = saved;
      EXPECT_NEAR(grad[i], (up - down) / (2 * eps), 1e-4) << i;
    }
  }
}

TEST(Optimizer, SgdMomentumTwoSteps) {
  OptimizerOptions o;
  o.kind = OptimizerKind::Sgd;
  o.lr = 0.1f;
  o.momentum = 0.9f;
  auto opt = make_optimizer(o, 1);
  float p = 1.f, g0 = 0.5f, g1 = -0.2f;
  opt->step(cpu_backend(), &p, &g0);  // buf = g0; p = 1 - 0.1*0.5
  EXPECT_NEAR(p, 0.95f, 1e-7);
  opt->step(cpu_backend(), &p, &g1);  // buf = 0.9*0.5 - 0.2 = 0.25; p = 0.95 - 0.025
  EXPECT_NEAR(p, 0.925f, 1e-7);
}

TEST(Optimizer, SgdNesterovWithWeightDecay) {
  OptimizerOptions o;
  o.kind = OptimizerKind::Sgd;
  o.lr = 0.1f;
  o.momentum = 0.5f;
  o.nesterov = true;
  o.weight_decay = 0.1f;
  auto opt = make_optimizer(o, 1);
  float p = 2.f, g = 1.f;
  opt->step(cpu_backend(), &p, &g);  // d = 1 + 0.1*2 = 1.2; buf = 1.2; d = 1.2 + 0.5*1.2 = 1.8; p = 2 - 0.18
  EXPECT_NEAR(p, 1.82f, 1e-6);
}

TEST(Optimizer, AdamFirstStepIsLrTimesSign) {
  // m_hat = g, v_hat = g^2 after one step, so p moves by lr * g / (|g| + eps).
  auto opt = make_optimizer(OptimizerOptions{}, 2);
  float p[2] = {1.f, 1.f}, g[2] = {3.f, -0.01f};
  opt->step(cpu_backend(), p, g);
  EXPECT_NEAR(p[0], 1.f - 1e-3f, 1e-6);
  EXPECT_NEAR(p[1], 1.f + 1e-3f, 1e-6);
}

TEST(Optimizer, AdamSecondStepHandCalculation) {
  OptimizerOptions o;
  o.lr = 0.1f;
  auto opt = make_optimizer(o, 1);
  float p = 0.f, g0 = 1.f, g1 = 2.f;
  opt->step(cpu_backend(), &p, &g0);
  opt->step(cpu_backend(), &p, &g1);
  const double m = 0.9 * 0.1 * 1 + 0.1 * 2, v = 0.999 * 0.001 * 1 + 0.001 * 4;
  const double m_hat = m / (1 - 0.81), v_hat = v / (1 - 0.999 * 0.999);
  EXPECT_NEAR(p, -0.1 - 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-6);
}

TEST(Optimizer, AdamWDecaysWeightsBeforeTheAdamStep) {
  OptimizerOptions o;
  o.kind = OptimizerKind::AdamW;  // default weight decay 1e-2
  o.lr = 0.1f;
  auto opt = make_optimizer(o, 1);
  float p = 2.f, g = 0.5f;
  opt->step(cpu_backend(), &p, &g);  // p = 2*(1 - 0.1*0.01) - 0.1 * sign(g)
  EXPECT_NEAR(p, 2.f * 0.999f - 0.1f, 1e-6);
}

TEST(Optimizer, AdamL2WeightDecayEntersTheGradient) {
  OptimizerOptions o;
  o.weight_decay = 1.f;
  auto opt = make_optimizer(o, 1);
  float p = 1.f, g = -0.5f;  // g + wd*p = 0.5 > 0, so p decreases by lr
  opt->step(cpu_backend(), &p, &g);
  EXPECT_NEAR(p, 1.f - 1e-3f, 1e-6);
}

TEST(Optimizer, RejectsBadOptions) {
  OptimizerOptions o;
  EXPECT_THROW(parse_optimizer("rmsprop"), Error);
  EXPECT_EQ(parse_optimizer("adamw"), OptimizerKind::AdamW);
  o.kind = OptimizerKind::Sgd;
  o.lr = -1;
  EXPECT_THROW(make_optimizer(o, 1), Error);
  o.lr = 0.1f;
  o.nesterov = true;  // without momentum
  EXPECT_THROW(make_optimizer(o, 1), Error);
}
