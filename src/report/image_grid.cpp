#include "mnistlab/image_grid.h"

#include <algorithm>
#include <cmath>

#include "mnistlab/error.h"

namespace mnistlab {

GrayImage image_grid(const std::vector<std::vector<const float*>>& rows, int height, int width,
                     const GridLayout& l) {
  if (rows.empty() || rows[0].empty()) throw Error("an image grid needs at least one image");
  const int per_row = int(rows[0].size());
  const int groups = (per_row + l.group_size - 1) / l.group_size;
  const int tile_w = width * l.scale, tile_h = height * l.scale;
  // x of image c in a row: border, then groups separated by group_gap, images within by gap.
  auto x_of = [&](int c) {
    const int g = c / l.group_size, in_group = c % l.group_size;
    return l.group_gap + g * (l.group_size * tile_w + (l.group_size - 1) * l.gap + l.group_gap) +
           in_group * (tile_w + l.gap);
  };
  GrayImage out;
  out.width = x_of(groups * l.group_size - 1) + tile_w + l.group_gap;
  out.height = l.group_gap + int(rows.size()) * (tile_h + l.group_gap);
  out.pixels.assign(size_t(out.width) * out.height, l.background);
  for (size_t r = 0; r < rows.size(); ++r) {
    const int y0 = l.group_gap + int(r) * (tile_h + l.group_gap);
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const float* image = rows[r][c];
      const int x0 = x_of(int(c));
      for (int y = 0; y < tile_h; ++y)
        for (int x = 0; x < tile_w; ++x) {
          const float v = std::clamp(image[(y / l.scale) * width + x / l.scale], 0.f, 1.f);
          out.pixels[size_t(y0 + y) * out.width + x0 + x] = uint8_t(std::lround(v * 255.f));
        }
    }
  }
  return out;
}

}  // namespace mnistlab
