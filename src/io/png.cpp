// libpng's simplified API (png_image, libpng >= 1.6) reads and writes whole
// images without setjmp/longjmp in our code.
#include "mnistlab/png.h"

#include <png.h>

#include <cstdio>
#include <cstring>

#include "io/input_file.h"
#include "io/temporary_file.h"
#include "mnistlab/error.h"
#include "mnistlab/limits.h"

namespace mnistlab {

GrayImage read_png_gray(const std::filesystem::path& path, int width, int height) {
  const std::string name = path.string();
  check_input_file(path, "a PNG image", int64_t(1) << 30);
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, name.c_str()))
    throw Error(name + ": not a readable PNG file (" + image.message + ")");
  // The file's own format, before any conversion we ask for.
  const bool color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  const bool alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  if (color || alpha) {
    png_image_free(&image);
    throw Error(name + ": is a " + std::string(color ? "color" : "gray+alpha") +
                " PNG; expected a grayscale PNG without alpha (convert it, e.g. with ImageMagick: "
                "convert IN -colorspace Gray -alpha off OUT.png)");
  }
  const int64_t w = image.width, h = image.height;
  if (w > limits::kImageSide || h > limits::kImageSide || (width > 0 && (w != width || h != height))) {
    png_image_free(&image);
    throw Error(name + ": is " + std::to_string(w) + "x" + std::to_string(h) + "; expected " +
                (width > 0 ? std::to_string(width) + "x" + std::to_string(height) +
                                 " (mnistlab does not resize: scale it first)"
                           : "at most " + std::to_string(limits::kImageSide) + " pixels a side"));
  }
  image.format = PNG_FORMAT_GRAY;
  GrayImage out;
  out.width = int(image.width);
  out.height = int(image.height);
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr))
    throw Error(name + ": cannot decode the PNG (" + image.message + ")");
  return out;
}

void write_png_gray(const std::filesystem::path& path, const GrayImage& img) {
  if (img.width < 1 || img.height < 1 || img.pixels.size() != size_t(img.width) * img.height)
    throw Error(path.string() + ": image of " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                " with " + std::to_string(img.pixels.size()) + " pixels");
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = png_uint_32(img.width);
  image.height = png_uint_32(img.height);
  image.format = PNG_FORMAT_GRAY;
  TemporaryFile tmp(path);
  if (!png_image_write_to_file(&image, tmp.path().c_str(), 0, img.pixels.data(), 0, nullptr))
    throw Error(path.string() + ": cannot write the PNG (" + image.message + ")");
  tmp.commit();
}

}  // namespace mnistlab
