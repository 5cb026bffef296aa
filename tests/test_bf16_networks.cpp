// Whole networks at Precision::Bf16 against the same networks in float32
// (issue 29): every preset and the every-layer model, the same weights and
// batch, one training-mode forward and the backward of L = <r, y> for a
// fixed random r. float32's gradients are themselves checked against
// PyTorch and finite differences elsewhere; here they are the reference
// bf16 must stay near, and bf16 must differ from them (a "bf16" that ran
// float32 would not).
//
// The stated tolerance, from bfloat16's unit roundoff u = 2^-9: a product
// of an input and a weight each rounded to bf16 is off by at most 2u of
// its size; a float32 sum of such products by at most 2u of the sum of
// their magnitudes. A network of D layers that multiply (Conv2d,
// ConvTranspose2d, Linear) passes those errors on: the output through D
// of them, a gradient through up to 2D (forward, then backward to its
// layer) and one more product (the gradient's own). Allowing a factor
// kCancellation for sums whose terms cancel (the magnitudes' sum over the
// sum's size), the relative L2 error bound is
//   output:    2u * D * kCancellation
//   gradients: 2u * (2D + 1) * kCancellation.
// The cancellation is real, not a bf16 defect: in float32 alone, a batch
// whose pixels were each changed by a random factor within 1 +- u moved
// vgg-bn's gradients by 30% and best-fashion's by 13% (BatchNorm's batch
// statistics over 32 images on 1x1 maps, ReLU and max-pooling kinks),
// against 45% and 16% for bf16 (2026-12-04, AMD EPYC; vgg-bn's gradients
// at 82% of their bound there).
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "every_layer.h"
#include "kernels/cpu/bf16.h"
#include "kernels/cpu/cpu_info.h"
#include "mnistlab/model.h"
#include "mnistlab/model_file.h"
#include "mnistlab/rng.h"

using namespace mnistlab;

namespace {

constexpr double kUnitRoundoff = 0x1p-9;
constexpr double kCancellation = 4.0;

struct Pass {
  std::vector<float> output, gradients;
};

Pass forward_backward(const std::string& text, const std::string& origin, Precision precision) {
  Model model = parse_model(text, origin);
  model.build(7);
  BackendOptions o = model.backend_options();
  o.precision = precision;
  o.threads = 2;
  model.set_backend(o);
  const int n = 32;
  model.reserve(n, true);
  model.train(true);
  Rng rng(11);
  std::vector<float> x(size_t(n) * model.input_shape().numel());
  for (float& v : x) v = rng.uniform(0.f, 1.f);
  model.forward(x.data(), n);
  Pass p;
  p.output.resize(size_t(n) * model.output_shape().numel());
  model.read_output(p.output.data());
  std::vector<float> r(p.output.size());
  for (float& v : r) v = rng.uniform(-1.f, 1.f);
  model.backward(r.data());
  const float* g = model.gradients();
  p.gradients.assign(g, g + model.parameter_count());
  return p;
}

// ||got - want|| / ||want||.
double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    norm += double(want[i]) * want[i];
  }
  return std::sqrt(diff / norm);
}

int multiplying_layers(const std::string& text, const std::string& origin) {
  const Model model = parse_model(text, origin);
  int d = 0;
  for (const auto& layer : model.layers())
    if (layer->kind() == LayerKind::Conv2d || layer->kind() == LayerKind::ConvTranspose2d ||
        layer->kind() == LayerKind::Linear)
      ++d;
  return d;
}

class Bf16Networks : public ::testing::TestWithParam<std::string> {};

TEST_P(Bf16Networks, StayWithinBf16sBoundOfFloat32AndDifferFromIt) {
  const std::string why = cpu::bf16_unsupported(cpu::cpu_info(), std::nullopt);
  if (!why.empty()) GTEST_SKIP() << why;
  const std::string name = GetParam();
  const std::string text = name == "every-layer" ? test::kEveryLayer : resolve_model(name).text;
  const Pass fp32 = forward_backward(text, name, Precision::Fp32);
  const Pass bf16 = forward_backward(text, name, Precision::Bf16);
  ASSERT_EQ(fp32.output.size(), bf16.output.size());
  ASSERT_EQ(fp32.gradients.size(), bf16.gradients.size());
  const int d = multiplying_layers(text, name);
  const double output_bound = 2 * kUnitRoundoff * d * kCancellation;
  const double gradient_bound = 2 * kUnitRoundoff * (2 * d + 1) * kCancellation;
  const double output_error = relative_error(bf16.output, fp32.output);
  const double gradient_error = relative_error(bf16.gradients, fp32.gradients);
  std::printf("%s: %d multiplying layers; output %.3g (bound %.3g), gradients %.3g (bound %.3g)\n", name.c_str(), d,
              output_error, output_bound, gradient_error, gradient_bound);
  EXPECT_LE(output_error, output_bound);
  EXPECT_LE(gradient_error, gradient_bound);
  // Rounded inputs change the products: bf16 that matches float32 this
  // closely did not round.
  EXPECT_GT(output_error, kUnitRoundoff / 64);
  EXPECT_GT(gradient_error, kUnitRoundoff / 64);
}

INSTANTIATE_TEST_SUITE_P(EveryPresetAndLayer, Bf16Networks, ::testing::ValuesIn(test::every_preset_and_layer()),
                         test::model_test_name);

}  // namespace
