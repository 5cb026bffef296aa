// Finite-difference checks of every layer's backward, through the shared
// helper in gradcheck.h, plus proof that the helper catches wrong gradients.
#include <gtest/gtest.h>

#include "gradcheck.h"

using namespace mnistlab;
using test::gradcheck;
using test::GradCheckOptions;

// 8x8 and larger: stride-1 input gradients as a flipped convolution; smaller: textbook route.
TEST(GradCheck, Conv2dPadded) { EXPECT_GRADCHECK(gradcheck(Conv2d({4, 3, 1, 1, true}), image_shape(2, 8, 8))); }
TEST(GradCheck, Conv2dPaddedSmallMap) {
  EXPECT_GRADCHECK(gradcheck(Conv2d({4, 3, 1, 1, true}), image_shape(2, 6, 6)));
}
TEST(GradCheck, Conv2dStridedNoBias) {
  EXPECT_GRADCHECK(gradcheck(Conv2d({3, 3, 2, 1, false}), image_shape(2, 7, 7)));
}
TEST(GradCheck, Conv2dStride3LeavesTheEdgeUnused) {
  EXPECT_GRADCHECK(gradcheck(Conv2d({2, 3, 3, 0, true}), image_shape(2, 8, 8)));
}
TEST(GradCheck, Conv2dKernel5Unpadded) { EXPECT_GRADCHECK(gradcheck(Conv2d({2, 5, 1, 0, true}), image_shape(3, 8, 8))); }
TEST(GradCheck, Conv2dPaddingBeyondKernel) {
  EXPECT_GRADCHECK(gradcheck(Conv2d({2, 2, 1, 2, true}), image_shape(2, 4, 4)));
}
// Taps that only see padding are skipped (VGG-BN's last blocks).
TEST(GradCheck, Conv2dOnOnePixelUsesOnlyTheCentreTap) {
  EXPECT_GRADCHECK(gradcheck(Conv2d({3, 3, 1, 1, true}), image_shape(4, 1, 1)));
}
TEST(GradCheck, Conv2dStridedOnTwoPixels) {
  EXPECT_GRADCHECK(gradcheck(Conv2d({3, 3, 2, 1, true}), image_shape(4, 2, 2)));
}
TEST(GradCheck, Conv2dInChunks) {
  GradCheckOptions o;
  o.batch = 5;
  o.backend.conv_workspace_floats = 600;  // a sample or two per chunk
  o.backend.per_image_min_pixels = 1 << 30;
  EXPECT_GRADCHECK(gradcheck(Conv2d({3, 3, 1, 1, true}), image_shape(2, 8, 8), o));
  EXPECT_GRADCHECK(gradcheck(Conv2d({3, 3, 2, 1, true}), image_shape(2, 5, 5), o));
}
// Image by image (the strategy for large maps), on geometries that reach
// both input-gradient routes, unused taps and no bias; 2 threads sum their
// shares of the weight gradient.
TEST(GradCheck, Conv2dPerSample) {
  GradCheckOptions o;
  o.batch = 5;
  o.backend.per_image_min_pixels = 1;
  o.backend.threads = 2;
  EXPECT_GRADCHECK(gradcheck(Conv2d({4, 3, 1, 1, true}), image_shape(2, 8, 8), o));
  EXPECT_GRADCHECK(gradcheck(Conv2d({3, 3, 2, 1, false}), image_shape(2, 7, 7), o));
  EXPECT_GRADCHECK(gradcheck(Conv2d({3, 3, 1, 1, true}), image_shape(4, 1, 1), o));
  EXPECT_GRADCHECK(gradcheck(Conv2d({2, 5, 1, 0, true}), image_shape(3, 8, 8), o));
}
TEST(GradCheck, Linear) { EXPECT_GRADCHECK(gradcheck(Linear(5), flat_shape(7))); }
TEST(GradCheck, LinearNoBias) { EXPECT_GRADCHECK(gradcheck(Linear(3, false), flat_shape(4))); }
TEST(GradCheck, ReLU) {
  GradCheckOptions o;
  o.input_min_abs = 0.05f;  // finite differences across the kink at 0 are meaningless
  EXPECT_GRADCHECK(gradcheck(ReLU(), image_shape(2, 3, 3), o));
}
TEST(GradCheck, BatchNorm2dTraining) {
  GradCheckOptions o;
  o.batch = 3;
  o.eps = 1e-2f;
  EXPECT_GRADCHECK(gradcheck(BatchNorm2d(), image_shape(3, 4, 4), o));
}
TEST(GradCheck, BatchNorm2dEval) {
  GradCheckOptions o;
  o.training = false;
  EXPECT_GRADCHECK(gradcheck(BatchNorm2d(), image_shape(3, 4, 4), o));
}
TEST(GradCheck, MaxPool2d) {
  GradCheckOptions o;
  o.distinct_inputs = true;
  EXPECT_GRADCHECK(gradcheck(MaxPool2d(2), image_shape(2, 6, 6), o));
}
TEST(GradCheck, MaxPool2dOverlappingPadded) {
  GradCheckOptions o;
  o.distinct_inputs = true;
  EXPECT_GRADCHECK(gradcheck(MaxPool2d(3, 2, 1), image_shape(2, 7, 7), o));
}
TEST(GradCheck, Flatten) { EXPECT_GRADCHECK(gradcheck(Flatten(), image_shape(2, 3, 3))); }

// Dropout draws a new mask per forward, so finite differences do not apply:
// check instead that backward applies exactly the mask forward used.
TEST(GradCheck, DropoutBackwardUsesForwardMask) {
  Model model(flat_shape(4000));
  model.add(Dropout(0.3f));
  model.build(3);
  model.reserve(1);
  std::vector<float> x(4000), dy(4000), dx(4000);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = 0.5f + float(i % 7);
    dy[i] = 1.f + float(i % 3);
  }
  const Tensor& y = model.forward(x.data(), 1);
  std::vector<float> out(y.data, y.data + y.numel());
  model.backward(dy.data(), dx.data());
  int dropped = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float mask = out[i] / x[i];
    EXPECT_NEAR(dx[i], dy[i] * mask, 1e-5f) << i;
    if (out[i] == 0.f) ++dropped;
    else EXPECT_NEAR(mask, 1.f / 0.7f, 1e-5f);
  }
  EXPECT_NEAR(dropped / 4000.0, 0.3, 0.03);  // Bernoulli(0.3): 3 sigma is about 0.022
  model.eval();
  const Tensor& same = model.forward(x.data(), 1);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(same.data[i], x[i]);
}

// The helper must fail on wrong gradients, or the checks above prove nothing.
namespace {

class WrongLayer final : public Layer {
 public:
  WrongLayer(float dx_scale, float dw_scale) : dx_scale_(dx_scale), dw_scale_(dw_scale) {}
  std::string type() const override { return "Wrong"; }
  SampleShape configure(const SampleShape& in) override {
    in_ = out_ = in;
    add_param("weight", {int(in.numel())});
    return out_;
  }
  void reset_parameters(Rng& rng) override {
    for (size_t i = 0; i < params_[0].numel(); ++i) params_[0].value[i] = rng.uniform(0.5f, 1.5f);
  }
  // y = x * w (elementwise)
  void forward(const Tensor& x, Tensor& y, Scratch&) override {
    const size_t f = in_.numel();
    for (size_t i = 0; i < x.numel(); ++i) y.data[i] = x.data[i] * params_[0].value[i % f];
  }
  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, Scratch&) override {
    const size_t f = in_.numel();
    for (size_t j = 0; j < f; ++j) params_[0].grad[j] = 0.f;
    for (size_t i = 0; i < x.numel(); ++i) {
      params_[0].grad[i % f] += dw_scale_ * dy.data[i] * x.data[i];
      if (dx) dx->data[i] = dx_scale_ * dy.data[i] * params_[0].value[i % f];
    }
  }

 private:
  float dx_scale_, dw_scale_;
};

}  // namespace

TEST(GradCheck, HelperAcceptsTheRightGradient) {
  EXPECT_TRUE(gradcheck(std::make_unique<WrongLayer>(1.f, 1.f), flat_shape(6)).ok);
}
TEST(GradCheck, HelperCatchesWrongSign) {
  EXPECT_FALSE(gradcheck(std::make_unique<WrongLayer>(-1.f, 1.f), flat_shape(6)).ok);
  EXPECT_FALSE(gradcheck(std::make_unique<WrongLayer>(1.f, -1.f), flat_shape(6)).ok);
}
TEST(GradCheck, HelperCatchesWrongScale) {
  EXPECT_FALSE(gradcheck(std::make_unique<WrongLayer>(1.1f, 1.f), flat_shape(6)).ok);
  EXPECT_FALSE(gradcheck(std::make_unique<WrongLayer>(1.f, 0.9f), flat_shape(6)).ok);
}

// The DAE decoder's upsampling 7 -> 14 (k=3, s=2, p=1, output_padding=1),
// and shapes with taps that only reach padding.
TEST(GradCheck, ConvTranspose2dStride2OutputPadding) {
  EXPECT_GRADCHECK(gradcheck(ConvTranspose2d({.out_channels = 3, .kernel_size = 3, .stride = 2, .padding = 1,
                                              .output_padding = 1}),
                             image_shape(2, 4, 4)));
}
TEST(GradCheck, ConvTranspose2dStride1NoBias) {
  EXPECT_GRADCHECK(gradcheck(ConvTranspose2d({.out_channels = 2, .kernel_size = 3, .padding = 1, .bias = false}),
                             image_shape(3, 5, 5)));
}
TEST(GradCheck, ConvTranspose2dUnusedTaps) {
  EXPECT_GRADCHECK(gradcheck(ConvTranspose2d({.out_channels = 2, .kernel_size = 3, .stride = 1, .padding = 1}),
                             image_shape(2, 1, 1)));
}
TEST(GradCheck, Sigmoid) { EXPECT_GRADCHECK(gradcheck(Sigmoid(), image_shape(2, 3, 3))); }
TEST(GradCheck, Tanh) { EXPECT_GRADCHECK(gradcheck(Tanh(), flat_shape(7))); }

// By hand: with kernel 2 and stride 2, each input pixel stamps the kernel,
// scaled, onto its own 2x2 block: y[2i+a][2j+b] = x[i][j] * w[a][b] + bias.
TEST(ConvTranspose2d, StrideEqualsKernelStampsTheKernel) {
  Model m(image_shape(1, 2, 2));
  m.add(ConvTranspose2d({.out_channels = 1, .kernel_size = 2, .stride = 2}));
  m.build(0);
  const float w[4] = {1, 2, 3, 4};
  std::copy(w, w + 4, m.state_dict()[0].param->value);
  m.state_dict()[1].param->value[0] = 0.5f;
  const float x[4] = {1, -1, 10, 0};
  const Tensor& y = m.forward(x, 1);
  ASSERT_EQ(y.shape, image_shape(1, 4, 4));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b)
          EXPECT_FLOAT_EQ(y.data[(2 * i + a) * 4 + 2 * j + b], x[i * 2 + j] * w[a * 2 + b] + 0.5f);
  // PyTorch's weight layout is [in, out, k, k]; its init takes fan_in from out * k * k.
  EXPECT_EQ(m.state_dict()[0].param->shape, (std::vector<int>{1, 1, 2, 2}));
}
