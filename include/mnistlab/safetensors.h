#pragma once
// The safetensors format (8-byte little-endian header length, JSON header,
// raw little-endian data) and PyTorch state_dicts stored in it.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mnistlab/model.h"

namespace mnistlab {

struct StoredTensor {
  std::string dtype;  // "F32", "I64", ...
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  size_t numel() const;
  std::vector<float> to_floats() const;  // F32, or I64 converted; other dtypes are an error
};

// Throws Error naming the file and what is wrong (truncated, bad header,
// offsets outside the data, sizes that do not match dtype and shape).
std::map<std::string, StoredTensor> read_safetensors(const std::filesystem::path& path);
// The header's "__metadata__" strings (empty when there are none).
std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path);
// Written to a temporary file, flushed to disk and renamed over `path`.
// `metadata` goes under "__metadata__" beside {"format": "pt"}.
void write_safetensors(const std::filesystem::path& path, const std::map<std::string, StoredTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
StoredTensor f32_tensor(const float* values, std::vector<int64_t> shape);

// Every state_dict entry of the model, under PyTorch's keys; BatchNorm's
// num_batches_tracked as I64 like PyTorch's.
void save_state_dict(Model& model, const std::filesystem::path& path,
                     const std::map<std::string, std::string>& metadata = {});
// strict, like load_state_dict(strict=True): a missing or extra key or a
// shape that differs is an error naming the key (and both shapes); the
// model is left unchanged then.
void load_state_dict(Model& model, const std::filesystem::path& path);
void load_state_dict(Model& model, const std::map<std::string, StoredTensor>& tensors, const std::string& origin);

}  // namespace mnistlab
