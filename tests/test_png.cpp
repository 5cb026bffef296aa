// encode_png_gray gives the bytes of the file write_png_gray writes, which
// read_png_gray reads back pixel for pixel.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli_fixture.h"
#include "mnistlab/error.h"
#include "mnistlab/png.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;

TEST(Png, EncodedInMemoryAsWrittenToAFile) {
  const fs::path dir = fs::temp_directory_path() / ("mnistlab_png_" + std::to_string(getpid()));
  fs::create_directories(dir);
  GrayImage image{7, 4, {}};
  for (int i = 0; i < 28; ++i) image.pixels.push_back(uint8_t(i * 53 % 256));
  const std::string bytes = encode_png_gray(image);
  write_png_gray(dir / "file.png", image);
  EXPECT_EQ(bytes, test::read_file(dir / "file.png"));
  std::ofstream(dir / "memory.png", std::ios::binary) << bytes;
  const GrayImage back = read_png_gray(dir / "memory.png");
  EXPECT_EQ(back.width, 7);
  EXPECT_EQ(back.height, 4);
  EXPECT_EQ(back.pixels, image.pixels);
  fs::remove_all(dir);
  EXPECT_THROW(encode_png_gray(GrayImage{3, 3, std::vector<uint8_t>(8)}), Error);  // 8 pixels for 3x3
}

}  // namespace
}  // namespace mnistlab
