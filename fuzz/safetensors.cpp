// A safetensors file as `eval --weights` and `denoise apply --weights` read
// it (src/io/safetensors.cpp): the metadata read, every tensor parsed and
// converted to floats, then loaded into a small model with a convolution,
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

// What persists across inputs is made before the first: allocations an
// input leaves behind make libFuzzer run it again to look for leaks, which
// put a 200,000-key seed over the 512 MB limit (ASan's quarantine holding
// the first run's memory).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  model();
  mnistlab::fuzz::temp_dir();
  mnistlab::fuzz::verbose();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mnistlab;
  const auto path = fuzz::write_file("weights.safetensors", data, size);
  // Each header read once where it can be (not again by read_safetensors_metadata
  // or load_state_dict(model, path)): a 200,000-key seed takes seconds per
  // read under the sanitizers.
  SafetensorsFile file;
  if (!fuzz::accepts("read_safetensors_file", [&] { file = read_safetensors_file(path); })) {
    // The header alone reads when the data is refused.
    fuzz::accepts("read_safetensors_metadata", [&] { read_safetensors_metadata(path); });
    return 0;
  }
  for (const auto& entry : file.tensors) {
    const StoredTensor& t = entry.second;
    const bool converted = fuzz::accepts("to_floats", [&] {
      const std::vector<float> values = t.to_floats();
      if (values.size() != t.numel()) std::abort();
    });
    if (!converted) break;  // one refusal says it; 200,000 thrown under ASan take seconds
  }
  fuzz::accepts("load_state_dict", [&] { load_state_dict(model(), file.tensors, path.string()); });
  return 0;
}
