// A model file through `mnistlab summary FILE` (src/cli/summary_command.cpp):
// resolve_model reads it, parse_model configures every layer on the shapes
// before it, summarize and format_summary make the table. A network that
// passes then goes where `info`, `predict` and `train` take it: parameters
// built, every layer's kernel planned (src/kernels/cpu/) for batch 2 with
// gradients, one forward and one backward pass on one thread. Only networks
// the summary calls small go on (up to 2M parameters and 16 MB of
// activations), so that a valid big one (vgg-bn) does not pass for a memory
// finding; a summary whose numbers overflowed (negative) goes on too.
// (At 64 MB a legal `conv 128 k=3 p=114` on a 4x4 map, 47 GMAC for one
// step, took over the 10 s limit under the sanitizers: compute the model
// file declares, not a defect.)
#include <vector>

#include "fuzz_common.h"
#include "mnistlab/model_file.h"
#include "mnistlab/summary.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mnistlab;
  const auto path = fuzz::write_file("my.model", data, size);
  ModelSource source;
  Summary s;
  const bool parsed = fuzz::accepts("summary", [&] {
    source = resolve_model(path.string());
    s = summarize(parse_model(source.text, source.origin));
    format_summary(s);
  });
  if (!parsed || s.total_params > 2'000'000 || s.forward_backward_mb > 16) return 0;
  fuzz::accepts("build, plan, forward and backward", [&] {
    Model model = parse_model(source.text, source.origin);
    model.build(0);
    BackendOptions options = model.backend_options();
    options.threads = 1;
    model.set_backend(options);
    constexpr int kBatch = 2;
    model.reserve(kBatch, true);
    model.kernel_routes();
    std::vector<float> x(kBatch * model.input_shape().numel(), 0.5f);
    const Tensor& y = model.forward(x.data(), kBatch);
    std::vector<float> dy(y.numel(), 0.25f);
    model.backward(dy.data());
  });
  return 0;
}
