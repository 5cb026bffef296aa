#include "cli/image_input.h"

#include "mnistlab/error.h"
#include "mnistlab/png.h"

namespace mnistlab::cli {

std::vector<float> png_as_input(const std::string& path, const SampleShape& in) {
  if (in.c != 1 || in.rank != 4) throw Error("the model takes " + in.str() + ", not grayscale images");
  const GrayImage image = read_png_gray(path, in.w, in.h);  // the size is checked before decoding
  std::vector<float> x(image.pixels.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(image.pixels[i]) / 255.0f;
  return x;
}

}  // namespace mnistlab::cli
