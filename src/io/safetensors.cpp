#include "mnistlab/safetensors.h"

#include <crcutil/generic_crc.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "io/input_file.h"
#include "kernels/cpu/bf16.h"
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

// nlohmann::json::parse with two changes. A key repeated in an object is an
// error instead of the last one silently winning (a tensor named twice);
// not nlohmann's parser callback for that: after each nested object it scans
// the whole parent, quadratic in the number of tensors (200,000 keys took
// 6 minutes). And each tensor's entry goes to on_entry as soon as it is
// parsed and is then dropped (its key stays, for that check): the whole
// tree of 200,000 entries doubled the peak memory (196 MB, not 103 MB, for
// reading a 13 MB header).
class HeaderParser : public nlohmann::json_sax<nlohmann::json> {
 public:
  using json = nlohmann::json;
  using Entry = std::function<void(const std::string& key, const json& value)>;
  HeaderParser(json& root, const Entry& on_entry) : root_(root), on_entry_(on_entry) {}
  std::string repeated;  // the first key seen twice in one object
  bool top_level = false;  // whether that object is the header (a tensor's name)
  std::string error;     // the syntax error

  bool key(string_t& k) override {
    auto& object = open_.back()->get_ref<json::object_t&>();
    const size_t before = object.size();
    // Files list their keys sorted: the end is the place, found in constant time.
    const auto it = object.emplace_hint(object.end(), k, nullptr);
    if (object.size() == before) {
      repeated = k;
      top_level = open_.size() == 1;
      return false;
    }
    member_ = &it->second;
    if (open_.size() == 1) entry_ = &*it;
    return true;
  }
  bool start_object(std::size_t) override { return open_.push_back(add(json::object())), true; }
  bool start_array(std::size_t) override { return open_.push_back(add(json::array())), true; }
  bool end_object() override { return open_.pop_back(), parsed(), true; }
  bool end_array() override { return open_.pop_back(), parsed(), true; }
  bool null() override { return add(nullptr), parsed(), true; }
  bool boolean(bool v) override { return add(v), parsed(), true; }
  bool number_integer(number_integer_t v) override { return add(v), parsed(), true; }
  bool number_unsigned(number_unsigned_t v) override { return add(v), parsed(), true; }
  bool number_float(number_float_t v, const string_t&) override { return add(v), parsed(), true; }
  bool string(string_t& v) override { return add(std::move(v)), parsed(), true; }
  bool binary(binary_t&) override { return false; }  // not in JSON text
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    return false;
  }

 private:
  // Where a value goes: the root, the open array's end or the key just read.
  template <class V>
  json* add(V&& v) {
    json* slot = open_.empty() ? &root_ : open_.back()->is_array() ? &open_.back()->emplace_back() : member_;
    *slot = json(std::forward<V>(v));
    return slot;
  }
  // A value just ended; one of the header object's own is an entry.
  void parsed() {
    if (open_.size() != 1 || !open_[0]->is_object() || entry_->first == "__metadata__") return;
    if (on_entry_) on_entry_(entry_->first, entry_->second);
    entry_->second = nullptr;
  }
  json& root_;
  const Entry& on_entry_;
  std::vector<json*> open_;
  json* member_ = nullptr;
  std::pair<const std::string, json>* entry_ = nullptr;
};

// "__metadata__" may only map strings to strings (the format's rule).
std::map<std::string, std::string> metadata_of(const nlohmann::json& j, const std::string& name) {
  std::map<std::string, std::string> out;
  const auto it = j.find("__metadata__");
  if (it == j.end()) return out;
  if (!it->is_object())
    throw Error(name + ": \"__metadata__\" is " + it->dump().substr(0, 80) + "; expected an object of strings");
  for (const auto& [key, v] : it->items()) {
    if (!v.is_string())
      throw Error(name + ": \"__metadata__\" entry '" + key + "' is " + v.dump().substr(0, 80) + " (" +
                  v.type_name() + "); the format allows only strings");
    out[key] = v.get<std::string>();
  }
  return out;
}

// What torch.save wrote, told apart by its first bytes: a zip archive (its
// format since PyTorch 1.6) or a bare pickle (protocol 2 to 5, the legacy
// format); nullptr for anything else. Asked only when the first 8 bytes,
// read as a safetensors header's length, cannot be one.
const char* pytorch_pickle_kind(const unsigned char* first) {
  if (first[0] == 'P' && first[1] == 'K' && first[2] == 3 && first[3] == 4)
    return "a PyTorch pickle (torch.save's zip format)";
  if (first[0] == 0x80 && first[1] >= 2 && first[1] <= 5) return "a PyTorch pickle (torch.save's legacy format)";
  return nullptr;
}

// Opens the file and reads its JSON header; `in` is left at the data.
std::string read_header(const std::filesystem::path& path, std::ifstream& in, uint64_t& data_size) {
  const std::string name = path.string();
  const uint64_t file_size = check_input_file(path, "a safetensors file", limits::kSafetensorsFileBytes);
  in.open(path, std::ios::binary);
  if (!in) throw Error(name + ": cannot open");
  uint64_t header_len = 0;
  if (!in.read(reinterpret_cast<char*>(&header_len), 8)) throw Error(name + ": truncated: no safetensors header");
  unsigned char first[8];
  std::memcpy(first, &header_len, 8);
  const bool plausible = header_len <= file_size - 8 && header_len <= uint64_t(limits::kSafetensorsHeaderBytes);
  if (const char* kind = plausible ? nullptr : pytorch_pickle_kind(first))
    throw Error(name + ": " + kind +
                ", not safetensors; mnistlab reads safetensors only (loading a pickle runs code from the file). "
                "In PyTorch: from safetensors.torch import save_file; save_file(model.state_dict(), "
                "\"weights.safetensors\") (pip install safetensors)");
  if (header_len > file_size - 8)
    throw Error(name + ": not a safetensors file: header length " + std::to_string(header_len) + " but the file has " +
                std::to_string(file_size) + " bytes");
  if (header_len > uint64_t(limits::kSafetensorsHeaderBytes))
    throw Error(name + ": header length " + std::to_string(header_len) + " is above the limit of " +
                std::to_string(limits::kSafetensorsHeaderBytes) + " bytes");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), std::streamsize(header_len))) throw Error(name + ": truncated while reading its header");
  data_size = file_size - 8 - header_len;
  return header;
}

// The header's metadata; every tensor's entry goes to on_entry.
std::map<std::string, std::string> parse_header(const std::string& text, const std::string& name,
                                                const HeaderParser::Entry& on_entry) {
  nlohmann::json root;
  HeaderParser parser(root, on_entry);
  if (!nlohmann::json::sax_parse(text, &parser)) {
    if (!parser.repeated.empty())
      throw Error(name + ": " + (parser.top_level ? "tensor '" : "key '") + parser.repeated +
                  "' appears twice in the header");
    throw Error(name + ": not a safetensors file: header is not JSON (" + parser.error + ")");
  }
  if (!root.is_object()) throw Error(name + ": not a safetensors file: the header is not a JSON object");
  return metadata_of(root, name);
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

struct Extent {
  uint64_t begin, end;
  const std::string* key;
};

std::string offsets_str(const Extent& e) {
  return "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
}

// The format's rule (the reference implementation's Metadata::validate):
// sorted by offset, the tensors tile the data section exactly, so no two
// share bytes and no byte belongs to none.
void check_layout(std::vector<Extent>& extents, uint64_t data_size, const std::string& name) {
  std::sort(extents.begin(), extents.end(),
            [](const Extent& a, const Extent& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t end = 0;
  const Extent* previous = nullptr;
  for (const Extent& e : extents) {
    if (e.begin != end) {
      const std::string after = previous ? "'" + *previous->key + "' ends at " + std::to_string(end)
                                         : "the data section starts at 0";
      throw Error(name + ": tensor '" + *e.key + "' has " + offsets_str(e) + " but " + after + ": " +
                  (e.begin < end ? "tensors overlap" : "bytes between them belong to no tensor") +
                  "; tensors must tile the data section without gaps or overlaps");
    }
    end = e.end;
    previous = &e;
  }
  if (end != data_size)
    throw Error(name + ": the data section has " + std::to_string(data_size) + " bytes but " +
                (previous ? "the last tensor, '" + *previous->key + "' with " + offsets_str(*previous) + ", ends at " +
                                std::to_string(end)
                          : std::string("there are no tensors")) +
                ": the bytes after it belong to no tensor");
}

// CRC-32C (Castagnoli), as in src/report/event_file.cpp but unmasked.
// `start` continues the CRC of the bytes before these.
uint32_t crc32c(const std::vector<uint8_t>& bytes, uint32_t start = 0) {
  static const crcutil::GenericCrc<crcutil::uint64, crcutil::uint64, crcutil::uint64, 4> crc(0x82f63b78, 32, true);
  return uint32_t(crc.CrcDefault(bytes.data(), bytes.size(), start));
}

std::string hex8(uint32_t v) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", v);
  return text;
}

// Files mnistlab writes carry the data's CRC; others (PyTorch's) do not.
void check_crc32c(const std::map<std::string, std::string>& metadata, const std::vector<uint8_t>& data,
                  const std::string& name) {
  const auto it = metadata.find(kDataCrc32cKey);
  if (it == metadata.end()) return;
  const std::string actual = hex8(crc32c(data));
  if (it->second != actual)
    throw Error(name + ": corrupt: its data's CRC-32C is " + actual + " but its metadata \"" + kDataCrc32cKey +
                "\" says \"" + it->second.substr(0, 40) + "\" (8 lowercase hex digits)");
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
  return parse_header(read_header(path, in, data_size), path.string(), nullptr);
}

size_t StoredTensor::numel() const { return size_t(checked_numel(shape)); }

namespace {

// IEEE binary16: sign, 5 exponent bits (bias 15), 10 fraction bits.
float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
  if (exponent == 0x1f) {  // infinity or NaN
    const uint32_t bits = sign | 0x7f800000u | (fraction << 13);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  // Subnormals and normals alike: fraction x 2^-24, or (1024 + fraction) x 2^(exponent - 25).
  const float magnitude = exponent == 0 ? std::ldexp(float(fraction), -24)
                                        : std::ldexp(float(1024 + fraction), int(exponent) - 25);
  return sign ? -magnitude : magnitude;
}

template <class T>
T element(const std::vector<uint8_t>& bytes, size_t i) {
  T v;
  std::memcpy(&v, bytes.data() + sizeof(T) * i, sizeof(T));
  return v;
}

}  // namespace

bool StoredTensor::converts_to_floats() const {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16" || dtype == "F64" || dtype == "I64";
}

std::vector<float> StoredTensor::to_floats() const {
  const size_t elem = dtype_size(dtype);
  if (elem == 0 || bytes.size() != numel() * elem)
    throw Error("tensor of dtype " + dtype + " with " + std::to_string(bytes.size()) + " bytes for " +
                std::to_string(numel()) + " elements");
  if (!converts_to_floats()) throw Error("tensor of dtype " + dtype + " where F32, F16, BF16, F64 or I64 was expected");
  std::vector<float> out(numel());
  if (out.empty()) return out;  // memcpy from an empty vector's null data() is undefined
  if (dtype == "F32") {
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
    return out;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (dtype == "F16") out[i] = half_to_float(element<uint16_t>(bytes, i));
    else if (dtype == "BF16") out[i] = cpu::bf16_to_float(element<uint16_t>(bytes, i));
    else if (dtype == "F64") {
      const double v = element<double>(bytes, i);
      // A finite double beyond float's range would become infinite, silently.
      if (std::isfinite(v) && std::fabs(v) > double(std::numeric_limits<float>::max()))
        throw Error("F64 value " + std::to_string(v) + " at index " + std::to_string(i) +
                    " is beyond float32's range (+-3.4e38)");
      out[i] = float(v);
    } else out[i] = float(element<int64_t>(bytes, i));
  }
  return out;
}

SafetensorsFile read_safetensors_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in;
  uint64_t data_size = 0;
  const std::string header = read_header(path, in, data_size);
  std::vector<uint8_t> data(data_size);
  if (!in.read(reinterpret_cast<char*>(data.data()), std::streamsize(data_size)))
    throw Error(name + ": truncated while reading its " + std::to_string(data_size) + " data bytes");
  SafetensorsFile out;
  std::vector<Extent> extents;
  out.metadata = parse_header(header, name, [&](const std::string& key, const nlohmann::json& v) {
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
        throw Error("holds " + std::to_string(offsets[1] - offsets[0]) + " bytes but " + t.dtype +
                    " of its shape needs " + std::to_string(numel) + " elements of " + std::to_string(elem) + " bytes");
      t.bytes.assign(data.begin() + long(offsets[0]), data.begin() + long(offsets[1]));
      // Files list their keys sorted: the end is the place.
      const auto it = out.tensors.emplace_hint(out.tensors.end(), key, std::move(t));
      extents.push_back({offsets[0], offsets[1], &it->first});
    } catch (const Error& e) {
      throw Error(name + ": tensor '" + key + "': " + e.what());
    } catch (const std::exception& e) {
      throw Error(name + ": tensor '" + key + "': malformed header entry (" + e.what() + ")");
    }
  });
  check_layout(extents, data_size, name);
  // After the structure: a truncated file says "truncated", not "corrupt".
  check_crc32c(out.metadata, data, name);
  return out;
}

std::map<std::string, StoredTensor> read_safetensors(const std::filesystem::path& path) {
  return read_safetensors_file(path).tensors;
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
  uint32_t crc = 0;
  for (const auto& [key, t] : tensors) crc = crc32c(t.bytes, crc);
  header["__metadata__"][kDataCrc32cKey] = hex8(crc);
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
  const std::vector<std::vector<float>> state = model.read_state();
  size_t index = 0;
  for (const StateEntry& e : model.state_dict()) {
    const std::vector<float>& values = state[index++];
    StoredTensor t;
    t.shape.assign(e.param->shape.begin(), e.param->shape.end());
    if (e.param->name == "num_batches_tracked") {
      t.dtype = "I64";
      const int64_t v = int64_t(values[0]);
      t.bytes.resize(8);
      std::memcpy(t.bytes.data(), &v, 8);
    } else {
      t.dtype = "F32";
      t.bytes.resize(e.param->numel() * 4);
      std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
    }
    tensors.emplace(e.key, std::move(t));
  }
  write_safetensors(path, tensors, metadata);
}

namespace {

std::string quoted_list(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "\"" : ", \"") + k + "\"";
  return out;
}

// A prefix (up to a dot) on every unexpected key that, taken off, leaves
// the missing keys: "module." from nn.DataParallel, or a wrapper's
// attribute; "" when there is none.
std::string extra_prefix(const std::vector<std::string>& missing, const std::vector<std::string>& unexpected) {
  if (missing.empty() || unexpected.empty()) return "";
  const size_t dot = unexpected[0].find('.');
  if (dot == std::string::npos) return "";
  const std::string prefix = unexpected[0].substr(0, dot + 1);
  const std::set<std::string> wanted(missing.begin(), missing.end());
  size_t matched = 0;
  for (const std::string& k : unexpected) {
    if (k.rfind(prefix, 0) != 0) return "";
    matched += wanted.count(k.substr(prefix.size()));
  }
  return matched == missing.size() ? prefix : "";
}

// PyTorch's message for load_state_dict(strict=True) (every missing key,
// every unexpected key, every size mismatch), with the fix where the keys
// only differ by a prefix.
std::string mismatch_message(const std::string& origin, const std::vector<std::string>& missing,
                             const std::vector<std::string>& unexpected, const std::vector<std::string>& sizes) {
  std::string m = origin + ": Error(s) in loading state_dict (the file does not fit the model):";
  if (!missing.empty()) m += "\n\tMissing key(s) in state_dict: " + quoted_list(missing) + ".";
  if (!unexpected.empty()) m += "\n\tUnexpected key(s) in state_dict: " + quoted_list(unexpected) + ".";
  for (const std::string& s : sizes) m += "\n\t" + s;
  const std::string prefix = extra_prefix(missing, unexpected);
  if (prefix == "module.")
    m += "\nEvery key in the file starts with 'module.': it was saved from a model wrapped in nn.DataParallel or "
         "DistributedDataParallel. Save the inner model's state_dict (model.module.state_dict()) instead, or strip "
         "the prefix: {k.removeprefix(\"module.\"): v for k, v in state_dict.items()}";
  else if (!prefix.empty())
    m += "\nEvery key in the file starts with '" + prefix + "', which the model's keys do not have: save the "
         "state_dict of the submodule that holds the layers, or strip the prefix: {k.removeprefix(\"" + prefix +
         "\"): v for k, v in state_dict.items()}";
  return m;
}

}  // namespace

void load_state_dict(Model& model, const std::map<std::string, StoredTensor>& tensors, const std::string& origin) {
  const auto entries = model.state_dict();
  // Check everything before touching the model.
  std::vector<std::string> missing, unexpected, sizes;
  std::set<std::string> known;
  for (const StateEntry& e : entries) {
    known.insert(e.key);
    auto it = tensors.find(e.key);
    if (it == tensors.end()) {
      missing.push_back(e.key);
      continue;
    }
    const std::vector<int64_t> want(e.param->shape.begin(), e.param->shape.end());
    if (it->second.shape != want)
      sizes.push_back("size mismatch for " + e.key + ": copying a param with shape " + shape_str(it->second.shape) +
                      " from checkpoint, the shape in current model is " + shape_str(want) + ".");
  }
  for (const auto& [key, t] : tensors)
    if (!known.count(key)) unexpected.push_back(key);
  if (!missing.empty() || !unexpected.empty() || !sizes.empty())
    throw Error(mismatch_message(origin, missing, unexpected, sizes));
  for (const StateEntry& e : entries) {
    const StoredTensor& t = tensors.at(e.key);
    if (!t.converts_to_floats())
      throw Error(origin + ": '" + e.key + "' has dtype " + t.dtype +
                  "; mnistlab loads F32, F16, BF16 and F64 tensors (converted to float32) and I64");
  }
  // A NaN or infinite weight would only show as NaN outputs, far from its
  // cause; F16, BF16 and F64 are converted to float32 first, as PyTorch's
  // load_state_dict copies them into float32 parameters.
  std::vector<std::vector<float>> values;
  for (const StateEntry& e : entries) {
    try {
      values.push_back(tensors.at(e.key).to_floats());
    } catch (const Error& error) {
      throw Error(origin + ": '" + e.key + "': " + error.what());
    }
    const std::vector<float>& v = values.back();
    size_t count = 0, first = 0;
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]) && count++ == 0) first = i;
    if (count)
      throw Error(origin + ": '" + e.key + "' holds " + std::to_string(count) +
                  " NaN or infinite values, the first at index " + std::to_string(first) + " (" +
                  (std::isnan(v[first]) ? "nan" : v[first] > 0 ? "inf" : "-inf") + "); weights must be finite");
  }
  for (size_t i = 0; i < entries.size(); ++i) model.write_param(*entries[i].param, values[i].data());
}

void load_state_dict(Model& model, const std::filesystem::path& path) {
  load_state_dict(model, read_safetensors(path), path.string());
}

}  // namespace mnistlab
