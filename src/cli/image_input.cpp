#include "cli/image_input.h"

#include "mnistlab/error.h"
#include "mnistlab/png.h"

namespace mnistlab::cli {

std::vector<float> png_as_input(const std::string& path, const SampleShape& in) {
  if (in.c != 1 || in.rank != 4) throw Error("the model takes " + in.str() + ", not grayscale images");
  // The size is checked before decoding; 16-bit files keep their 16 bits.
  return read_png_gray_values(path, in.w, in.h).values;
}

}  // namespace mnistlab::cli
