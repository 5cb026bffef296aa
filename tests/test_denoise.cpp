// Noisy pairs and the denoising commands end to end on small synthetic
// data: pairs.png, denoise train (metrics, samples.png), denoise apply, and
// the errors for bad noise options, non-denoising models and bad images.
#include <png.h>

#include <cstring>

#include "cli_fixture.h"
#include "mnistlab/png.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

class Denoise : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write_dataset();
  }
  std::string data_dir() const { return "--data-dir " + (dir_ / "data").string(); }
};

// The mean of a tile of the grid: scale 3, border and group gap 10, gap 2.
double tile_mean(const GrayImage& g, int row, int column_in_row, int group_size) {
  const int tile = 28 * 3, group = column_in_row / group_size, in_group = column_in_row % group_size;
  const int x0 = 10 + group * (group_size * tile + (group_size - 1) * 2 + 10) + in_group * (tile + 2);
  const int y0 = 10 + row * (tile + 10);
  double sum = 0;
  for (int y = 0; y < tile; ++y)
    for (int x = 0; x < tile; ++x) sum += g.pixels[size_t(y0 + y) * g.width + x0 + x];
  return sum / (tile * tile);
}

}  // namespace

// A short last row leaves its cells empty (the background, 96), not
// filled with copies of the first image: 3 pairs, 2 per row.
TEST_F(Denoise, PairsLeaveAShortLastRowEmpty) {
  const fs::path png = dir_ / "pairs.png";
  auto r = run("pairs " + data_dir() + " --noise uniform --count 3 --per-row 2 --out " + png.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const GrayImage g = read_png_gray(png);
  EXPECT_EQ(g.height, 10 + 2 * (84 + 10));
  EXPECT_DOUBLE_EQ(tile_mean(g, 1, 2, 2), 96.0);  // row 2, second pair: noisy
  EXPECT_DOUBLE_EQ(tile_mean(g, 1, 3, 2), 96.0);  // and clean
  EXPECT_NE(tile_mean(g, 1, 1, 2), 96.0);         // the third pair is drawn
}

TEST_F(Denoise, PairsPutEachNoisyImageBeforeItsCleanOne) {
  const fs::path png = dir_ / "pairs.png";
  auto r = run("pairs " + data_dir() + " --noise uniform --count 4 --per-row 2 --out " + png.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const GrayImage g = read_png_gray(png);
  // Two rows of two (noisy, clean) groups: widths 10 + 2 * (84 + 2 + 84 + 10), heights 10 + 2 * (84 + 10).
  EXPECT_EQ(g.width, 10 + 2 * (84 + 2 + 84 + 10));
  EXPECT_EQ(g.height, 10 + 2 * (84 + 10));
  // Uniform noise only adds: every noisy tile is brighter than its clean partner.
  for (int row = 0; row < 2; ++row)
    for (int pair = 0; pair < 2; ++pair)
      EXPECT_GT(tile_mean(g, row, 2 * pair, 2), tile_mean(g, row, 2 * pair + 1, 2) + 20) << row << "," << pair;
}

TEST_F(Denoise, TrainWritesMetricsSamplesAndBeatsTheNoisyInput) {
  const fs::path out = dir_ / "run";
  auto r = run("denoise train --model dae-unet " + data_dir() +
               " --noise gaussian --noise-amount 0.3 --epochs 6 --batch-size 40 --lr 0.01 --threads 1 --out " +
               out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream csv(out / "metrics.csv");
  std::string header, line, last;
  std::getline(csv, header);
  EXPECT_EQ(header, "epoch,train_loss,test_loss,test_psnr,test_ssim,seconds,images_per_s");
  int rows = 0;
  while (std::getline(csv, line)) last = line, ++rows;
  EXPECT_EQ(rows, 6);
  double noisy_psnr = 0, noisy_ssim = 0;
  const size_t at = r.output.find("noisy test input itself:");
  ASSERT_NE(at, std::string::npos) << r.output;
  ASSERT_EQ(std::sscanf(r.output.c_str() + r.output.find("PSNR", at), "PSNR %lf dB  SSIM %lf", &noisy_psnr,
                        &noisy_ssim),
            2);
  std::vector<double> v;
  std::stringstream ss(last);
  for (std::string cell; std::getline(ss, cell, ',');) v.push_back(std::stod(cell));
  ASSERT_EQ(v.size(), 7u);
  // A few steps on tiny data: PSNR already beats the noisy input (SSIM, which
  // the synthetic images' random background keeps low, need not yet).
  EXPECT_GT(v[3], noisy_psnr) << "PSNR after training vs the noisy input: " << last;
  EXPECT_GT(noisy_ssim, 0.0);
  EXPECT_LE(noisy_ssim, 1.0);
  EXPECT_GT(v[4], -1.0);
  EXPECT_LE(v[4], 1.0);
  const GrayImage samples = read_png_gray(out / "samples.png");
  EXPECT_EQ(samples.width, 10 + 3 * 84 + 2 * 2 + 10);  // noisy | output | clean
  EXPECT_EQ(samples.height, 10 + 8 * (84 + 10));
  for (const char* file : {"curves.png", "best.safetensors", "last.safetensors", "report.txt"})
    EXPECT_TRUE(fs::exists(out / file)) << file;

  // denoise apply on one noisy image of the right size.
  GrayImage noisy{28, 28, std::vector<uint8_t>(784)};
  for (int i = 0; i < 784; ++i) noisy.pixels[i] = uint8_t((i * 37) % 256);
  write_png_gray(dir_ / "in.png", noisy);
  auto applied = run("denoise apply --model dae-unet --weights " + (out / "best.safetensors").string() + " " +
                     (dir_ / "in.png").string() + " " + (dir_ / "out.png").string());
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  const GrayImage result = read_png_gray(dir_ / "out.png");
  EXPECT_EQ(result.width, 28);
  EXPECT_EQ(result.height, 28);
}

TEST_F(Denoise, BadInputsAreClearErrors) {
  auto amount = run("denoise train " + data_dir() + " --noise gaussian --noise-amount 20 --epochs 1");
  EXPECT_NE(amount.exit_code, 0);
  EXPECT_NE(amount.output.find("gaussian noise needs --noise-amount sigma in (0, 10], got 20"), std::string::npos)
      << amount.output;
  auto pepper = run("pairs " + data_dir() + " --noise salt-pepper --noise-amount 1.5 --out x.png");
  EXPECT_NE(pepper.exit_code, 0);
  EXPECT_NE(pepper.output.find("salt-pepper noise needs --noise-amount p in (0, 1]"), std::string::npos)
      << pepper.output;
  auto classifier = run("denoise train --model baseline " + data_dir() + " --epochs 1 --out " + (dir_ / "c").string());
  EXPECT_NE(classifier.exit_code, 0);
  EXPECT_NE(classifier.output.find("a denoiser must give back the shape it takes"), std::string::npos)
      << classifier.output;
  EXPECT_NE(classifier.output.find("[-1, 10]"), std::string::npos) << classifier.output;

  write_rgb_png(dir_ / "rgb.png");
  std::ofstream(dir_ / "net.model") << "input 1 28 28\nconv 1 k=3 p=1\nsigmoid\n";
  // Weights for the tiny denoiser come from a one-epoch run.
  ASSERT_EQ(run("denoise train --model " + (dir_ / "net.model").string() + " " + data_dir() +
                " --epochs 1 --threads 1 --out " + (dir_ / "tiny").string())
                .exit_code,
            0);
  auto color = run("denoise apply --model " + (dir_ / "net.model").string() + " --weights " +
                   (dir_ / "tiny" / "last.safetensors").string() + " " + (dir_ / "rgb.png").string() + " " +
                   (dir_ / "o.png").string());
  EXPECT_NE(color.exit_code, 0);
  EXPECT_NE(color.output.find("rgb.png: is a color PNG; expected a grayscale PNG"), std::string::npos)
      << color.output;
}
