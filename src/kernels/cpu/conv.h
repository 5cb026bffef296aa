#pragma once
// The CPU's convolution kernels behind Backend::conv2d and
// Backend::conv_transpose2d (kernels/backend.h).
#include <functional>
#include <memory>

#include "kernels/backend.h"
#include "kernels/cpu/context.h"

namespace mnistlab::cpu {

std::unique_ptr<ConvKernel> make_conv2d(const CpuContext& ctx, const ConvShape& shape, int max_batch, bool gradients);
// Small maps: the whole batch at once, by tap groups (conv2d_batched.cpp).
std::unique_ptr<ConvKernel> make_batched_conv2d(const CpuContext& ctx, const ConvShape& shape, int max_batch,
                                                bool gradients);
// Precision::Bf16 by oneDNN's bfloat16 primitives for batches of exactly
// max_batch (onednn_bf16_conv.cpp); other batches run fallback()'s kernel.
// Null where oneDNN has no bf16 implementation here.
std::unique_ptr<ConvKernel> make_onednn_bf16_conv2d(const CpuContext& ctx, const ConvShape& shape, int max_batch,
                                                    bool gradients,
                                                    const std::function<std::unique_ptr<ConvKernel>()>& fallback);
std::unique_ptr<ConvKernel> make_conv_transpose2d(const CpuContext& ctx, const ConvShape& transposed, int max_batch,
                                                  bool gradients);

}  // namespace mnistlab::cpu
