#pragma once
// The CPU's convolution kernels behind Backend::conv2d and
// Backend::conv_transpose2d (kernels/backend.h).
#include <memory>

#include "kernels/backend.h"
#include "kernels/cpu/context.h"

namespace mnistlab::cpu {

std::unique_ptr<ConvKernel> make_conv2d(const CpuContext& ctx, const ConvShape& shape, int max_batch, bool gradients);
// Small maps: the whole batch at once, by tap groups (conv2d_batched.cpp).
std::unique_ptr<ConvKernel> make_batched_conv2d(const CpuContext& ctx, const ConvShape& shape, int max_batch,
                                                bool gradients);
std::unique_ptr<ConvKernel> make_conv_transpose2d(const CpuContext& ctx, const ConvShape& transposed, int max_batch,
                                                  bool gradients);

}  // namespace mnistlab::cpu
