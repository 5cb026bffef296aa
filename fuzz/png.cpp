// A PNG as `mnistlab predict` and `denoise apply` take it
// (src/cli/image_input.cpp, src/io/png.cpp): read as grayscale of any depth and
// checked against the model's 1x28x28 input.
#include "cli/image_input.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mnistlab;
  const auto path = fuzz::write_file("digit.png", data, size);
  fuzz::accepts("png_as_input", [&] {
    const std::vector<float> x = cli::png_as_input(path.string(), image_shape(1, 28, 28));
    if (x.size() != 28 * 28) std::abort();
  });
  return 0;
}
