#pragma once
// 8-bit grayscale PNG files (libpng), for predict, denoise and image grids.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace mnistlab {

struct GrayImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, height * width
};

// Accepts grayscale PNGs of any bit depth (converted to 8 bits); color,
// alpha or a file that is not a PNG is an Error naming the file.
GrayImage read_png_gray(const std::filesystem::path& path);
// Written to a temporary file and renamed.
void write_png_gray(const std::filesystem::path& path, const GrayImage& image);

}  // namespace mnistlab
