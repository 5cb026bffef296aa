// The baseline network against PyTorch on the same weights and batch.
// The reference is written by tests/reference/make_reference.py (ctest runs
// it first as the fixture make_reference); to make it by hand:
//   /usr/bin/python3 tests/reference/make_reference.py --out build/reference
#include <gtest/gtest.h>

#include <cmath>

#include "mnistlab/loss.h"
#include "mnistlab/model_file.h"
#include "mnistlab/safetensors.h"
#include "reference_file.h"

using namespace mnistlab;
using mnistlab::test::load_reference;

namespace {

// Largest |a - b| relative to the reference tensor's largest magnitude.
double relative_error(const float* got, const std::vector<float>& want) {
  double worst = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
    scale = std::max(scale, std::fabs(double(want[i])));
  }
  return worst / std::max(scale, 1e-30);
}

}  // namespace

TEST(PyTorchParity, BaselineLogitsLossAndEveryGradient) {
  auto ref = load_reference("baseline.safetensors");
  const ModelSource source = resolve_model("baseline");
  Model model = parse_model(source.text, source.origin);
  model.build(123);  // a different init: the reference weights must replace it
  std::map<std::string, StoredTensor> weights;
  for (const StateEntry& e : model.state_dict()) weights[e.key] = ref.at(e.key);
  load_state_dict(model, weights, "reference");

  const StoredTensor& input = ref.at("input");
  const int n = int(input.shape[0]);
  const std::vector<float> x = input.to_floats();
  const std::vector<float> target = ref.at("target").to_floats();
  std::vector<int32_t> labels(target.begin(), target.end());

  model.reserve(n);
  const Tensor& logits = model.forward(x.data(), n);
  EXPECT_LT(relative_error(logits.data, ref.at("logits").to_floats()), 1e-4) << "logits differ";
  std::vector<float> dlogits(logits.numel());
  const double loss = cross_entropy(model.backend(), logits, labels.data(), dlogits.data(), nullptr);
  EXPECT_NEAR(loss, ref.at("loss").to_floats()[0], 1e-4 * std::fabs(ref.at("loss").to_floats()[0]));
  model.backward(dlogits.data());
  int compared = 0;
  for (const StateEntry& e : model.state_dict()) {
    const auto want = ref.at("grad." + e.key).to_floats();
    ASSERT_EQ(want.size(), e.param->numel()) << e.key;
    EXPECT_LT(relative_error(e.param->grad, want), 1e-4) << "gradient of " << e.key << " differs";
    ++compared;
  }
  EXPECT_EQ(compared, 10);  // 0, 2, 4, 6, 8: weight and bias each
}

// BatchNorm2d (training mode, running statistics) and MaxPool2d against PyTorch.
TEST(PyTorchParity, BatchNormNetworkInTrainingMode) {
  auto ref = load_reference("bn_small.safetensors");
  Model model = parse_model(
      "input 1 28 28\nconv 8 k=3 p=1\nbatchnorm\nrelu\nmaxpool k=2\nconv 16 k=3 s=2 p=1\nbatchnorm\nrelu\n"
      "flatten\nlinear 10\n",
      "bn_small");
  model.build(7);
  std::map<std::string, StoredTensor> weights;
  for (const StateEntry& e : model.state_dict()) weights[e.key] = ref.at("init." + e.key);
  load_state_dict(model, weights, "reference");

  const std::vector<float> x = ref.at("input").to_floats();
  const std::vector<float> target = ref.at("target").to_floats();
  std::vector<int32_t> labels(target.begin(), target.end());
  const int n = int(labels.size());
  model.reserve(n);
  model.train();
  const Tensor& logits = model.forward(x.data(), n);
  EXPECT_LT(relative_error(logits.data, ref.at("logits").to_floats()), 1e-4) << "logits differ";
  std::vector<float> dlogits(logits.numel());
  cross_entropy(model.backend(), logits, labels.data(), dlogits.data(), nullptr);
  model.backward(dlogits.data());
  int buffers = 0, grads = 0;
  for (const StateEntry& e : model.state_dict()) {
    const auto after = ref.at(e.key).to_floats();  // running statistics after one step
    EXPECT_LT(relative_error(e.param->value, after), 1e-5) << e.key << " after the forward pass differs";
    if (e.param->kind == ParamKind::Buffer) {
      ++buffers;
      continue;
    }
    ++grads;
    if (e.key == "0.bias" || e.key == "4.bias") {
      // A bias just before BatchNorm has zero gradient (the batch mean takes
      // it out); both frameworks give rounding noise, PyTorch about 1e-6.
      for (size_t i = 0; i < e.param->numel(); ++i) EXPECT_LT(std::fabs(e.param->grad[i]), 1e-5f) << e.key;
      continue;
    }
    EXPECT_LT(relative_error(e.param->grad, ref.at("grad." + e.key).to_floats()), 1e-4)
        << "gradient of " << e.key << " differs";
  }
  EXPECT_EQ(buffers, 6);  // running_mean, running_var, num_batches_tracked of 1 and 5
  EXPECT_EQ(grads, 10);
}

// dae-unet (ConvTranspose2d, concat skips including the input, Sigmoid) with
// nn.L1Loss against PyTorch on the same weights.
TEST(PyTorchParity, DaeUnetOutputAndEveryGradient) {
  auto ref = load_reference("dae_unet.safetensors");
  const ModelSource source = resolve_model("dae-unet");
  Model model = parse_model(source.text, source.origin);
  model.build(99);
  std::map<std::string, StoredTensor> weights;
  for (const StateEntry& e : model.state_dict()) weights[e.key] = ref.at(e.key);
  load_state_dict(model, weights, "reference");
  const std::vector<float> x = ref.at("input").to_floats(), target = ref.at("target").to_floats();
  const int n = int(ref.at("input").shape[0]);
  model.reserve(n);
  const Tensor& y = model.forward(x.data(), n);
  EXPECT_LT(relative_error(y.data, ref.at("output").to_floats()), 1e-5) << "output differs";
  std::vector<float> dy(y.numel());
  const double loss = l1_loss(model.backend(), y, target.data(), dy.data());
  EXPECT_NEAR(loss, ref.at("loss").to_floats()[0], 1e-5);
  model.backward(dy.data());
  int compared = 0;
  for (const StateEntry& e : model.state_dict()) {
    EXPECT_LT(relative_error(e.param->grad, ref.at("grad." + e.key).to_floats()), 1e-4)
        << "gradient of " << e.key << " differs";
    ++compared;
  }
  EXPECT_EQ(compared, 10);  // 0, 2, 4, 7, 10: weight and bias each
}
