#pragma once
// A grayscale PNG as one model input: exactly the model's size (never
// resized), pixels scaled to [0, 1] as the datasets are: v / 255, or
// v / 65535 for a 16-bit file (read_png_gray_values).
#include <string>
#include <vector>

#include "mnistlab/tensor.h"

namespace mnistlab::cli {

// Throws Error naming the file: not a grayscale PNG, or not input's size.
std::vector<float> png_as_input(const std::string& path, const SampleShape& input);

}  // namespace mnistlab::cli
