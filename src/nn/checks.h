#pragma once
// Checks of a layer's options against mnistlab/limits.h, made in configure
// before any shape arithmetic, so a layer built through the API is as safe
// as one read from a model file.
#include <cstdint>
#include <string>

#include "mnistlab/error.h"
#include "mnistlab/limits.h"

namespace mnistlab {

inline void check_at_most(int64_t value, int64_t limit, const std::string& what) {
  if (value > limit)
    throw Error(what + " " + std::to_string(value) + " is above the limit of " + std::to_string(limit));
}

// Kernel size, stride, padding (and output padding) of a window layer.
inline void check_window(const std::string& layer, int kernel, int stride, int padding, int output_padding = 0) {
  check_at_most(kernel, limits::kKernel, layer + " kernel_size");
  check_at_most(stride, limits::kKernel, layer + " stride");
  check_at_most(padding, limits::kKernel, layer + " padding");
  check_at_most(output_padding, limits::kKernel, layer + " output_padding");
}

}  // namespace mnistlab
