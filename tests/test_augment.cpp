// Augmentation: each transform against hand-computed results and against
// torchvision itself (tests/reference/make_augment.py, the fixture
// make_augment), the draws against torchvision's definition of each
// parameter, the spec, and the loader's streams (fixed by seed, epoch and
// position; the same through the prefetching thread and after a resume).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "data/prefetch_loader.h"
#include "mnistlab/augment.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"

using namespace mnistlab;

namespace {

// in[y][x] = y * cols + x (as floats), so a moved pixel says where it came from.
std::vector<float> ramp(int rows, int cols) {
  std::vector<float> v(size_t(rows) * cols);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  return v;
}

}  // namespace

TEST(Augment, CropIsPaddingThenACutAtTopLeft) {
  const int rows = 5, cols = 4;
  const auto in = ramp(rows, cols);
  std::vector<float> out(in.size());
  random_crop(in.data(), rows, cols, 2, 0, 3, out.data());  // padded 9x8, cut at (0, 3)
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      const int sy = y - 2, sx = x + 1;  // y + top - padding, x + left - padding
      const float expected = (sy >= 0 && sy < rows && sx < cols) ? float(sy * cols + sx) : 0.0f;
      EXPECT_EQ(out[size_t(y * cols + x)], expected) << y << "," << x;
    }
  random_crop(in.data(), rows, cols, 2, 2, 2, out.data());  // the center cut is the image
  EXPECT_EQ(out, in);
}

TEST(Augment, AffineByHand) {
  const int rows = 4, cols = 6;
  const auto in = ramp(rows, cols);
  std::vector<float> out(in.size());
  AugmentDraw d;
  d.translate_x = 2;
  d.translate_y = -1;  // moves the content right 2 and up 1
  affine(in.data(), rows, cols, d, Interpolation::Nearest, out.data());
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      const int sy = y + 1, sx = x - 2;
      EXPECT_EQ(out[size_t(y * cols + x)], (sy < rows && sx >= 0) ? float(sy * cols + sx) : 0.0f) << y << "," << x;
    }
  // Scale 2 about the center (3, 2): output pixel (0, 0)'s center is at
  // (-2.5, -1.5) from it, so it samples (-1.25, -0.75), i.e. column
  // 3 - 1.25 - 0.5 = 1.25 and row 2 - 0.75 - 0.5 = 0.75 of the input.
  AugmentDraw zoom;
  zoom.scale = 2;
  affine(in.data(), rows, cols, zoom, Interpolation::Bilinear, out.data());
  const double row = 0.75, col = 1.25;
  const double expected = (1 - (row - 0)) * ((1 - (col - 1)) * in[1] + (col - 1) * in[2]) +
                          (row - 0) * ((1 - (col - 1)) * in[cols + 1] + (col - 1) * in[cols + 2]);
  EXPECT_NEAR(out[0], expected, 1e-5);
}

TEST(Augment, ElasticByHand) {
  const int rows = 4, cols = 6;
  const auto in = ramp(rows, cols);
  const size_t n = in.size();
  std::vector<float> out(n), dx(n, 0.0f), dy(n, 0.0f), tmp(n);
  elastic(in.data(), rows, cols, dx.data(), dy.data(), out.data());
  EXPECT_EQ(out, in) << "no displacement must leave the image as it is";
  // A displacement of 2 / cols in grid units is one pixel: each output
  // pixel samples its right neighbour, the last column falls outside.
  std::fill(dx.begin(), dx.end(), 2.0f / cols);
  elastic(in.data(), rows, cols, dx.data(), dy.data(), out.data());
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x)
      EXPECT_NEAR(out[size_t(y * cols + x)], x + 1 < cols ? in[size_t(y * cols + x + 1)] : 0.0f, 1e-5) << y << "," << x;
  // Half a pixel down: the mean of a pixel and the one below it; the last
  // row sees half a pixel inside, scaled once more by that half (the mask).
  std::fill(dx.begin(), dx.end(), 0.0f);
  std::fill(dy.begin(), dy.end(), 1.0f / rows);
  elastic(in.data(), rows, cols, dx.data(), dy.data(), out.data());
  EXPECT_NEAR(out[1], (in[1] + in[cols + 1]) / 2, 1e-5);
  EXPECT_NEAR(out[size_t((rows - 1) * cols + 1)], 0.5 * 0.5 * in[size_t((rows - 1) * cols + 1)], 1e-5);
  // Blurring a constant field leaves it constant (the kernel sums to 1,
  // reflection keeps the border's values): c * alpha / rows, c * alpha / cols.
  const std::vector<float> noise(n, 0.5f);
  elastic_displacement(noise.data(), noise.data(), rows, cols, 12.0, 1.5, dx.data(), dy.data(), tmp.data());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_NEAR(dx[i], 0.5 * 12.0 / rows, 1e-6);
    EXPECT_NEAR(dy[i], 0.5 * 12.0 / cols, 1e-6);
  }
}

TEST(Augment, FlipMirrorsEachRowAndEraseZerosTheRectangle) {
  const int rows = 3, cols = 5;
  auto image = ramp(rows, cols);
  horizontal_flip(image.data(), rows, cols);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) EXPECT_EQ(image[size_t(y * cols + x)], float(y * cols + cols - 1 - x));
  image = ramp(rows, cols);
  erase(image.data(), cols, 1, 2, 2, 3);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      const bool inside = y >= 1 && x >= 2;
      EXPECT_EQ(image[size_t(y * cols + x)], inside ? 0.0f : float(y * cols + x)) << y << "," << x;
    }
}

TEST(Augment, EachTransformEqualsTorchvisions) {
  const std::filesystem::path path = std::filesystem::path(MNISTLAB_REFERENCE_DIR) / "augment.json";
  std::ifstream file(path);
  ASSERT_TRUE(file) << path << " is missing; run: /usr/bin/python3 tests/reference/make_augment.py --out "
                    << MNISTLAB_REFERENCE_DIR;
  const auto ref = nlohmann::json::parse(file);
  ASSERT_GE(ref["cases"].size(), 40u);
  for (const auto& c : ref["cases"]) {
    const int rows = c["rows"], cols = c["cols"];
    const std::string kind = c["kind"];
    const auto& p = c["params"];
    SCOPED_TRACE(kind + " " + p.dump() + " on " + std::to_string(rows) + "x" + std::to_string(cols));
    std::vector<float> in;
    for (int byte : c["pixels"]) in.push_back(float(byte) / 255.0f);
    std::vector<float> out(in.size());
    bool nearest = false;
    if (kind == "crop") {
      random_crop(in.data(), rows, cols, p["padding"], p["top"], p["left"], out.data());
    } else if (kind == "affine") {
      AugmentDraw d;
      d.angle = p["angle"];
      d.translate_x = p["translate_x"];
      d.translate_y = p["translate_y"];
      d.scale = p["scale"];
      d.shear_x = p["shear_x"];
      nearest = p["interpolation"] == "nearest";
      affine(in.data(), rows, cols, d, nearest ? Interpolation::Nearest : Interpolation::Bilinear, out.data());
    } else if (kind == "elastic") {
      // torch.rand(...) * 2 - 1 in float32, as get_params computes it.
      std::vector<float> noise_x, noise_y, dx(in.size()), dy(in.size()), tmp(in.size());
      for (float u : p["uniform_x"].get<std::vector<float>>()) noise_x.push_back(u * 2.0f - 1.0f);
      for (float u : p["uniform_y"].get<std::vector<float>>()) noise_y.push_back(u * 2.0f - 1.0f);
      elastic_displacement(noise_x.data(), noise_y.data(), rows, cols, p["alpha"], p["sigma"], dx.data(), dy.data(),
                           tmp.data());
      const std::vector<float> want_dx = p["dx"].get<std::vector<float>>(), want_dy = p["dy"].get<std::vector<float>>();
      for (size_t i = 0; i < in.size(); ++i) {
        ASSERT_NEAR(dx[i], want_dx[i], 1e-6) << "x displacement at " << i;
        ASSERT_NEAR(dy[i], want_dy[i], 1e-6) << "y displacement at " << i;
      }
      elastic(in.data(), rows, cols, dx.data(), dy.data(), out.data());
    } else if (kind == "hflip") {
      out = in;
      horizontal_flip(out.data(), rows, cols);
    } else {
      ASSERT_EQ(kind, "erase");
      out = in;
      erase(out.data(), cols, p["top"], p["left"], p["height"], p["width"]);
    }
    const std::vector<float> expected = c["output"].get<std::vector<float>>();
    ASSERT_EQ(expected.size(), out.size());
    // torchvision's grid is float32; ours double. Nearest may then round a
    // point that sits within 1e-5 of a tie the other way: a pixel or two.
    size_t differ = 0;
    double worst = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      const double diff = std::abs(double(out[i]) - expected[i]);
      if (diff > 1e-5) ++differ;
      worst = std::max(worst, diff);
    }
    if (nearest) {
      EXPECT_LE(differ, out.size() / 100 + 1) << "largest difference " << worst;
    } else {
      EXPECT_EQ(differ, 0u) << "largest difference " << worst;
    }
  }
}

TEST(Augment, DrawsFollowTorchvisionsDefinitions) {
  AugmentOptions o = parse_augment("crop=3,degrees=15,translate=0.1,scale=0.8:1.2,shear=7,hflip,erase=0.4");
  const int rows = 28, cols = 28;
  Rng rng(11);
  std::set<int> tops, lefts, txs;
  int flips = 0, erased = 0;
  double min_angle = 1e9, max_angle = -1e9;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    const AugmentDraw d = draw_augment(o, rows, cols, rng);
    tops.insert(d.crop_top);
    lefts.insert(d.crop_left);
    // RandomAffine: angle in [-15, 15]; translation round(U(-0.1 * 28, 0.1 * 28)) in [-3, 3] (2.8 rounds to 3).
    min_angle = std::min(min_angle, d.angle);
    max_angle = std::max(max_angle, d.angle);
    ASSERT_LE(std::abs(d.angle), 15.0);
    ASSERT_LE(std::abs(d.translate_x), 3);
    ASSERT_LE(std::abs(d.translate_y), 3);
    txs.insert(d.translate_x);
    ASSERT_GE(d.scale, 0.8);
    ASSERT_LE(d.scale, 1.2);
    ASSERT_LE(std::abs(d.shear_x), 7.0);
    flips += d.flip;
    if (d.erase_height > 0) {
      ++erased;
      // RandomErasing: area in [0.02, 0.33] of the image and aspect in [0.3, 3.3], before rounding each side.
      const double area = double(d.erase_height) * d.erase_width;
      ASSERT_GE(area, 0.02 * rows * cols - (d.erase_height + d.erase_width) / 2.0 - 1);
      ASSERT_LE(area, 0.33 * rows * cols + (d.erase_height + d.erase_width) / 2.0 + 1);
      ASSERT_LT(d.erase_height, rows);
      ASSERT_LT(d.erase_width, cols);
      ASSERT_LE(d.erase_top + d.erase_height, rows);
      ASSERT_LE(d.erase_left + d.erase_width, cols);
    }
  }
  // RandomCrop(28, padding=3) cuts at 0..6 in the 34x34 padded image, every one of them.
  EXPECT_EQ(tops, (std::set<int>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(lefts, tops);
  EXPECT_EQ(txs, (std::set<int>{-3, -2, -1, 0, 1, 2, 3}));
  EXPECT_LT(min_angle, -14.5);
  EXPECT_GT(max_angle, 14.5);
  EXPECT_NEAR(flips / double(draws), 0.5, 0.02);
  EXPECT_NEAR(erased / double(draws), 0.4, 0.02);
}

TEST(Augment, SpecReadsBackAndBadItemsAreNamed) {
  const AugmentOptions o = parse_augment("hflip,scale=0.9:1.1,crop=2,bilinear,degrees=10,erase=0.25");
  EXPECT_EQ(o.crop_padding, 2);
  EXPECT_EQ(o.degrees, 10);
  EXPECT_EQ(o.scale_min, 0.9);
  EXPECT_EQ(o.scale_max, 1.1);
  EXPECT_TRUE(o.hflip);
  EXPECT_EQ(o.interpolation, Interpolation::Bilinear);
  EXPECT_EQ(o.erase, 0.25);
  EXPECT_EQ(augment_spec(o), "crop=2,degrees=10,scale=0.9:1.1,bilinear,hflip,erase=0.25");
  EXPECT_EQ(augment_spec(parse_augment(augment_spec(o))), augment_spec(o));
  const AugmentOptions warp = parse_augment("elastic=50");
  EXPECT_EQ(warp.elastic_alpha, 50);
  EXPECT_EQ(warp.elastic_sigma, 5);  // torchvision's default
  EXPECT_EQ(augment_spec(warp), "elastic=50:5");
  EXPECT_EQ(augment_spec(parse_augment("erase=0.5,elastic=34:4,crop=1")), "crop=1,elastic=34:4,erase=0.5");
  EXPECT_FALSE(parse_augment("").any());
  EXPECT_FALSE(parse_augment("none").any());
  for (const auto& [spec, message] : std::vector<std::pair<std::string, std::string>>{
           {"crop=2.5", "'crop=2.5' in 'crop=2.5': expected a whole number"},
           {"hflip,rotate=3", "'rotate=3' in 'hflip,rotate=3': expected comma-separated items"},
           {"degrees=200", "expected a number from 0 to 180"},
           {"scale=1.2:0.9", "expected LO <= HI"},
           {"scale=1.2", "expected scale=LO:HI"},
           {"erase=nan", "expected a number from 0 to 1"},
           {"elastic=-3", "expected a number from 0 to 1000"},
           {"elastic=50:x", "'elastic=50:x' in 'elastic=50:x': expected a number from 0 to 64"},
           {"hflip=1", "'hflip=1'"}}) {
    try {
      parse_augment(spec);
      ADD_FAILURE() << spec << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

namespace {

Dataset numbered(int count) {
  Dataset d;
  d.rows = d.cols = 8;
  for (int i = 0; i < count; ++i) {
    for (int p = 0; p < 64; ++p) d.pixels.push_back(uint8_t((i * 7 + p * 3) % 256));
    d.labels.push_back(uint8_t(i % 10));
  }
  return d;
}

std::vector<std::vector<float>> epoch_batches(BatchLoader& loader, int epoch, size_t skip = 0) {
  loader.start_epoch(epoch);
  loader.skip_batches(skip);
  std::vector<std::vector<float>> batches;
  std::vector<float> images(size_t(loader.batch_size()) * loader.image_size());
  std::vector<int32_t> labels(size_t(loader.batch_size()));
  for (int n; (n = loader.next(images.data(), labels.data())) > 0;)
    batches.emplace_back(images.begin(), images.begin() + long(size_t(n) * loader.image_size()));
  return batches;
}

}  // namespace

TEST(Augment, LoaderStreamsDependOnSeedEpochAndPositionOnly) {
  const Dataset d = numbered(50);
  const AugmentOptions o = parse_augment("crop=2,degrees=20,elastic=6:1,erase=0.5");
  BatchLoader a(d, 8, true, 3, o), b(d, 8, true, 3, o), other_seed(d, 8, true, 4, o), plain(d, 8, true, 3);
  const auto first = epoch_batches(a, 1);
  EXPECT_EQ(first, epoch_batches(b, 1));
  EXPECT_NE(first, epoch_batches(a, 2));
  EXPECT_NE(first, epoch_batches(other_seed, 1));
  EXPECT_NE(first, epoch_batches(plain, 1));  // it does augment
  // A resume that skips three batches sees the uninterrupted epoch's rest.
  const auto rest = epoch_batches(b, 1, 3);
  EXPECT_EQ(rest, std::vector<std::vector<float>>(first.begin() + 3, first.end()));

  // Through the prefetching thread: the same batches, epoch after epoch.
  PrefetchLoader prefetch(b);
  for (int epoch : {1, 2, 1}) {
    const auto direct = epoch_batches(a, epoch, epoch == 2 ? 2 : 0);
    prefetch.start_epoch(epoch, epoch == 2 ? 2 : 0);
    std::vector<std::vector<float>> fetched;
    const float* images;
    const int32_t* labels;
    for (int n; (n = prefetch.next(&images, &labels)) > 0;)
      fetched.emplace_back(images, images + size_t(n) * b.image_size());
    EXPECT_EQ(fetched, direct) << "epoch " << epoch;
  }
  // Starting an epoch before the last one ended (an interrupted run) is fine too.
  prefetch.start_epoch(0, 0);
  const float* images;
  const int32_t* labels;
  EXPECT_EQ(prefetch.next(&images, &labels), 8);
  prefetch.start_epoch(1, 0);
  EXPECT_EQ(prefetch.next(&images, &labels), 8);
  EXPECT_EQ(std::vector<float>(images, images + 8 * 64), first[0]);
}
