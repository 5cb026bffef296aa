// ONNX export, checked by runtimes that are not ours: every preset and a
// network with every layer kind and both skips is exported by `mnistlab
// export`, then tests/reference/check_onnx.py runs onnx.checker (full check)
// and OpenCV's dnn module on 200 images and compares with mnistlab's outputs.
#include <gtest/gtest.h>

#include <cmath>

#include "cli_fixture.h"
#include "every_layer.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/onnx.h"
#include "mnistlab/safetensors.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

struct ExportCase {
  std::string model;  // a preset, or "every-layer" (kEveryLayer)
  int batch;          // 0: --dynamic-batch
  bool softmax;
};

std::string case_name(const ::testing::TestParamInfo<ExportCase>& info) {
  std::string name = info.param.model + (info.param.batch ? "_batch" + std::to_string(info.param.batch) : "_dynamic") +
                     (info.param.softmax ? "_softmax" : "");
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

const std::vector<ExportCase>& export_cases() {
  static const std::vector<ExportCase> cases = {
      {"baseline", 50, false},     {"vgg-bn", 0, false},        {"fast", 0, true},
      {"best-mnist", 1, false},    {"best-fashion", 0, false},  {"dae", 20, false},
      {"dae-unet", 0, false},      {"every-layer", 0, true},    {"every-layer", 25, false},
  };
  return cases;
}

// 200 images in [0, 1] of the model's input shape: noise and a bright block
// that moves from image to image, so no two are alike.
std::vector<float> test_images(const SampleShape& shape, int count) {
  std::vector<float> images(size_t(count) * shape.numel());
  Rng rng(7);
  for (int i = 0; i < count; ++i) {
    float* image = images.data() + size_t(i) * shape.numel();
    for (size_t p = 0; p < shape.numel(); ++p) image[p] = float(rng.uniform(0, 0.3));
    const int top = (i * 7) % (shape.h - 6), left = (i * 3) % (shape.w - 6);
    for (int c = 0; c < shape.c; ++c)
      for (int r = top; r < top + 6; ++r)
        for (int x = left; x < left + 6; ++x) image[(size_t(c) * shape.h + r) * shape.w + x] = 1.0f;
  }
  return images;
}

// Weights from the seed; BatchNorm's running statistics from forwards in
// training mode over the images (so eval mode normalizes for real), and its
// affine parameters moved off 1 and 0, so none of them is a no-op. A
// classifier's last Linear is scaled up, as training makes it, so its
// logits are large enough for the 1e-4 comparison to tell.
void seeded_weights(Model& model, const std::vector<float>& images, int count) {
  model.build(3);
  model.train();
  const int batch = 20;
  model.reserve(batch, true);
  for (int start = 0; start + batch <= count; start += batch)
    model.forward(images.data() + size_t(start) * model.input_shape().numel(), batch);
  Rng rng(11);
  for (const auto& layer : model.layers()) {
    if (layer->kind() != LayerKind::BatchNorm2d && layer->kind() != LayerKind::BatchNorm1d) continue;
    for (Param& p : layer->params())
      for (size_t j = 0; j < p.numel(); ++j) {
        if (p.name == "weight") p.value[j] *= float(rng.uniform(0.5, 1.5));
        if (p.name == "bias") p.value[j] += float(rng.uniform(-0.2, 0.2));
      }
  }
  Layer& last = *model.layers().back();
  if (last.kind() == LayerKind::Linear)
    for (Param& p : last.params())
      for (size_t j = 0; j < p.numel(); ++j) p.value[j] *= 10;
}

class OnnxExport : public ::testing::TestWithParam<ExportCase> {
 protected:
  fs::path dir_;
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mnistlab_onnx_" + case_name({GetParam(), 0}) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
};

}  // namespace

TEST_P(OnnxExport, OpenCvRunsItAsMnistlabDoes) {
  const ExportCase& c = GetParam();
  std::string model_arg = c.model;
  if (c.model == "every-layer") {
    model_arg = (dir_ / "every-layer.model").string();
    std::ofstream(model_arg) << kEveryLayer;
  }
  const ModelSource source = resolve_model(model_arg);
  Model model = parse_model(source.text, source.origin);
  const int count = 200;
  const std::vector<float> images = test_images(model.input_shape(), count);
  seeded_weights(model, images, count);
  const fs::path weights = dir_ / "weights.safetensors", onnx = dir_ / "net.onnx", io = dir_ / "io.safetensors";
  save_state_dict(model, weights);

  const CommandResult exported =
      run("export --model " + model_arg + " --weights " + weights.string() + " --out " + onnx.string() +
          (c.batch ? " --batch-size " + std::to_string(c.batch) : " --dynamic-batch") + (c.softmax ? " --softmax" : ""));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;

  model.eval();
  model.reserve(count, false);
  const Tensor& out = model.forward(images.data(), count);
  std::vector<float> outputs(out.data, out.data + out.numel());
  if (c.softmax) {  // per row, in double
    const size_t k = out.shape.numel();
    for (int i = 0; i < count; ++i) {
      float* row = outputs.data() + size_t(i) * k;
      const double top = *std::max_element(row, row + k);
      double sum = 0;
      for (size_t j = 0; j < k; ++j) sum += std::exp(double(row[j]) - top);
      for (size_t j = 0; j < k; ++j) row[j] = float(std::exp(double(row[j]) - top) / sum);
    }
  }
  const SampleShape in_shape = model.input_shape(), out_shape = model.output_shape();
  std::vector<int64_t> in_dims = {count, in_shape.c, in_shape.h, in_shape.w}, out_dims = {count, out_shape.c};
  if (out_shape.rank == 4) out_dims.insert(out_dims.end(), {out_shape.h, out_shape.w});
  write_safetensors(io, {{"input", f32_tensor(images.data(), in_dims)}, {"output", f32_tensor(outputs.data(), out_dims)}});

  const std::string check = "/usr/bin/python3 " MNISTLAB_CHECK_ONNX " --onnx " + onnx.string() + " --weights " +
                            weights.string() + " --io " + io.string() +
                            (c.batch ? " --batch " + std::to_string(c.batch) : " --dynamic") + " 2>&1";
  const CommandResult checked = run_shell(check);
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  std::cout << c.model << ": " << checked.output;
  // The comparison means something only if the outputs are not all near 0.
  float largest = 0;
  for (float v : outputs) largest = std::max(largest, std::abs(v));
  EXPECT_GT(largest, 0.1f) << "outputs too small for a 1e-4 comparison to tell anything";
}

INSTANTIATE_TEST_SUITE_P(EveryPresetAndLayer, OnnxExport, ::testing::ValuesIn(export_cases()), case_name);

TEST(OnnxExportCases, TheEveryLayerModelHasEveryKindOfTheTable) {
  EXPECT_EQ(every_kind_missing(kEveryLayer), "") << "add these to tests/every_layer.h";
}

TEST(OnnxExportCases, EveryPresetIsExported) {
  for (const std::string& preset : preset_names()) {
    bool found = false;
    for (const ExportCase& c : export_cases()) found |= c.model == preset;
    EXPECT_TRUE(found) << "preset " << preset << " has no ONNX export case";
  }
}

namespace {
// A layer of the user's own that ONNX export cannot know.
class Doubling final : public Layer {
 public:
  std::string type() const override { return "Doubling"; }
  SampleShape configure(const SampleShape& in) override { return in_ = out_ = in; }
  void forward(const Tensor& x, Tensor& y, Scratch&) override {
    for (size_t i = 0; i < x.numel(); ++i) y.data[i] = 2 * x.data[i];
  }
  void backward(const Tensor&, const Tensor&, const Tensor& dy, Tensor* dx, Scratch&) override {
    if (dx)
      for (size_t i = 0; i < dy.numel(); ++i) dx->data[i] = 2 * dy.data[i];
  }
};
}  // namespace

TEST(OnnxExportErrors, UnknownLayerIsNamed) {
  Model model(image_shape(1, 8, 8));
  model.add(Conv2d({4, 3, 1, 1, true})).add(std::make_unique<Doubling>()).add(Flatten()).add(Linear(3));
  model.build(0);
  try {
    onnx_model_bytes(model);
    FAIL() << "a layer ONNX export does not know was exported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1 (Doubling)"), std::string::npos) << e.what();
  }
}

TEST(OnnxExportErrors, SoftmaxOnAnImageOutputIsRefused) {
  Model model = parse_model(resolve_model("dae").text, "dae");
  model.build(0);
  OnnxOptions options;
  options.softmax = true;
  EXPECT_THROW(onnx_model_bytes(model, options), Error);
}

TEST(OnnxExportErrors, CommandNamesAMissingWeightsFileAndWritesNothing) {
  const fs::path out = fs::temp_directory_path() / ("mnistlab_onnx_missing_" + std::to_string(getpid()) + ".onnx");
  const CommandResult r = run("export --model fast --weights /nonexistent/w.safetensors --out " + out.string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/w.safetensors"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
  const CommandResult both = run("export --model fast --weights w --out x.onnx --batch-size 2 --dynamic-batch");
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.output.find("excludes"), std::string::npos) << both.output;
}
