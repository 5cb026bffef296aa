#include "mnistlab/tensor.h"

namespace mnistlab {

std::string SampleShape::str(long batch) const {
  std::string s = "[" + std::to_string(batch) + ", " + std::to_string(c);
  if (rank == 4) s += ", " + std::to_string(h) + ", " + std::to_string(w);
  return s + "]";
}

SampleShape image_shape(int c, int h, int w) { return {c, h, w, 4}; }
SampleShape flat_shape(int features) { return {features, 1, 1, 2}; }

}  // namespace mnistlab
