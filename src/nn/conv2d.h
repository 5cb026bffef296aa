#pragma once
#include <cstddef>

namespace mnistlab {

// Floats of column buffer a convolution may use at once; beyond it the batch
// is processed in chunks. Tests lower it to exercise the chunked path.
void set_conv2d_workspace_budget(size_t floats);

}  // namespace mnistlab
