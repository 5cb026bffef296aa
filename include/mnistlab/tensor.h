#pragma once
// A Tensor is a view: float32, contiguous, NCHW (rank 4) or [N, F] (rank 2).
// It never owns memory; storage comes from the model's parameter block or
// its activation arena, so a training step allocates nothing.
#include <cstddef>
#include <cstdint>
#include <string>

namespace mnistlab {

// Shape of one sample (C, H, W); rank 2 means a flat feature vector of C.
struct SampleShape {
  int c = 1, h = 1, w = 1;
  int rank = 4;  // 4: [N, C, H, W]; 2: [N, C]
  size_t numel() const { return size_t(c) * h * w; }
  bool operator==(const SampleShape&) const = default;
  // "[-1, 32, 28, 28]" or "[-1, 256]", as torchsummary prints it.
  std::string str(long batch = -1) const;
};

SampleShape image_shape(int c, int h, int w);
SampleShape flat_shape(int features);

struct Tensor {
  float* data = nullptr;
  int n = 0;  // batch size
  SampleShape shape;
  size_t numel() const { return size_t(n) * shape.numel(); }
  float* sample(int i) const { return data + size_t(i) * shape.numel(); }
};

}  // namespace mnistlab
