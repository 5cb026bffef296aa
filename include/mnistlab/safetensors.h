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
  // F32; F16, BF16, F64 (a finite value beyond float32's range is an error)
  // and I64 converted; other dtypes are an error.
  std::vector<float> to_floats() const;
  bool converts_to_floats() const;
};

// The CRC-32C of the data section, 8 lowercase hex digits, in the metadata
// of every file mnistlab writes.
inline constexpr const char* kDataCrc32cKey = "mnistlab.data_crc32c";

struct SafetensorsFile {
  std::map<std::string, StoredTensor> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Throws Error naming the file and what is wrong: truncated, bad header, a
// key twice, metadata that is not strings, offsets outside the data, sizes
// that do not match dtype and shape, tensors that do not tile the data
// section exactly (overlaps, gaps), data whose CRC-32C differs from
// kDataCrc32cKey's when the metadata has one (PyTorch's files have none).
SafetensorsFile read_safetensors_file(const std::filesystem::path& path);
std::map<std::string, StoredTensor> read_safetensors(const std::filesystem::path& path);
// The header's "__metadata__" strings (empty when there are none); reads
// neither the data nor its checksum.
std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path);
// Written to a temporary file, flushed to disk and renamed over `path`.
// `metadata` goes under "__metadata__" beside {"format": "pt"} and
// kDataCrc32cKey (computed here, whatever `metadata` says).
void write_safetensors(const std::filesystem::path& path, const std::map<std::string, StoredTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
StoredTensor f32_tensor(const float* values, std::vector<int64_t> shape);

// Every state_dict entry of the model, under PyTorch's keys; BatchNorm's
// num_batches_tracked as I64 like PyTorch's.
void save_state_dict(Model& model, const std::filesystem::path& path,
                     const std::map<std::string, std::string>& metadata = {});
// strict, like load_state_dict(strict=True): missing or extra keys and
// shapes that differ are an error listing every one as PyTorch does (and
// the fix when the keys differ by a prefix such as DataParallel's
// "module."); F16, BF16 and F64 tensors are converted to float32; another
// dtype, or a value that is NaN or infinite, is an error naming the key
// (and the count and first index); the model is left unchanged then. A
// torch.save pickle is refused with how to save safetensors instead.
void load_state_dict(Model& model, const std::filesystem::path& path);
void load_state_dict(Model& model, const std::map<std::string, StoredTensor>& tensors, const std::string& origin);

}  // namespace mnistlab
