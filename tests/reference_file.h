#pragma once
// The PyTorch reference files that tests/reference/*.py write at test time
// (ctest runs them first, as fixtures).
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "mnistlab/safetensors.h"

namespace mnistlab::test {

inline std::map<std::string, StoredTensor> load_reference(const std::string& name) {
  const std::filesystem::path path = std::filesystem::path(MNISTLAB_REFERENCE_DIR) / name;
  if (!std::filesystem::exists(path))
    throw std::runtime_error(path.string() + " is missing; run the script in tests/reference/ that writes it, with "
                             "--out " + MNISTLAB_REFERENCE_DIR);
  return read_safetensors(path);
}

}  // namespace mnistlab::test
