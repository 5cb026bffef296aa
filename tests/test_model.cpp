// Presets against the course's published figures, model-file errors, the
// state_dict names, and the model's arena.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "mnistlab/error.h"
#include "mnistlab/loss.h"
#include "mnistlab/model_file.h"
#include "mnistlab/optim.h"
#include "mnistlab/safetensors.h"

using namespace mnistlab;

namespace {

Model preset(const std::string& name) {
  const ModelSource source = resolve_model(name);
  Model model = parse_model(source.text, source.origin);
  model.build(0);
  return model;
}

std::string parse_error(const std::string& text) {
  try {
    parse_model(text, "test.model");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Presets, BaselineHasTheCoursesParameterCount) {
  Model m = preset("baseline");
  EXPECT_EQ(m.parameter_count(), 6444170u);  // DESIGN.md / torchsummary in the course report
  EXPECT_EQ(m.output_shape(), flat_shape(10));
}

TEST(Presets, VggBnHasTheCoursesParameterCount) {
  Model m = preset("vgg-bn");
  EXPECT_EQ(m.parameter_count(), 30292490u);
  // 16 blocks of conv + batchnorm + relu, then flatten and linear.
  EXPECT_EQ(m.layers().size(), 16u * 3 + 2);
  EXPECT_EQ(m.layers()[46]->output_shape(), image_shape(1024, 1, 1));
}

TEST(Presets, FastCountedByHand) {
  Model m = preset("fast");
  // conv (cin*9+1)*cout and BatchNorm 2*cout per block, then Linear 64*3*3 -> 10.
  const size_t blocks = (1 * 9 + 1) * 16 + 2 * 16 + (16 * 9 + 1) * 32 + 2 * 32 + (32 * 9 + 1) * 64 + 2 * 64;
  EXPECT_EQ(m.parameter_count(), blocks + 64 * 3 * 3 * 10 + 10);
  EXPECT_EQ(m.layers()[12]->input_shape(), image_shape(64, 3, 3));  // flatten
}

TEST(Presets, StateDictKeysFollowNnSequential) {
  Model m = preset("baseline");
  std::vector<std::string> keys;
  for (const auto& e : m.state_dict()) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias",
                                             "6.weight", "6.bias", "8.weight", "8.bias"}));
  Model v = preset("vgg-bn");
  std::vector<std::string> bn;
  for (const auto& e : v.state_dict())
    if (e.key.rfind("1.", 0) == 0) bn.push_back(e.key);
  EXPECT_EQ(bn, (std::vector<std::string>{"1.weight", "1.bias", "1.running_mean", "1.running_var",
                                           "1.num_batches_tracked"}));
}

TEST(Presets, UnknownNameListsThePresets) {
  try {
    resolve_model("no-such-net");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("baseline"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("vgg-bn"), std::string::npos) << e.what();
  }
}

TEST(ModelFile, CommentsBlankLinesAndAliases) {
  Model m = parse_model("# a net\n\ninput 1 8 8   # one channel\nconv2d 4 k=3 p=1\nbn\nrelu\nmaxpool2d k=2\n"
                        "flatten\ndropout p=0.25\nlinear 3 bias=0\n",
                        "t");
  m.build(0);
  EXPECT_EQ(m.parameter_count(), 4u * 9 + 4 + 4 + 4 + 3u * 64);
}

TEST(ModelFile, ErrorsNameFileLineTextAndExpectation) {
  EXPECT_NE(parse_error("input 1 28 28\nconvolution 4\n").find("test.model:2: `convolution 4`: unknown layer"),
            std::string::npos);
  EXPECT_NE(parse_error("input 1 28 28\nconv\n").find("test.model:2: `conv`: missing out_channels"),
            std::string::npos);
  EXPECT_NE(parse_error("input 1 28 28\nconv abc\n").find("got 'abc'"), std::string::npos);
  EXPECT_NE(parse_error("input 1 28 28\nconv 4 q=1\n").find("unknown option 'q'"), std::string::npos);
  EXPECT_NE(parse_error("input 1 28 28\nlinear 10\n").find("add a flatten line"), std::string::npos);
  EXPECT_NE(parse_error("input 1 4 4\nconv 4 k=7\n").find("below 1"), std::string::npos);
  EXPECT_NE(parse_error("conv 4\n").find("first line must be 'input C H W'"), std::string::npos);
  EXPECT_NE(parse_error("input 1 x 28\n").find("'x'"), std::string::npos);
  EXPECT_NE(parse_error("").find("empty model file"), std::string::npos);
  EXPECT_NE(parse_error("input 1 28 28\ndropout p=2\n").find("p= must be a number"), std::string::npos);
}

TEST(Model, SmallerBatchesReuseTheArenaAndMatchSingleSamples) {
  Model m = parse_model("input 1 6 6\nconv 3 k=3 p=1\nbatchnorm\nrelu\nflatten\nlinear 4\n", "t");
  m.build(5);
  m.reserve(4);
  m.eval();  // BatchNorm with running statistics: samples are independent
  std::vector<float> x(4 * 36);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.3f * i);
  const Tensor& all = m.forward(x.data(), 4);
  std::vector<float> batch(all.data, all.data + all.numel());
  for (int i = 0; i < 4; ++i) {
    const Tensor& one = m.forward(x.data() + i * 36, 1);
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(one.data[j], batch[i * 4 + j], 1e-5f);
  }
}

// A Conv2d that cannot keep its columns for the largest batch (the column
// budget holds 3 images, the arena 8) must not keep them for a smaller one
// either: the arena has no room saved for them. Gradients of a 2-image batch
// must match a model reserved for exactly 2.
TEST(Model, SmallBatchInALargeArenaKeepsGradientsRight) {
  BackendOptions backend;
  backend.per_image_min_pixels = 1 << 30;  // the batched strategy keeps columns
  const std::string text = "input 2 5 5\nconv 3 k=3 p=1\nconv 2 k=3 p=1\nflatten\nlinear 3\n";
  // per image: columns 18*25, output 3*25, input-gradient route 27*25 + 2*25
  backend.conv_workspace_floats = 3 * (18 * 25 + 3 * 25 + 27 * 25 + 2 * 25);
  std::vector<std::vector<float>> grads;
  for (int capacity : {8, 2}) {
    Model m = parse_model(text, "t");
    m.build(3);
    m.set_backend(backend);
    m.reserve(capacity);
    std::vector<float> x(2 * 50), dy(2 * 3);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7f * i);
    for (size_t i = 0; i < dy.size(); ++i) dy[i] = 0.1f * float(i) - 0.2f;
    m.forward(x.data(), 2);
    m.backward(dy.data());
    grads.emplace_back(m.gradients(), m.gradients() + m.parameter_count());
  }
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (size_t j = 0; j < grads[0].size(); ++j) EXPECT_FLOAT_EQ(grads[0][j], grads[1][j]) << "gradient " << j;
}

// Eval mode folds a ReLU into the Conv2d before it; naming the convolution's
// output (which a join could read) keeps them apart. Both give the outputs
// of training mode's separate layers, on both Conv2d strategies.
TEST(Model, EvalFoldsReluIntoConvWithTheSameOutputs) {
  for (int min_hw : {1, 1 << 30}) {
    BackendOptions backend;
    backend.per_image_min_pixels = min_hw;
    std::vector<std::vector<float>> outputs;
    for (const char* conv : {"conv 3 k=3 p=1\n", "conv 3 k=3 p=1 as pre\n"}) {
      Model m = parse_model(std::string("input 2 6 6\n") + conv + "relu\nconv 2 k=3 s=2 p=1\nrelu\nflatten\nlinear 3\n", "t");
      m.build(4);
      m.set_backend(backend);
      m.reserve(3);
      std::vector<float> x(3 * 72);
      for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(1.3f * i);
      for (bool training : {false, true}) {
        m.train(training);
        const Tensor& y = m.forward(x.data(), 3);
        outputs.emplace_back(y.data, y.data + y.numel());
      }
    }
    for (size_t k = 1; k < outputs.size(); ++k)
      for (size_t j = 0; j < outputs[0].size(); ++j) EXPECT_FLOAT_EQ(outputs[k][j], outputs[0][j]) << k << " " << j;
  }
}

// A model reserved for inference folds each BatchNorm2d (with the ReLU
// after it) into the convolution before it and lets activations share two
// buffers; its outputs must be those of the unfolded eval forward of a model
// reserved for training, on both Conv2d strategies and both 3x3 algorithms.
// The BatchNorm2d statistics are made non-trivial by a few training steps.
TEST(Model, InferenceArenaFoldsBatchNormAndKeepsTheOutputs) {
  const std::string text =
      "input 2 8 8 as image\nconv 6 k=3 p=1\nbatchnorm\nrelu as a\nconv 6 k=3 p=1\nbatchnorm\n"
      "conv 4 k=3 s=2 p=1\nbatchnorm\nrelu\nconvt 6 k=3 s=2 p=1 op=1\nbatchnorm\nrelu\nconcat a\nconcat image\n"
      "maxpool k=2\nconv 3 k=1\nbatchnorm\nflatten\nlinear 5\n";
  std::vector<float> x(3 * 128), dy(3 * 5, 0.1f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i));
  for (int min_pixels : {1, 1 << 30})
    for (ConvAlgorithm algorithm : {ConvAlgorithm::Winograd, ConvAlgorithm::Im2col}) {
      BackendOptions backend;
      backend.per_image_min_pixels = min_pixels;
      backend.conv = algorithm;
      Model trained = parse_model(text, "t");
      trained.build(6);
      trained.set_backend(backend);
      trained.reserve(3);
      for (int step = 0; step < 3; ++step) {
        trained.forward(x.data(), 3);
        trained.backward(dy.data());
        for (size_t j = 0; j < trained.parameter_count(); ++j) trained.parameters()[j] -= 0.05f * trained.gradients()[j];
      }
      trained.eval();
      const Tensor& unfolded = trained.forward(x.data(), 3);
      const std::vector<float> want(unfolded.data, unfolded.data + unfolded.numel());

      Model inference = parse_model(text, "t");
      inference.build(0);
      inference.set_backend(backend);
      std::map<std::string, StoredTensor> weights;
      for (const StateEntry& e : trained.state_dict())
        weights[e.key] = f32_tensor(e.param->value, {e.param->shape.begin(), e.param->shape.end()});
      load_state_dict(inference, weights, "trained");
      inference.reserve(3, false);
      inference.eval();
      EXPECT_EQ(inference.gradients(), nullptr);
      const Tensor& folded = inference.forward(x.data(), 3);
      ASSERT_EQ(folded.numel(), want.size());
      for (size_t j = 0; j < want.size(); ++j)
        EXPECT_NEAR(folded.data[j], want[j], 1e-4f * (1.f + std::fabs(want[j]))) << min_pixels << " " << j;
    }
}

// PyTorch's default init bounds a Conv2d's weight and bias by 1/sqrt(fan_in)
// with fan_in = in_channels * k * k (torch.nn.init._calculate_fan_in_and_fan_out),
// whatever map the layer will see: on a 1x1 map, where only the centre tap
// is ever used, the bound is still 1/sqrt(64 * 9) = 1/24.
TEST(Model, ConvInitBoundIsPyTorchsOnAnyMap) {
  for (int size : {1, 5}) {
    Model m(image_shape(64, size, size));
    m.add(Conv2d({8, 3, 1, 1, true}));
    m.build(1);
    for (const StateEntry& e : m.state_dict()) {
      float largest = 0;
      for (size_t i = 0; i < e.param->numel(); ++i) largest = std::max(largest, std::fabs(e.param->value[i]));
      EXPECT_LE(largest, 1.f / 24.f) << e.key << " on " << size << "x" << size;
      // 4608 weights: the largest is within 1% of the bound unless the bound is wrong.
      if (e.key == "0.weight") {
        EXPECT_GE(largest, 0.99f / 24.f) << size;
      }
    }
  }
}

// An arena reserved for inference has no gradient room: backward refuses,
// and a training forward adds the room, after which the model trains as one
// reserved for training from the start.
TEST(Model, InferenceArenaGrowsGradientsWhenTrainingStarts) {
  const std::string text = "input 1 6 6\nconv 3 k=3 p=1 as a\nrelu\nconv 3 k=3 p=1\nadd a\nflatten\nlinear 2\n";
  std::vector<float> x(4 * 36), dy(4 * 2);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.9f * i);
  for (size_t i = 0; i < dy.size(); ++i) dy[i] = 0.3f - 0.1f * float(i);
  std::vector<std::vector<float>> results;
  for (bool inference_first : {true, false}) {
    Model m = parse_model(text, "t");
    m.build(2);
    m.reserve(4, !inference_first);
    m.eval();
    const Tensor& y = m.forward(x.data(), 4);
    results.emplace_back(y.data, y.data + y.numel());
    if (inference_first) {
      EXPECT_THROW(m.backward(dy.data()), Error);
    }
    m.train();
    m.forward(x.data(), 4);
    m.backward(dy.data());
    results.emplace_back(m.gradients(), m.gradients() + m.parameter_count());
  }
  for (size_t k = 0; k < 2; ++k) {
    ASSERT_EQ(results[k].size(), results[k + 2].size());
    for (size_t j = 0; j < results[k].size(); ++j) EXPECT_FLOAT_EQ(results[k][j], results[k + 2][j]) << k << " " << j;
  }
}

// A 3x3 convolution with padding 1 on a 1x1 map is a 1x1 convolution with the
// kernel's centre: a hand calculation of the skipped-tap path.
TEST(Model, ConvOnOnePixelEqualsItsCentreTap) {
  Model m = parse_model("input 2 1 1\nconv 1 k=3 p=1\n", "t");
  m.build(1);
  const auto dict = m.state_dict();
  const float* w = dict[0].param->value;  // [1, 2, 3, 3]
  const float b = dict[1].param->value[0];
  float x[2] = {0.7f, -1.3f};
  m.reserve(1);
  const Tensor& y = m.forward(x, 1);
  EXPECT_NEAR(y.data[0], w[4] * x[0] + w[9 + 4] * x[1] + b, 1e-6f);
  float dy = 1.f;
  m.backward(&dy);
  const float* dw = dict[0].param->grad;
  for (int i = 0; i < 18; ++i) EXPECT_EQ(dw[i], i == 4 ? x[0] : i == 13 ? x[1] : 0.f) << i;
}

TEST(Model, SameSeedSameWeightsOtherSeedOtherWeights) {
  Model a = preset("baseline"), b = preset("baseline");
  Model c = parse_model(resolve_model("baseline").text, "c");
  c.build(1);
  EXPECT_TRUE(std::equal(a.parameters(), a.parameters() + a.parameter_count(), b.parameters()));
  EXPECT_FALSE(std::equal(a.parameters(), a.parameters() + a.parameter_count(), c.parameters()));
  // PyTorch's bound for Linear(25088, 256): 1/sqrt(25088).
  const auto dict = a.state_dict();
  const Param& w = *dict[6].param;
  float lo = 1, hi = -1;
  for (size_t i = 0; i < w.numel(); ++i) lo = std::min(lo, w.value[i]), hi = std::max(hi, w.value[i]);
  EXPECT_NEAR(hi, 1 / std::sqrt(25088.f), 1e-5f);
  EXPECT_NEAR(lo, -1 / std::sqrt(25088.f), 1e-5f);
}

// Hostile headers: each is refused with the file, the tensor and the value.
TEST(Safetensors, HeadersAreCheckedNotTrusted) {
  const auto dir = std::filesystem::temp_directory_path() / ("mnistlab_sth_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto file_with = [&](const std::string& header, size_t data_bytes) {
    const auto path = dir / "t.safetensors";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const uint64_t len = header.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << header << std::string(data_bytes, '\0');
    return path;
  };
  const auto error_of = [](const std::filesystem::path& p) {
    try {
      const auto tensors = read_safetensors(p);
      for (const auto& [key, t] : tensors) t.to_floats();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string msg = error_of(file_with(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4));
  EXPECT_NE(msg.find("tensor 'w': shape has the dimension -1; dimensions are 0 or more"), std::string::npos) << msg;
  msg = error_of(file_with(
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
      8));
  EXPECT_NE(msg.find("tensor 'w' appears twice"), std::string::npos) << msg;
  msg = error_of(file_with(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}})", 4));
  EXPECT_NE(msg.find("tensor 'w': shape has more than 2^62 elements"), std::string::npos) << msg;
  msg = error_of(file_with(R"([1, 2])", 0));
  EXPECT_NE(msg.find("the header is not a JSON object"), std::string::npos) << msg;
  // A header length above the limit, in a file large enough to hold it.
  {
    const auto path = dir / "big.safetensors";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const uint64_t len = (uint64_t(1) << 24) + 1;
    out.write(reinterpret_cast<const char*>(&len), 8);
    out.close();
    std::filesystem::resize_file(path, 8 + len);
    msg = error_of(path);
    EXPECT_NE(msg.find("header length 16777217 is above the limit of 16777216 bytes"), std::string::npos) << msg;
  }
  std::filesystem::remove_all(dir);
}

TEST(Safetensors, RoundTripAndStrictErrors) {
  const auto dir = std::filesystem::temp_directory_path() / ("mnistlab_st_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  Model a = parse_model("input 1 6 6\nconv 2 k=3\nbatchnorm\nflatten\nlinear 3\n", "a");
  a.build(1);
  save_state_dict(a, dir / "a.safetensors");
  Model b = parse_model("input 1 6 6\nconv 2 k=3\nbatchnorm\nflatten\nlinear 3\n", "b");
  b.build(2);
  load_state_dict(b, dir / "a.safetensors");
  EXPECT_TRUE(std::equal(a.parameters(), a.parameters() + a.parameter_count(), b.parameters()));
  Model other = parse_model("input 1 6 6\nconv 3 k=3\nbatchnorm\nflatten\nlinear 3\n", "c");
  other.build(3);
  std::vector<float> before(other.parameters(), other.parameters() + other.parameter_count());
  try {
    load_state_dict(other, dir / "a.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("size mismatch for 0.weight: copying a param with shape [2, 1, 3, 3] from checkpoint, the shape in current model is [3, 1, 3, 3]."),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(std::equal(before.begin(), before.end(), other.parameters()));  // untouched
  std::filesystem::resize_file(dir / "a.safetensors", 100);
  EXPECT_THROW(load_state_dict(b, dir / "a.safetensors"), Error);
  std::filesystem::remove_all(dir);
}

// DESIGN: same seed and thread count, same result, bit for bit.
TEST(Model, SameSeedSameTrainingRunBitForBit) {
  auto train = [](uint64_t seed) {
    Model m = parse_model("input 1 10 10\nconv 4 k=3 p=1\nbatchnorm\nrelu\ndropout p=0.3\nflatten\nlinear 10\n", "t");
    m.build(seed);
    m.reserve(6);
    auto opt = make_optimizer(OptimizerOptions{}, m.parameter_count());
    std::vector<float> x(600), dlogits(60);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * i);
    std::vector<int32_t> labels = {0, 1, 2, 3, 4, 5};
    for (int step = 0; step < 3; ++step) {
      cross_entropy(m.backend(), m.forward(x.data(), 6), labels.data(), dlogits.data(), nullptr);
      m.backward(dlogits.data());
      opt->step(m);
    }
    return std::vector<float>(m.parameters(), m.parameters() + m.parameter_count());
  };
  EXPECT_EQ(train(3), train(3));
  EXPECT_NE(train(3), train(4));
}
