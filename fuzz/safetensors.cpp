// A safetensors file as `eval --weights` and `denoise apply --weights` read
// it (src/io/safetensors.cpp): every tensor parsed and converted to floats,
// the metadata read, then loaded into a small model with a convolution,
// BatchNorm (an I64 num_batches_tracked) and a linear layer.
#include "fuzz_common.h"
#include "mnistlab/model_file.h"
#include "mnistlab/safetensors.h"

namespace {

// Keys 0.weight [2,1,3,3], 0.bias, 1.{weight,bias,running_mean,running_var} [2],
// 1.num_batches_tracked [], 4.weight [3,8], 4.bias [3] (fuzz/make_corpus.py writes the same).
const char* const kModel = "input 1 4 4\nconv 2 k=3 s=2 p=1\nbatchnorm\nrelu\nflatten\nlinear 3\n";

mnistlab::Model& model() {
  static mnistlab::Model m = [] {
    mnistlab::Model built = mnistlab::parse_model(kModel, "fuzz-safetensors.model");
    built.build(0);
    return built;
  }();
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mnistlab;
  const auto path = fuzz::write_file("weights.safetensors", data, size);
  fuzz::accepts("read_safetensors", [&] {
    const auto tensors = read_safetensors(path);
    for (const auto& entry : tensors) {
      const StoredTensor& t = entry.second;
      fuzz::accepts("to_floats", [&] {
        const std::vector<float> values = t.to_floats();
        if (values.size() != t.numel()) std::abort();
      });
    }
  });
  fuzz::accepts("read_safetensors_metadata", [&] { read_safetensors_metadata(path); });
  fuzz::accepts("load_state_dict", [&] { load_state_dict(model(), path); });
  return 0;
}
