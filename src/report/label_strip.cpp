#include "report/label_strip.h"

#include <cstdint>

namespace mnistlab {
namespace {

constexpr int kGlyphW = 3, kGlyphH = 5, kStripRows = kGlyphH + 2;

// Rows of a glyph, top to bottom, 3 bits each (the high bit is the left pixel).
const uint8_t* glyph(char c) {
  static const uint8_t kDigits[10][kGlyphH] = {
      {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
      {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
  static const uint8_t kArrow[kGlyphH] = {4, 2, 1, 2, 4};
  if (c >= '0' && c <= '9') return kDigits[c - '0'];
  return c == '>' ? kArrow : nullptr;
}

}  // namespace

void append_label_strip(const std::string& text, int width, std::vector<float>& image) {
  const size_t top = image.size();
  image.resize(top + size_t(kStripRows) * width, 0.f);
  const int text_width = int(text.size()) * (kGlyphW + 1) - 1;
  const int left = (width - text_width) / 2;
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t* rows = glyph(text[i]);
    if (!rows) continue;
    for (int y = 0; y < kGlyphH; ++y)
      for (int x = 0; x < kGlyphW; ++x) {
        const int column = left + int(i) * (kGlyphW + 1) + x;
        if (column < 0 || column >= width || !(rows[y] >> (kGlyphW - 1 - x) & 1)) continue;
        image[top + size_t(y + 1) * width + size_t(column)] = 1.f;
      }
  }
}

}  // namespace mnistlab
