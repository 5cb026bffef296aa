#pragma once
// 8-bit grayscale PNG files (libpng), for predict, denoise, image grids and
// TensorBoard images.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mnistlab {

struct GrayImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, height * width
};

// Accepts grayscale PNGs of any bit depth (converted to 8 bits); color,
// alpha, a file that is not a PNG, a size above limits::kImageSide or other
// than `width` x `height` (when given: 0 takes any) is an Error naming the
// file, checked from the header before any pixel is allocated.
GrayImage read_png_gray(const std::filesystem::path& path, int width = 0, int height = 0);
// Written to a temporary file and renamed.
void write_png_gray(const std::filesystem::path& path, const GrayImage& image);
// The bytes of the PNG file write_png_gray would write (for TensorBoard's
// image summaries, which carry the file inside the event).
std::string encode_png_gray(const GrayImage& image);

}  // namespace mnistlab
