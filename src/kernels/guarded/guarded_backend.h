#pragma once
#include <memory>

#include "kernels/backend.h"

namespace mnistlab {

// The inner backend's kernels on memory the host cannot touch between
// backend calls: every block it allocates is its own pages, kept PROT_NONE
// except while one of its operations (or a convolution it planned) runs.
// Code that reads or writes a tensor's bytes without going through the
// backend faults at once. Slow (every call opens and closes every block):
// for tests that prove nothing reaches around the seam.
std::unique_ptr<Backend> make_guarded_backend(std::unique_ptr<Backend> inner);

}  // namespace mnistlab
