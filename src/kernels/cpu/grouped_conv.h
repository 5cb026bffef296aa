#pragma once
// Grouped Conv2d (ConvShape::groups > 1, PyTorch's Conv2d(groups=G)): input
// channel group g (cin / G channels) feeds output channel group g (cout / G
// channels) only; weight [cout, cin / G, k, k], bias [cout].
//
//   G == cin (depthwise): direct kernels of their own (depthwise_kernels.h),
//     per instruction set, threaded over (image, input channel).
//   otherwise: each group is a Conv2d of cin / G -> cout / G channels by the
//     ordinary routes (make_conv2d), on its channels gathered from the batch.
#include <memory>

#include "kernels/backend.h"
#include "kernels/cpu/context.h"

namespace mnistlab::cpu {

// Throws mnistlab::Error when groups does not divide both channel counts.
std::unique_ptr<ConvKernel> make_grouped_conv2d(const CpuContext& ctx, const ConvShape& shape, int max_batch,
                                                bool gradients);

}  // namespace mnistlab::cpu
