#include "mnistlab/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/input_file.h"
#include "io/temporary_file.h"
#include "mnistlab/error.h"
#include "mnistlab/limits.h"

namespace mnistlab {
namespace {

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16") return 2;
  if (dtype == "U8" || dtype == "I8" || dtype == "BOOL") return 1;
  return 0;
}

// A JSON array of integers as T. nlohmann's get<> converts a float (1e20)
// to an integer type with a C++ cast, undefined beyond the type's range
// (found by fuzz/safetensors.cpp): only integers that fit are taken.
template <class T>
std::vector<T> integers(const nlohmann::json& v, const char* field) {
  if (!v.is_array()) throw Error(std::string(field) + " must be an array of integers");
  std::vector<T> out;
  for (const auto& e : v) {
    const bool fits = e.is_number_unsigned() ? e.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
                      : e.is_number_integer() ? e.get<int64_t>() >= int64_t(std::numeric_limits<T>::min())
                                              : false;
    if (!fits)
      throw Error(std::string(field) + " holds " + e.dump() + " where an integer in [" +
                  std::to_string(std::numeric_limits<T>::min()) + ", " + std::to_string(std::numeric_limits<T>::max()) +
                  "] was expected");
    out.push_back(e.is_number_unsigned() ? T(e.get<uint64_t>()) : T(e.get<int64_t>()));
  }
  return out;
}

// Opens the file and parses its JSON header; `in` is left at the data.
nlohmann::json read_header(const std::filesystem::path& path, std::ifstream& in, uint64_t& data_size) {
  const std::string name = path.string();
  const uint64_t file_size = check_input_file(path, "a safetensors file", limits::kSafetensorsFileBytes);
  in.open(path, std::ios::binary);
  if (!in) throw Error(name + ": cannot open");
  uint64_t header_len = 0;
  if (!in.read(reinterpret_cast<char*>(&header_len), 8)) throw Error(name + ": truncated: no safetensors header");
  if (header_len > file_size - 8)
    throw Error(name + ": not a safetensors file: header length " + std::to_string(header_len) + " but the file has " +
                std::to_string(file_size) + " bytes");
  if (header_len > uint64_t(limits::kSafetensorsHeaderBytes))
    throw Error(name + ": header length " + std::to_string(header_len) + " is above the limit of " +
                std::to_string(limits::kSafetensorsHeaderBytes) + " bytes");
  std::string header(header_len, '\0');
  in.read(header.data(), std::streamsize(header_len));
  data_size = file_size - 8 - header_len;
  // JSON lets a key repeat and the parser keeps the last: a tensor named
  // twice is an error here instead of one silently replacing the other.
  std::set<std::string> keys;
  std::string repeated;
  const auto check_keys = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key && !keys.insert(parsed.get<std::string>()).second)
      repeated = parsed.get<std::string>();
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header, check_keys);
  } catch (const std::exception& e) {
    throw Error(name + ": not a safetensors file: header is not JSON (" + e.what() + ")");
  }
  if (!repeated.empty()) throw Error(name + ": tensor '" + repeated + "' appears twice in the header");
  if (!j.is_object()) throw Error(name + ": not a safetensors file: the header is not a JSON object");
  return j;
}

// Elements of a shape, each dimension 0 or more, the product checked
// against overflow: a header's shape is not trusted.
uint64_t checked_numel(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("shape has the dimension " + std::to_string(d) + "; dimensions are 0 or more");
    if (d > 0 && n > (uint64_t(1) << 62) / uint64_t(d))
      throw Error("shape has more than 2^62 elements");
    n *= uint64_t(d);
  }
  return n;
}

}  // namespace

StoredTensor f32_tensor(const float* values, std::vector<int64_t> shape) {
  StoredTensor t;
  t.dtype = "F32";
  t.shape = std::move(shape);
  t.bytes.resize(t.numel() * 4);
  std::memcpy(t.bytes.data(), values, t.bytes.size());
  return t;
}

std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path) {
  std::ifstream in;
  uint64_t data_size = 0;
  const nlohmann::json j = read_header(path, in, data_size);
  std::map<std::string, std::string> out;
  if (!j.contains("__metadata__")) return out;
  try {
    for (auto& [key, v] : j.at("__metadata__").items()) out[key] = v.get<std::string>();
  } catch (const std::exception& e) {
    throw Error(path.string() + ": __metadata__ must map strings to strings (" + e.what() + ")");
  }
  return out;
}

size_t StoredTensor::numel() const { return size_t(checked_numel(shape)); }

std::vector<float> StoredTensor::to_floats() const {
  const size_t elem = dtype_size(dtype);
  if (elem == 0 || bytes.size() != numel() * elem)
    throw Error("tensor of dtype " + dtype + " with " + std::to_string(bytes.size()) + " bytes for " +
                std::to_string(numel()) + " elements");
  std::vector<float> out(numel());
  if (out.empty()) return out;  // memcpy from an empty vector's null data() is undefined
  if (dtype == "F32") {
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
  } else if (dtype == "I64") {
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t v;
      std::memcpy(&v, bytes.data() + 8 * i, 8);
      out[i] = float(v);
    }
  } else {
    throw Error("tensor of dtype " + dtype + " where F32 or I64 was expected");
  }
  return out;
}

std::map<std::string, StoredTensor> read_safetensors(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in;
  uint64_t data_size = 0;
  const nlohmann::json j = read_header(path, in, data_size);
  std::vector<uint8_t> data(data_size);
  in.read(reinterpret_cast<char*>(data.data()), std::streamsize(data_size));
  std::map<std::string, StoredTensor> out;
  for (auto& [key, v] : j.items()) {
    if (key == "__metadata__") continue;
    try {
      StoredTensor t;
      t.dtype = v.at("dtype").get<std::string>();
      t.shape = integers<int64_t>(v.at("shape"), "shape");
      const auto offsets = integers<uint64_t>(v.at("data_offsets"), "data_offsets");
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        throw Error("data offsets outside the file's " + std::to_string(data_size) + " data bytes (truncated?)");
      const size_t elem = dtype_size(t.dtype);
      if (elem == 0) throw Error("unknown dtype " + t.dtype);
      const uint64_t numel = checked_numel(t.shape);
      if (numel > uint64_t(data_size) || (offsets[1] - offsets[0]) != numel * elem)
        throw Error("holds " + std::to_string(offsets[1] - offsets[0]) + " bytes but " + t.dtype + " of its shape needs " +
                    std::to_string(numel) + " elements of " + std::to_string(elem) + " bytes");
      t.bytes.assign(data.begin() + long(offsets[0]), data.begin() + long(offsets[1]));
      out.emplace(key, std::move(t));
    } catch (const Error& e) {
      throw Error(name + ": tensor '" + key + "': " + e.what());
    } catch (const std::exception& e) {
      throw Error(name + ": tensor '" + key + "': malformed header entry (" + e.what() + ")");
    }
  }
  return out;
}

void write_safetensors(const std::filesystem::path& path, const std::map<std::string, StoredTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [key, t] : tensors) {
    header[key] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  header["__metadata__"] = {{"format", "pt"}};
  for (const auto& [key, value] : metadata) header["__metadata__"][key] = value;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  TemporaryFile tmp(path);
  const uint64_t len = text.size();
  tmp.write(std::string_view(reinterpret_cast<const char*>(&len), 8));
  tmp.write(text);
  for (const auto& [key, t] : tensors) tmp.write(std::string_view(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size()));
  tmp.commit();
}

static std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void save_state_dict(Model& model, const std::filesystem::path& path,
                     const std::map<std::string, std::string>& metadata) {
  std::map<std::string, StoredTensor> tensors;
  for (const StateEntry& e : model.state_dict()) {
    StoredTensor t;
    t.shape.assign(e.param->shape.begin(), e.param->shape.end());
    if (e.param->name == "num_batches_tracked") {
      t.dtype = "I64";
      const int64_t v = int64_t(e.param->value[0]);
      t.bytes.resize(8);
      std::memcpy(t.bytes.data(), &v, 8);
    } else {
      t.dtype = "F32";
      t.bytes.resize(e.param->numel() * 4);
      std::memcpy(t.bytes.data(), e.param->value, t.bytes.size());
    }
    tensors.emplace(e.key, std::move(t));
  }
  write_safetensors(path, tensors, metadata);
}

void load_state_dict(Model& model, const std::map<std::string, StoredTensor>& tensors, const std::string& origin) {
  const auto entries = model.state_dict();
  // Check everything before touching the model.
  for (const StateEntry& e : entries) {
    auto it = tensors.find(e.key);
    if (it == tensors.end()) throw Error(origin + ": missing key '" + e.key + "'");
    const std::vector<int64_t> want(e.param->shape.begin(), e.param->shape.end());
    if (it->second.shape != want)
      throw Error(origin + ": '" + e.key + "' has shape " + shape_str(it->second.shape) + " but the model needs " +
                  shape_str(want));
    if (it->second.dtype != "F32" && it->second.dtype != "I64")
      throw Error(origin + ": '" + e.key + "' has dtype " + it->second.dtype + "; expected F32");
  }
  for (const auto& [key, t] : tensors) {
    bool known = false;
    for (const StateEntry& e : entries) known |= e.key == key;
    if (!known) throw Error(origin + ": unexpected key '" + key + "' (not in the model)");
  }
  for (const StateEntry& e : entries) {
    const auto values = tensors.at(e.key).to_floats();
    std::copy(values.begin(), values.end(), e.param->value);
  }
}

void load_state_dict(Model& model, const std::filesystem::path& path) {
  load_state_dict(model, read_safetensors(path), path.string());
}

}  // namespace mnistlab
