// Model files: skip connections, the errors a user can make (each names the
// file, the line, the text and what was expected), and the round trip
// "model file == the same network built through the C++ API".
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "gradcheck.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/trainer.h"

using namespace mnistlab;

namespace {

std::string parse_error(const std::string& text) {
  try {
    parse_model(text, "net.model");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

struct BadFile {
  const char* what;
  std::string text;
  std::string prefix;    // "net.model:LINE: `TEXT`:"
  std::string expected;  // what the message must say after it
};

const std::string kHead = "input 1 28 28\n";

const std::vector<BadFile> kBadFiles = {
    {"unknown layer", kHead + "convolution 4\n", "net.model:2: `convolution 4`:",
     "unknown layer 'convolution'; expected one of: conv, convt, linear"},
    {"missing argument", kHead + "conv k=3\n", "net.model:2: `conv k=3`:", "missing out_channels"},
    {"bad argument", kHead + "conv 4 k=three\n", "net.model:2: `conv 4 k=three`:",
     "k= must be an integer >= 1, got 'three'"},
    {"unknown option", kHead + "relu inplace=1\n", "net.model:2: `relu inplace=1`:", "unknown option 'inplace'"},
    {"linear size against the flattened shape",
     kHead + "conv 16 k=3 p=1 s=2\nflatten\nlinear 10 in=25088   # as if stride 1\n",
     "net.model:4: `linear 10 in=25088`:", "Linear expects 25088 input features, but its input [-1, 3136] has 3136"},
    {"linear without flatten", kHead + "conv 4 k=3\nlinear 10\n", "net.model:3: `linear 10`:",
     "add a flatten line before it"},
    {"conv output below 1", "input 1 4 4\nconv 4 k=7\n", "net.model:2: `conv 4 k=7`:", "output size would be below 1"},
    {"pool output below 1", "input 1 28 28\nconv 4 k=3 s=2\nconv 4 k=3 s=2\nconv 4 k=3 s=2\nmaxpool k=4\n",
     "net.model:5: `maxpool k=4`:", "MaxPool2d kernel 4 does not fit the input [-1, 4, 2, 2]"},
    {"skip to a name that does not exist", kHead + "conv 4 k=3 p=1 as enc1\nrelu\nconcat enc2\n",
     "net.model:4: `concat enc2`:", "no earlier output is named 'enc2'; named so far: enc1"},
    {"skip before any name", kHead + "conv 4 k=3 p=1\nadd x\n", "net.model:3: `add x`:",
     "no earlier output is named 'x'; none is named yet"},
    {"concat of different sizes", kHead + "conv 4 k=3 p=1 as full\nconv 4 k=3 p=1 s=2\nconcat full\n",
     "net.model:4: `concat full`:",
     "sizes after the channels must agree: input [-1, 4, 14, 14], 'full' [-1, 4, 28, 28]"},
    {"add of different shapes", kHead + "conv 4 k=3 p=1 as a\nconv 8 k=3 p=1\nadd a\n", "net.model:4: `add a`:",
     "Add needs two tensors of the same shape: input [-1, 8, 28, 28], 'a' [-1, 4, 28, 28]"},
    {"name given twice", kHead + "conv 4 k=3 p=1 as a\nrelu as a\n", "net.model:3: `relu as a`:",
     "the name 'a' is already given to the output of layer 0"},
    {"bad name", kHead + "relu as 1st\n", "net.model:2: `relu as 1st`:", "bad output name '1st'"},
    {"'as' not at the end", kHead + "conv 4 as a k=3\n", "net.model:2: `conv 4 as a k=3`:",
     "expected 'as NAME' at the end of the line"},
    {"join without a name", kHead + "concat\n", "net.model:2: `concat`:", "missing the name of an earlier output"},
    {"input not first", "conv 4\n", "net.model:1: `conv 4`:", "the first line must be 'input C H W'"},
};

}  // namespace

TEST(ModelFileErrors, EachNamesFileLineTextAndExpectation) {
  for (const BadFile& bad : kBadFiles) {
    const std::string message = parse_error(bad.text);
    EXPECT_EQ(message.rfind(bad.prefix, 0), 0u) << bad.what << ": " << message;
    EXPECT_NE(message.find(bad.expected), std::string::npos) << bad.what << ": " << message;
  }
}

TEST(ModelFile, ConcatAndAddShapes) {
  Model m = parse_model(
      "input 2 8 8\n"
      "conv 3 k=3 p=1 as a\n"  // [3, 8, 8]
      "conv 5 k=3 p=1\n"       // [5, 8, 8]
      "concat a\n"             // [8, 8, 8]
      "conv 3 k=1\n"           // [3, 8, 8]
      "add a\n",               // [3, 8, 8]
      "t");
  EXPECT_EQ(m.layers()[2]->output_shape(), image_shape(8, 8, 8));
  EXPECT_EQ(m.output_shape(), image_shape(3, 8, 8));
  EXPECT_EQ(m.output_name(0), "a");
  EXPECT_EQ(m.output_name(1), "");
  m.build(0);
  // Joins have no parameters but take an index, as modules of an nn.Sequential would.
  std::vector<std::string> keys;
  for (const auto& e : m.state_dict()) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"}));
}

// Concat's values by hand: channels of the running tensor, then the named one's.
TEST(ModelFile, ConcatPutsTheRunningTensorFirst) {
  Model m = parse_model("input 1 1 2\nrelu as r\nmaxpool k=1\nconcat r\n", "t");
  m.build(0);
  const float x[4] = {1, -2, 3, 4};  // two samples of [1, 1, 2]
  const Tensor& y = m.forward(x, 2);
  ASSERT_EQ(y.shape, image_shape(2, 1, 2));
  const float expected[8] = {1, 0, 1, 0, 3, 4, 3, 4};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(y.data[i], expected[i]) << i;
}

// The gradients that fan out into a join and into the next layer add up.
TEST(GradCheck, ConcatSkip) {
  // No ReLU between convolutions: its kink would move under the weights' perturbation.
  Model m = parse_model("input 2 5 5\nconv 3 k=3 p=1 as a\nconv 2 k=3 p=1\nconcat a\nconv 2 k=1\n", "t");
  EXPECT_GRADCHECK(test::gradcheck(std::move(m)));
}

TEST(GradCheck, AddSkipUsedTwice) {
  Model m = parse_model("input 2 5 5\nconv 2 k=3 p=1 as a\nconv 2 k=3 p=1\nadd a\nconv 2 k=3 p=1\nadd a\n", "t");
  EXPECT_GRADCHECK(test::gradcheck(std::move(m)));
}

// A join that forgets the skip's share of the gradient must fail the check,
// or the checks above would prove nothing about fan-out.
namespace {
class AddWithoutSkipGradient final : public JoinLayer {
 public:
  using JoinLayer::JoinLayer;
  std::string type() const override { return "Add"; }
  SampleShape configure_join(const SampleShape& in, const SampleShape&) override { return in_ = out_ = in; }
  void forward_join(const Tensor& x, const Tensor& other, Tensor& y) override {
    for (size_t i = 0; i < x.numel(); ++i) y.data[i] = x.data[i] + other.data[i];
  }
  void backward_join(const Tensor& dy, Tensor* dx, Tensor&) override {
    if (dx) std::copy_n(dy.data, dy.numel(), dx->data);
  }
};
}  // namespace

TEST(GradCheck, DroppingTheSkipGradientFails) {
  auto model_with = [](std::unique_ptr<Layer> join) {
    Model m(image_shape(2, 5, 5));
    m.add(Conv2d({.out_channels = 2, .kernel_size = 3, .padding = 1}), "a")
        .add(Conv2d({.out_channels = 2, .kernel_size = 3, .padding = 1}))
        .add(std::move(join));
    return m;
  };
  EXPECT_GRADCHECK(test::gradcheck(model_with(Add("a"))));
  EXPECT_FALSE(test::gradcheck(model_with(std::make_unique<AddWithoutSkipGradient>("a"))).ok);
}

namespace {

Dataset tiny_images(int count, int side, uint64_t seed) {
  Dataset d;
  d.rows = d.cols = side;
  d.pixels.resize(size_t(count) * side * side);
  d.labels.resize(count);
  Rng rng(seed);
  for (int i = 0; i < count; ++i) {
    d.labels[i] = uint8_t(i % 5);
    for (int p = 0; p < side * side; ++p)
      d.pixels[size_t(i) * side * side + p] = uint8_t(rng.uniform(0, 80) + ((p % 5) == (i % 5) ? 150 : 0));
  }
  return d;
}

const char* kRoundTripFile =
    "input 1 12 12\n"
    "conv 6 k=3 p=1\n"
    "batchnorm momentum=0.2\n"
    "relu as a\n"
    "conv 6 k=3 p=1 bias=0\n"
    "add a\n"
    "maxpool k=2 as p\n"
    "conv 4 k=3 p=1 s=1\n"
    "relu\n"
    "concat p\n"
    "dropout p=0.2\n"
    "flatten\n"
    "linear 10 in=360\n";

Model round_trip_by_api() {
  Model m(image_shape(1, 12, 12));
  m.add(Conv2d({.out_channels = 6, .kernel_size = 3, .padding = 1}))
      .add(BatchNorm2d(1e-5f, 0.2f))
      .add(ReLU(), "a")
      .add(Conv2d({.out_channels = 6, .kernel_size = 3, .padding = 1, .bias = false}))
      .add(Add("a"))
      .add(MaxPool2d(2), "p")
      .add(Conv2d({.out_channels = 4, .kernel_size = 3, .stride = 1, .padding = 1}))
      .add(ReLU())
      .add(Concat("p"))
      .add(Dropout(0.2f))
      .add(Flatten())
      .add(Linear(10, true, 360));
  return m;
}

std::vector<float> trained_state(Model& m) {
  m.build(7);
  const Dataset train = tiny_images(40, 12, 1), test = tiny_images(15, 12, 2);
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 8;
  o.seed = 3;
  o.optimizer.kind = OptimizerKind::Sgd;
  o.optimizer.lr = 0.05f;
  o.optimizer.momentum = 0.9f;
  std::vector<float> out;
  fit(m, train, test, o, [&](const EpochMetrics& e) {
    out.push_back(float(e.train[0]));
    out.push_back(float(e.eval[0]));
    out.push_back(float(e.eval[1]));
  });
  for (const auto& e : m.state_dict()) out.insert(out.end(), e.param->value, e.param->value + e.param->numel());
  return out;
}

}  // namespace

TEST(ModelFile, RoundTripTrainsExactlyLikeTheCppApi) {
  Model from_file = parse_model(kRoundTripFile, "roundtrip.model");
  Model from_api = round_trip_by_api();
  ASSERT_EQ(from_file.layers().size(), from_api.layers().size());
  for (size_t i = 0; i < from_file.layers().size(); ++i) {
    EXPECT_EQ(from_file.layers()[i]->type(), from_api.layers()[i]->type()) << i;
    EXPECT_EQ(from_file.layers()[i]->output_shape(), from_api.layers()[i]->output_shape()) << i;
    EXPECT_EQ(from_file.output_name(i), from_api.output_name(i)) << i;
  }
  const std::vector<float> a = trained_state(from_file), b = trained_state(from_api);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  // Training moved the weights, so the comparison above compared something.
  Model untrained = round_trip_by_api();
  untrained.build(7);
  EXPECT_NE(std::memcmp(untrained.parameters(), from_api.parameters(), 4 * untrained.parameter_count()), 0);
}

// A join may read the input itself (named on the input line).
TEST(GradCheck, SkipFromTheNamedInput) {
  Model m = parse_model("input 2 5 5 as image\nconv 3 k=3 p=1\nconcat image\nconv 2 k=3 p=1\nadd image\n", "t");
  EXPECT_GRADCHECK(test::gradcheck(std::move(m)));
}

TEST(Presets, DenoisersGiveBackTheirInputShape) {
  for (const char* name : {"dae", "dae-unet"}) {
    const ModelSource source = resolve_model(name);
    Model m = parse_model(source.text, source.origin);
    EXPECT_EQ(m.output_shape(), m.input_shape()) << name;
  }
}
