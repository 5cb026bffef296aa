#pragma once
// 8-bit grayscale PNG files (libpng), for predict, denoise, image grids and
// TensorBoard images (those as RGB).
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
// The bytes of the PNG file write_png_gray would write.
std::string encode_png_gray(const GrayImage& image);
// The bytes of an 8-bit RGB PNG with each gray level in all three channels:
// a 1-channel image as PyTorch's SummaryWriter.add_image encodes it, for
// TensorBoard's image summaries (which carry the file inside the event).
std::string encode_png_rgb(const GrayImage& image);

}  // namespace mnistlab
