#pragma once
#include <cstddef>

namespace mnistlab {

// Floats of column buffer a convolution may use at once; beyond it the batch
// is processed in chunks. Tests lower it to exercise the chunked path.
void set_conv2d_workspace_budget(size_t floats);
// Output pixels per image from which a Conv2d configured afterwards works
// image by image rather than on the whole batch at once (default 49). Tests
// set it to reach both strategies on small inputs.
void set_conv2d_per_sample_min_hw(int pixels);
// Whether Conv2d layers configured afterwards may take the Winograd route
// for their forward and input gradient (default true). Tests compare the routes.
void set_conv2d_winograd(bool enabled);

}  // namespace mnistlab
