#pragma once
// Grids of small images for looking at data and results: pairs.png
// (noisy | clean) and samples.png (noisy | output | clean).
#include <vector>

#include "mnistlab/png.h"

namespace mnistlab {

struct GridLayout {
  int scale = 3;        // each pixel becomes scale x scale
  int gap = 2;          // between the images of a group
  int group_gap = 10;   // between groups, and around the border
  int group_size = 2;   // images side by side that belong together
  uint8_t background = 96;  // mid-gray, so black and white image edges both show
};

// rows[r] holds the images of row r (h x w floats each, shown clamped to
// [0, 1]), grouped left to right in groups of layout.group_size.
GrayImage image_grid(const std::vector<std::vector<const float*>>& rows, int height, int width,
                     const GridLayout& layout = {});

}  // namespace mnistlab
