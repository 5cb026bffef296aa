#pragma once
// Grayscale PNG files (libpng): read at any bit depth for predict and
// denoise, written at 8 bits for them and image grids, and as RGB for
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

// Accepts grayscale PNGs of any bit depth; color, alpha, a file that is not
// a PNG, a size above limits::kImageSide or other than `width` x `height`
// (when given: 0 takes any) is an Error naming the file, checked from the
// header before any pixel is allocated. The samples are taken as stored:
// gAMA, sRGB, cHRM, iCCP and sBIT change nothing (as in PIL, OpenCV and
// torchvision); files of 1, 2 and 4 bits are scaled to 0..255 (4-bit 15 is
// 255), 16-bit samples v to round(v * 255 / 65535).
GrayImage read_png_gray(const std::filesystem::path& path, int width = 0, int height = 0);

// The same file's samples scaled to [0, 1] without rounding them to 8 bits:
// v / 255 for files of 8 bits or fewer (after the scaling above), v / 65535
// for 16-bit files, so a 16-bit file of 257 * v reads as the 8-bit file of v.
struct GrayValues {
  int width = 0, height = 0;
  int bits = 8;               // 8, or 16 for a 16-bit file
  std::vector<float> values;  // row-major, height * width, in [0, 1]
};
GrayValues read_png_gray_values(const std::filesystem::path& path, int width = 0, int height = 0);
// Written to a temporary file and renamed.
void write_png_gray(const std::filesystem::path& path, const GrayImage& image);
// The bytes of the PNG file write_png_gray would write.
std::string encode_png_gray(const GrayImage& image);
// The bytes of an 8-bit RGB PNG with each gray level in all three channels:
// a 1-channel image as PyTorch's SummaryWriter.add_image encodes it, for
// TensorBoard's image summaries (which carry the file inside the event).
std::string encode_png_rgb(const GrayImage& image);

}  // namespace mnistlab
