// PSNR and SSIM against PyTorch (tests/reference/make_image_metrics.py) and
// by hand; the noise models against their definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/image_metrics.h"
#include "mnistlab/noise.h"

using namespace mnistlab;

// The backend the noise is computed on here (a model's would be Model::backend()).
static const Backend& cpu_backend() {
  static const std::unique_ptr<Backend> backend = make_backend({});
  return *backend;
}

TEST(ImageMetrics, MatchPyTorch) {
  std::ifstream in(std::string(MNISTLAB_REFERENCE_DIR) + "/image_metrics.json");
  ASSERT_TRUE(in.good()) << "run tests/reference/make_image_metrics.py (the ctest fixture does)";
  const auto ref = nlohmann::json::parse(in);
  ASSERT_EQ(ref["pairs"].size(), 4u);
  for (const auto& p : ref["pairs"]) {
    const auto image = p["image"].get<std::vector<float>>(), reference = p["reference"].get<std::vector<float>>();
    const int h = p["height"], w = p["width"];
    EXPECT_NEAR(psnr(image.data(), reference.data(), h, w), p["psnr"].get<double>(), 1e-6);
    EXPECT_NEAR(ssim(image.data(), reference.data(), h, w), p["ssim"].get<double>(), 1e-6);
  }
}

TEST(ImageMetrics, HandCalculations) {
  std::vector<float> a(28 * 28), b(28 * 28);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i % 17) / 17.f;
  EXPECT_NEAR(ssim(a.data(), a.data(), 28, 28), 1.0, 1e-12);
  EXPECT_TRUE(std::isinf(psnr(a.data(), a.data(), 28, 28)));
  for (size_t i = 0; i < a.size(); ++i) b[i] = a[i] + 0.1f;  // MSE 0.01: 20 dB
  EXPECT_NEAR(psnr(b.data(), a.data(), 28, 28), 20.0, 1e-4);
  EXPECT_THROW(ssim(a.data(), a.data(), 10, 10), Error);
}

TEST(Noise, UniformAddsUpToAAndIsFixedBySeed) {
  std::vector<float> clean(20000, 0.25f), noisy(clean.size()), again(clean.size());
  const NoiseOptions o = checked_noise({NoiseKind::Uniform, std::nullopt, false});
  EXPECT_EQ(noise_amount(o), 1.f);  // the course's U[0, 1)
  add_noise(cpu_backend(), o, 7, 0, clean.data(), clean.size(), noisy.data());
  double mean = 0;
  for (size_t i = 0; i < noisy.size(); ++i) {
    EXPECT_GE(noisy[i] - clean[i], 0.f);
    EXPECT_LT(noisy[i] - clean[i], 1.f);
    mean += noisy[i] - clean[i];
  }
  EXPECT_NEAR(mean / noisy.size(), 0.5, 0.01);  // E[U(0,1)]
  add_noise(cpu_backend(), o, 7, 0, clean.data(), clean.size(), again.data());
  EXPECT_EQ(noisy, again);
  // Cut into two batches, the stream gives the same pixels.
  add_noise(cpu_backend(), o, 7, 0, clean.data(), 500, again.data());
  add_noise(cpu_backend(), o, 7, 500, clean.data() + 500, clean.size() - 500, again.data() + 500);
  EXPECT_EQ(noisy, again);
  add_noise(cpu_backend(), o, 8, 0, clean.data(), clean.size(), again.data());
  EXPECT_NE(noisy, again);
}

TEST(Noise, GaussianHasItsSigmaAndClipClamps) {
  std::vector<float> clean(40000, 0.5f), noisy(clean.size());
  add_noise(cpu_backend(), checked_noise({NoiseKind::Gaussian, 0.3f, false}), 1, 0, clean.data(), clean.size(), noisy.data());
  double mean = 0, var = 0;
  for (float v : noisy) mean += v - 0.5;
  mean /= noisy.size();
  for (float v : noisy) var += (v - 0.5 - mean) * (v - 0.5 - mean);
  EXPECT_NEAR(mean, 0.0, 0.005);
  EXPECT_NEAR(std::sqrt(var / noisy.size()), 0.3, 0.005);
  add_noise(cpu_backend(), checked_noise({NoiseKind::Gaussian, 0.3f, true}), 1, 0, clean.data(), clean.size(), noisy.data());
  for (float v : noisy) {
    EXPECT_GE(v, 0.f);
    EXPECT_LE(v, 1.f);
  }
}

TEST(Noise, SaltPepperSetsAShareOfPixels) {
  std::vector<float> clean(40000, 0.5f), noisy(clean.size());
  add_noise(cpu_backend(), checked_noise({NoiseKind::SaltPepper, 0.2f, false}), 3, 0, clean.data(), clean.size(), noisy.data());
  size_t salt = 0, pepper = 0;
  for (float v : noisy) salt += v == 1.f, pepper += v == 0.f;
  EXPECT_NEAR(double(salt + pepper) / noisy.size(), 0.2, 0.01);
  EXPECT_NEAR(double(salt) / double(salt + pepper), 0.5, 0.03);
}

TEST(Noise, OutOfRangeAmountsAreErrors) {
  EXPECT_THROW(checked_noise({NoiseKind::Uniform, 0.f, false}), Error);
  EXPECT_THROW(checked_noise({NoiseKind::Gaussian, -0.5f, false}), Error);
  EXPECT_THROW(checked_noise({NoiseKind::SaltPepper, 1.5f, false}), Error);
  EXPECT_THROW(parse_noise("speckle"), Error);
}
