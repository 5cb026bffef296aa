#pragma once
// A line of text under an image in a picture grid (misclassified.png's
// "label>predicted"): digits and '>' in a 3x5 pixel font, white on black.
#include <string>
#include <vector>

namespace mnistlab {

// Appends 7 rows of `width` pixels to `image` (rows of `width` floats in
// [0, 1]) with `text` centred in them; characters it has no glyph for are
// left blank.
void append_label_strip(const std::string& text, int width, std::vector<float>& image);

}  // namespace mnistlab
