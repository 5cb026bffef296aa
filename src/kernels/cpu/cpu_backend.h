#pragma once
#include <memory>

#include "kernels/backend.h"

namespace mnistlab {

// The CPU backend: host memory, the hand-written kernels of the widest
// instruction set allowed, oneDNN's GEMM; threads fixed when it is made.
std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);

}  // namespace mnistlab
