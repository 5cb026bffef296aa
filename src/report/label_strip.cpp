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
  // Capitals fill the 5 rows; small letters mostly the lower 4, so "a" and "A" differ.
  static const uint8_t kUpper[26][kGlyphH] = {
      {2, 5, 7, 5, 5}, {6, 5, 6, 5, 6}, {3, 4, 4, 4, 3}, {6, 5, 5, 5, 6}, {7, 4, 6, 4, 7}, {7, 4, 6, 4, 4},
      {3, 4, 5, 5, 3}, {5, 5, 7, 5, 5}, {7, 2, 2, 2, 7}, {1, 1, 1, 5, 2}, {5, 5, 6, 5, 5}, {4, 4, 4, 4, 7},
      {5, 7, 7, 5, 5}, {6, 5, 5, 5, 5}, {2, 5, 5, 5, 2}, {6, 5, 6, 4, 4}, {2, 5, 5, 6, 3}, {6, 5, 6, 5, 5},
      {3, 4, 2, 1, 6}, {7, 2, 2, 2, 2}, {5, 5, 5, 5, 7}, {5, 5, 5, 5, 2}, {5, 5, 7, 7, 5}, {5, 5, 2, 5, 5},
      {5, 5, 2, 2, 2}, {7, 1, 2, 4, 7}};
  static const uint8_t kLower[26][kGlyphH] = {
      {0, 3, 5, 5, 3}, {4, 6, 5, 5, 6}, {0, 3, 4, 4, 3}, {1, 3, 5, 5, 3}, {0, 2, 7, 4, 3}, {1, 2, 7, 2, 2},
      {3, 5, 3, 1, 6}, {4, 4, 6, 5, 5}, {2, 0, 2, 2, 2}, {1, 0, 1, 5, 2}, {4, 5, 6, 6, 5}, {6, 2, 2, 2, 7},
      {0, 6, 7, 5, 5}, {0, 6, 5, 5, 5}, {0, 2, 5, 5, 2}, {0, 6, 5, 6, 4}, {0, 3, 5, 3, 1}, {0, 3, 4, 4, 4},
      {0, 3, 6, 3, 6}, {2, 7, 2, 2, 3}, {0, 5, 5, 5, 3}, {0, 5, 5, 5, 2}, {0, 5, 5, 7, 7}, {0, 5, 2, 2, 5},
      {5, 5, 3, 1, 6}, {0, 7, 3, 6, 7}};
  static const uint8_t kArrow[kGlyphH] = {4, 2, 1, 2, 4}, kDash[kGlyphH] = {0, 0, 7, 0, 0},
                       kSlash[kGlyphH] = {1, 1, 2, 4, 4}, kDot[kGlyphH] = {0, 0, 0, 0, 2},
                       kSpace[kGlyphH] = {0, 0, 0, 0, 0};
  if (c >= '0' && c <= '9') return kDigits[c - '0'];
  if (c >= 'A' && c <= 'Z') return kUpper[c - 'A'];
  if (c >= 'a' && c <= 'z') return kLower[c - 'a'];
  switch (c) {
    case '>': return kArrow;
    case '-': return kDash;
    case '/': return kSlash;
    case '.': return kDot;
    case ' ': return kSpace;
    default: return nullptr;
  }
}

int text_width(const std::string& text) { return int(text.size()) * (kGlyphW + 1) - 1; }

}  // namespace

bool label_strip_fits(const std::string& text, int width) {
  for (char c : text)
    if (!glyph(c)) return false;
  return text_width(text) <= width;
}

void append_label_strip(const std::string& text, int width, std::vector<float>& image) {
  const size_t top = image.size();
  image.resize(top + size_t(kStripRows) * width, 0.f);
  const int left = (width - text_width(text)) / 2;
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
