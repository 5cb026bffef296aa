// Test-time augmentation: the flip is left-right, and evaluate() with flips
// (the task, report and `mnistlab eval --tta` go through it) matches
// PyTorch's mean of softmax(x) and softmax(torch.flip(x, [-1])) on the same
// weights, and with crops torchvision's FiveCrop and TenCrop of the padded
// image (tests/reference/make_tta.py).
#include <gtest/gtest.h>

#include <cmath>

#include "cli_fixture.h"
#include "mnistlab/model_file.h"
#include "mnistlab/trainer.h"
#include "reference_file.h"
#include "train/class_log_probs.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

const char* kTiny = "input 1 28 28\nconv 3 k=3 p=1\nrelu\nflatten\nlinear 10\n";  // make_tta.py's TINY
const char* kWide = "input 1 12 20\nconv 2 k=3 p=1\nrelu\nflatten\nlinear 10\n";  // make_tta.py's WIDE

// One of make_tta.py's networks, with the weights stored under prefix + its state_dict keys.
Model reference_network(const std::map<std::string, StoredTensor>& ref, const char* text, const std::string& prefix) {
  Model model = parse_model(text, "reference");
  model.build(1);
  std::map<std::string, StoredTensor> weights;
  for (const StateEntry& e : model.state_dict()) weights[e.key] = ref.at(prefix + e.key);
  load_state_dict(model, weights, "tta.safetensors");
  return model;
}

// make_tta.py's network with its weights, and its images as a dataset.
struct TtaReference {
  std::map<std::string, StoredTensor> ref = load_reference("tta.safetensors");
  Model model = reference_network(ref, kTiny, "");
  Dataset data;
  TtaReference() {
    const std::vector<float> pixels = ref.at("pixels").to_floats(), labels = ref.at("labels").to_floats();
    data.rows = data.cols = 28;
    data.pixels.assign(pixels.begin(), pixels.end());  // byte values, exactly
    data.labels.assign(labels.begin(), labels.end());
  }
  double want(const char* key) const { return ref.at(key).to_floats()[0]; }
};

}  // namespace

TEST(TestTimeFlips, FlipIsLeftRightOnANonSymmetricImage) {
  // Two 2x3 images; row r of each must come back reversed, rows staying in place.
  float images[12] = {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60};
  horizontal_flip(images, 4, 3);  // the batch's four rows, as class_log_probs flips it
  const float want[12] = {3, 2, 1, 6, 5, 4, 30, 20, 10, 60, 50, 40};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(images[i], want[i]) << i;
}

TEST(TestTimeFlips, EvaluateMatchesPyTorch) {
  TtaReference r;
  r.model.reserve(5, false);
  std::vector<int64_t> confusion;
  std::vector<int> predicted;
  // Batches of 5 over 12 images: the last batch is partial.
  const EvalResult tta = evaluate(r.model, r.data, 5, &confusion, &predicted, {true, 0});
  EXPECT_NEAR(tta.loss, r.want("tta_loss"), 1e-5 * r.want("tta_loss")) << "test-time flip loss differs";
  EXPECT_NEAR(tta.acc, r.want("tta_acc"), 1e-7) << "test-time flip accuracy differs";
  const EvalResult plain = evaluate(r.model, r.data, 5);
  EXPECT_NEAR(plain.loss, r.want("plain_loss"), 1e-5 * r.want("plain_loss")) << "loss without flips differs";
  EXPECT_NEAR(plain.acc, r.want("plain_acc"), 1e-7) << "accuracy without flips differs";
  EXPECT_NE(tta.acc, plain.acc);  // the reference is made so that flips change an answer

  // Image by image: the averaged probabilities and their argmax.
  const std::vector<float> probs = r.ref.at("probs").to_floats();
  std::vector<float> images(r.data.pixels.begin(), r.data.pixels.end());
  for (float& x : images) x /= 255.0f;
  std::vector<double> log_p;
  class_log_probs(r.model, images.data(), int(r.data.size()), {true, 0}, log_p);
  double worst = 0;
  for (size_t i = 0; i < r.data.size(); ++i) {
    int best = 0;
    for (int k = 0; k < 10; ++k) {
      const double p = std::exp(log_p[i * 10 + k]);
      EXPECT_NEAR(p, probs[i * 10 + k], 1e-6) << "image " << i << " class " << k;
      worst = std::max(worst, std::fabs(p - probs[i * 10 + k]));
      if (probs[i * 10 + k] > probs[i * 10 + best]) best = k;
    }
    EXPECT_EQ(predicted[i], best) << "image " << i;
  }
  int64_t counted = 0;
  for (int64_t c : confusion) counted += c;
  EXPECT_EQ(counted, int64_t(r.data.size()));
  std::printf("largest difference from PyTorch: probability %.3g, loss %.3g\n", worst,
              std::fabs(tta.loss - r.want("tta_loss")));
}

// torchvision's FiveCrop of the image padded by 2 and TenCrop padded by 1.
TEST(TestTimeCrops, FiveCropAndTenCropMatchTorchvision) {
  TtaReference r;
  r.model.reserve(5, false);
  for (const auto& [name, tta] : std::vector<std::pair<std::string, TestTimeAugmentation>>{{"five2", {false, 2}},
                                                                                          {"ten1", {true, 1}}}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(tta.views(), name == "five2" ? 5 : 10);
    const EvalResult e = evaluate(r.model, r.data, 5, nullptr, nullptr, tta);
    EXPECT_NEAR(e.loss, r.want((name + "_loss").c_str()), 1e-5 * r.want((name + "_loss").c_str()));
    EXPECT_NEAR(e.acc, r.want((name + "_acc").c_str()), 1e-7);
    std::vector<float> images(r.data.pixels.begin(), r.data.pixels.end());
    for (float& x : images) x /= 255.0f;
    std::vector<double> log_p;
    class_log_probs(r.model, images.data(), int(r.data.size()), tta, log_p);
    const std::vector<float> probs = r.ref.at(name + "_probs").to_floats();
    for (size_t i = 0; i < probs.size(); ++i) EXPECT_NEAR(std::exp(log_p[i]), probs[i], 1e-6) << i;
  }
  // The crops change what is scored: not the plain evaluation again.
  EXPECT_NE(r.want("five2_loss"), r.want("plain_loss"));
}

// The same crops on 12x20 images: rows and columns are not interchangeable there.
TEST(TestTimeCrops, NonSquareImagesMatchTorchvision) {
  const std::map<std::string, StoredTensor> ref = load_reference("tta.safetensors");
  Model model = reference_network(ref, kWide, "wide.");
  const std::vector<float> pixels = ref.at("wide_pixels").to_floats();
  const int count = int(pixels.size() / (12 * 20));
  model.reserve(count, false);
  for (const auto& [name, tta] : std::vector<std::pair<std::string, TestTimeAugmentation>>{{"five3", {false, 3}},
                                                                                          {"ten2", {true, 2}}}) {
    SCOPED_TRACE(name);
    std::vector<float> images(pixels);
    for (float& x : images) x /= 255.0f;
    std::vector<double> log_p;
    class_log_probs(model, images.data(), count, tta, log_p);
    const std::vector<float> probs = ref.at("wide_" + name + "_probs").to_floats();
    ASSERT_EQ(log_p.size(), probs.size());
    for (size_t i = 0; i < probs.size(); ++i) EXPECT_NEAR(std::exp(log_p[i]), probs[i], 1e-6) << i;
  }
}

TEST(TestTimeFlips, TheTaskEvaluatesAndReportsWithItsOption) {
  TtaReference r;
  r.model.reserve(4, false);
  auto task = make_classification_task({0.f, {true, 0}});
  const std::vector<double> m = task->evaluate(r.model, r.data, 4);
  EXPECT_NEAR(m[0], r.want("tta_loss"), 1e-5 * r.want("tta_loss"));
  EXPECT_NEAR(m[1], r.want("tta_acc"), 1e-7);
  EXPECT_NE(task->report(r.model, r.data, 4).find("averaged over the image and its horizontal flip"),
            std::string::npos);
  EXPECT_NEAR(make_classification_task()->evaluate(r.model, r.data, 4)[0], r.want("plain_loss"),
              1e-5 * r.want("plain_loss"));
}

TEST_F(Cli, EvalWithTtaAndCropsMatchesPyTorchAndRefusesFlipsForMnist) {
  TtaReference r;
  write_split(r.data, "t10k");
  write_split(r.data, "train");  // the class count comes from both splits' labels
  save_state_dict(r.model, dir_ / "tiny.safetensors");
  std::ofstream(dir_ / "tiny.model") << kTiny;
  const std::string eval = "eval --model " + (dir_ / "tiny.model").string() + " --weights " +
                           (dir_ / "tiny.safetensors").string() + " --data-dir " + (dir_ / "data").string() +
                           " --batch-size 5 --threads 1";
  auto ok = run(eval + " --dataset fashion --tta");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  double loss = 0, acc = 0;
  ASSERT_EQ(std::sscanf(ok.output.c_str(), "test_loss %lf test_acc %lf", &loss, &acc), 2) << ok.output;
  EXPECT_NEAR(loss, r.want("tta_loss"), 1e-5 * r.want("tta_loss"));
  EXPECT_NEAR(acc, r.want("tta_acc"), 1e-6);

  // Crops are for digits too: FiveCrop with padding 2, and TenCrop with padding 1.
  for (const auto& [options, name] : std::vector<std::pair<std::string, std::string>>{
           {" --dataset mnist --tta-crops 2", "five2"}, {" --dataset fashion --tta --tta-crops 1", "ten1"}}) {
    auto cropped = run(eval + options);
    ASSERT_EQ(cropped.exit_code, 0) << options << ": " << cropped.output;
    ASSERT_EQ(std::sscanf(cropped.output.c_str(), "test_loss %lf test_acc %lf", &loss, &acc), 2) << cropped.output;
    EXPECT_NEAR(loss, r.want((name + "_loss").c_str()), 1e-5 * r.want((name + "_loss").c_str())) << options;
    EXPECT_NEAR(acc, r.want((name + "_acc").c_str()), 1e-6) << options;
  }

  auto refused = run(eval + " --dataset mnist --tta");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("not flip-invariant"), std::string::npos) << refused.output;
}
