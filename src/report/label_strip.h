#pragma once
// A line of text under an image in a picture grid (misclassified.png's
// "label>predicted"): digits, letters, '>', '-', '/', '.' and space in a 3x5
// pixel font, white on black.
#include <string>
#include <vector>

namespace mnistlab {

// Whether the font has every character of `text` and it fits in `width` pixels.
bool label_strip_fits(const std::string& text, int width);

// Appends 7 rows of `width` pixels to `image` (rows of `width` floats in
// [0, 1]) with `text` centred in them; characters it has no glyph for are
// left blank.
void append_label_strip(const std::string& text, int width, std::vector<float>& image);

}  // namespace mnistlab
