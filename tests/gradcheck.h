#pragma once
// The one gradient check every layer test calls: analytic gradients of
// L = sum(y * r) for a fixed random r against central finite differences,
// in double precision for the loss, for the input and every parameter.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "mnistlab/model.h"
#include "mnistlab/rng.h"

namespace mnistlab::test {

#define EXPECT_GRADCHECK(result)                                                                          \
  do {                                                                                                    \
    const auto r_ = (result);                                                                             \
    EXPECT_TRUE(r_.ok) << "worst " << r_.worst << " at " << r_.where << " (" << r_.checked << " checked)"; \
    EXPECT_GT(r_.checked, 0);                                                                             \
  } while (0)

struct GradCheckResult {
  bool ok = true;
  double worst = 0;    // largest |analytic - numeric| / (atol + rtol*|numeric|)
  std::string where;   // "input[3]" or "weight[17]" at the worst point
  int checked = 0;
};

struct GradCheckOptions {
  int batch = 2;
  float eps = 1e-2f;
  double atol = 2e-3, rtol = 2e-2;
  float input_lo = -1.f, input_hi = 1.f;
  float input_min_abs = 0.f;  // keep inputs away from kinks (ReLU at 0)
  bool distinct_inputs = false;  // inputs at least 4*eps apart (MaxPool's argmax must not flip)
  bool training = true;
  uint64_t seed = 1;
  BackendOptions backend;  // the route under test: threads, instruction set, algorithm
};

inline double weighted_sum(const Tensor& y, const std::vector<float>& r) {
  double s = 0;
  for (size_t i = 0; i < y.numel(); ++i) s += double(y.data[i]) * r[i];
  return s;
}

// A whole model: joins and fan-out are checked through the model's backward.
inline GradCheckResult gradcheck(Model model, const GradCheckOptions& o = {}) {
  const SampleShape in = model.input_shape();
  model.build(o.seed);
  model.set_backend(o.backend);
  model.reserve(o.batch);
  model.train(o.training);
  Rng rng(o.seed + 100);
  std::vector<float> x(size_t(o.batch) * in.numel());
  for (float& v : x) {
    do v = rng.uniform(o.input_lo, o.input_hi);
    while (std::fabs(v) < o.input_min_abs);
  }
  if (o.distinct_inputs) {
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 4.f * o.eps - float(x.size()) * 2.f * o.eps;
    for (size_t i = x.size(); i > 1; --i) std::swap(x[i - 1], x[rng.next() % i]);
  }
  // Small random parameters beyond the default init, so biases matter too.
  for (auto& e : model.state_dict())
    if (e.param->kind == ParamKind::Parameter)
      for (size_t i = 0; i < e.param->numel(); ++i) e.param->value[i] += rng.uniform(-0.1f, 0.1f);
  const size_t out_count = size_t(o.batch) * model.output_shape().numel();
  std::vector<float> r(out_count);
  for (float& v : r) v = rng.uniform(-1.f, 1.f);

  // Random masks are a function of the training step: every forward below
  // draws the same ones as this first.
  const uint64_t step = model.training_steps();
  model.forward(x.data(), o.batch);
  std::vector<float> dx(x.size());
  model.backward(r.data(), dx.data());
  std::vector<float> grads(model.gradients(), model.gradients() + model.parameter_count());

  GradCheckResult result;
  auto loss_at = [&] {
    model.set_training_steps(step);
    return weighted_sum(model.forward(x.data(), o.batch), r);
  };
  auto compare = [&](float* value, float analytic, const std::string& name) {
    const float saved = *value;
    *value = saved + o.eps;
    const double up = loss_at();
    *value = saved - o.eps;
    const double down = loss_at();
    *value = saved;
    const double numeric = (up - down) / (2.0 * o.eps);
    const double err = std::fabs(analytic - numeric) / (o.atol + o.rtol * std::fabs(numeric));
    ++result.checked;
    if (err > result.worst) {
      result.worst = err;
      result.where = name + " analytic " + std::to_string(analytic) + " numeric " + std::to_string(numeric);
    }
  };
  // Every entry of small tensors, a stride through large ones.
  auto stride_for = [](size_t n) { return n <= 200 ? size_t(1) : n / 97; };
  for (size_t i = 0; i < x.size(); i += stride_for(x.size())) compare(&x[i], dx[i], "input[" + std::to_string(i) + "]");
  size_t offset = 0;
  for (auto& e : model.state_dict()) {
    if (e.param->kind != ParamKind::Parameter) continue;
    const size_t n = e.param->numel();
    for (size_t i = 0; i < n; i += stride_for(n))
      compare(&e.param->value[i], grads[offset + i], e.key + "[" + std::to_string(i) + "]");
    offset += n;
  }
  result.ok = result.worst <= 1.0;
  return result;
}

inline GradCheckResult gradcheck(std::unique_ptr<Layer> layer, const SampleShape& in,
                                 const GradCheckOptions& o = {}) {
  Model model(in);
  model.add(std::move(layer));
  return gradcheck(std::move(model), o);
}

}  // namespace mnistlab::test
