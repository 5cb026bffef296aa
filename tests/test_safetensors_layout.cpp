// Safetensors files that are well-formed JSON but not what the format
// allows (issue 27): tensors sharing or skipping bytes, metadata that is
// not strings, headers of many keys; the data's CRC-32C that mnistlab
// writes and checks; NaN and infinite weights.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "mnistlab/checkpoint.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/safetensors.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

// An 8-byte little-endian header length, the header as given, the data.
void write_raw(const fs::path& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const uint64_t len = header.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << header << data;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// {"NAME":{"dtype":"F32","shape":[N],"data_offsets":[BEGIN,END]}
std::string f32_entry(const std::string& name, int n, int begin, int end) {
  return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(n) + "],\"data_offsets\":[" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

std::string floats(std::initializer_list<float> values) {
  std::string bytes(values.size() * 4, '\0');
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

void flip_last_byte(const fs::path& path) {
  std::string bytes = read_file(path);
  bytes.back() = char(bytes.back() ^ 1);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

const char* const kNet = "input 1 28 28\nconv 6 k=3 s=2 p=1\nbatchnorm\nrelu\nflatten\nlinear 10\n";

class SafetensorsLayout : public Cli {
 protected:
  fs::path file(const std::string& header, const std::string& data) {
    const fs::path path = dir_ / "t.safetensors";
    write_raw(path, header, data);
    return path;
  }
  std::string read_error(const fs::path& path) {
    return error_of([&] { read_safetensors(path); });
  }
};

void expect_has(const std::string& msg, std::initializer_list<std::string> parts) {
  for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

}  // namespace

// 200,000 keys fit in the 16 MiB header; nlohmann's parser callback made
// reading them quadratic (40,000 keys took 24 s, 200,000 minutes).
TEST_F(SafetensorsLayout, HeaderOfManyKeysIsReadInLinearTime) {
  const int n = 200000;
  std::string header = "{";
  for (int i = 0; i < n; ++i) {
    char entry[96];
    std::snprintf(entry, sizeof entry, "%s\"t%06d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                  i ? "," : "", i, i, i + 1);
    header += entry;
  }
  header += "}";
  ASSERT_LT(header.size(), size_t(16) << 20);
  const fs::path path = file(header, std::string(size_t(n), 'x'));
  const auto start = std::chrono::steady_clock::now();
  const auto tensors = read_safetensors(path);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(tensors.size(), size_t(n));
  EXPECT_LT(seconds, 10.0) << "a header of " << header.size() << " bytes";
}

TEST_F(SafetensorsLayout, RepeatedMetadataKeyIsRefused) {
  const auto path = file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}," + f32_entry("w", 1, 0, 4) + "}", floats({1}));
  expect_has(read_error(path), {path.string(), "key 'a' appears twice in the header"});
}

// The format: sorted by offset, the tensors tile the data section exactly.
TEST_F(SafetensorsLayout, TensorsSharingBytesAreRefused) {
  auto path = file("{" + f32_entry("a", 1, 0, 4) + "," + f32_entry("b", 1, 0, 4) + "}", floats({1}));
  expect_has(read_error(path), {path.string(), "tensor 'b' has data_offsets [0, 4] but 'a' ends at 4", "overlap"});
  path = file("{" + f32_entry("a", 2, 0, 8) + "," + f32_entry("b", 1, 4, 8) + "}", floats({1, 2}));
  expect_has(read_error(path), {path.string(), "tensor 'b' has data_offsets [4, 8] but 'a' ends at 8", "overlap"});
}

TEST_F(SafetensorsLayout, BytesOfNoTensorAreRefused) {
  auto path = file("{" + f32_entry("a", 1, 0, 4) + "," + f32_entry("b", 1, 8, 12) + "}", floats({1, 2, 3}));
  expect_has(read_error(path), {path.string(), "tensor 'b' has data_offsets [8, 12] but 'a' ends at 4",
                                "belong to no tensor"});
  path = file("{" + f32_entry("a", 1, 4, 8) + "}", floats({1, 2}));
  expect_has(read_error(path), {path.string(), "tensor 'a' has data_offsets [4, 8] but the data section starts at 0"});
  path = file("{" + f32_entry("a", 1, 0, 4) + "}", floats({1, 2}));
  expect_has(read_error(path), {path.string(), "the data section has 8 bytes but the last tensor, 'a' with "
                                               "data_offsets [0, 4], ends at 4"});
  path = file("{}", floats({1}));
  expect_has(read_error(path), {path.string(), "the data section has 4 bytes but there are no tensors"});
}

// Offsets, not the header's (alphabetical) order, place the tensors; an
// empty tensor takes no bytes, as in the reference implementation.
TEST_F(SafetensorsLayout, TilingInAnyOrderIsAccepted) {
  const auto path = file("{" + f32_entry("a", 1, 4, 8) + "," + f32_entry("b", 1, 0, 4) + "," +
                             f32_entry("e", 0, 4, 4) + "}",
                         floats({1.5f, -2.f}));
  const auto tensors = read_safetensors(path);
  ASSERT_EQ(tensors.size(), 3u);
  EXPECT_EQ(tensors.at("a").to_floats(), std::vector<float>{-2.f});
  EXPECT_EQ(tensors.at("b").to_floats(), std::vector<float>{1.5f});
  EXPECT_TRUE(tensors.at("e").to_floats().empty());
}

TEST_F(SafetensorsLayout, MetadataMustBeStrings) {
  auto path = file("{\"__metadata__\":{\"format\":\"pt\",\"epoch\":3}," + f32_entry("w", 1, 0, 4) + "}", floats({1}));
  expect_has(read_error(path), {path.string(), "\"__metadata__\" entry 'epoch' is 3 (number)", "only strings"});
  expect_has(error_of([&] { read_safetensors_metadata(path); }), {path.string(), "'epoch' is 3"});
  path = file("{\"__metadata__\":[\"pt\"]," + f32_entry("w", 1, 0, 4) + "}", floats({1}));
  expect_has(read_error(path), {path.string(), "\"__metadata__\" is [\"pt\"]; expected an object of strings"});
}

// CRC-32C's check value, the CRC of "123456789", is e3069283 (the CRC
// catalogue's CRC-32/ISCSI; RFC 3720 uses the same polynomial).
TEST_F(SafetensorsLayout, WrittenFilesCarryTheDataCrc32c) {
  StoredTensor digits;
  digits.dtype = "U8";
  digits.shape = {9};
  digits.bytes.assign({'1', '2', '3', '4', '5', '6', '7', '8', '9'});
  write_safetensors(dir_ / "d.safetensors", {{"d", digits}}, {{kDataCrc32cKey, "not mine"}});
  EXPECT_EQ(read_safetensors_metadata(dir_ / "d.safetensors").at(kDataCrc32cKey), "e3069283");
}

TEST_F(SafetensorsLayout, DataNotMatchingItsCrc32cIsRefused) {
  const std::string header = "{\"__metadata__\":{\"mnistlab.data_crc32c\":\"e3069283\"},"
                             "\"d\":{\"dtype\":\"U8\",\"shape\":[9],\"data_offsets\":[0,9]}}";
  EXPECT_EQ(read_safetensors(file(header, "123456789")).at("d").bytes.size(), 9u);
  auto path = file(header, "123456780");
  expect_has(read_error(path), {path.string(), "corrupt", "mnistlab.data_crc32c", "\"e3069283\""});
  path = file("{\"__metadata__\":{\"mnistlab.data_crc32c\":\"E3069283\"},"
              "\"d\":{\"dtype\":\"U8\",\"shape\":[9],\"data_offsets\":[0,9]}}",
              "123456789");
  expect_has(read_error(path), {path.string(), "\"E3069283\" (8 lowercase hex digits)"});
  // PyTorch's files have no checksum.
  EXPECT_EQ(read_safetensors(file("{\"d\":{\"dtype\":\"U8\",\"shape\":[9],\"data_offsets\":[0,9]}}", "123456780"))
                .size(),
            1u);
}

TEST_F(SafetensorsLayout, FlippedBitInWeightsIsRefusedModelUnchanged) {
  Model a = parse_model(kNet, "a"), b = parse_model(kNet, "b");
  a.build(1);
  b.build(2);
  const std::vector<float> before(b.parameters(), b.parameters() + b.parameter_count());
  save_state_dict(a, dir_ / "w.safetensors");
  flip_last_byte(dir_ / "w.safetensors");
  expect_has(error_of([&] { load_state_dict(b, dir_ / "w.safetensors"); }),
             {(dir_ / "w.safetensors").string(), "corrupt: its data's CRC-32C is"});
  EXPECT_TRUE(std::equal(before.begin(), before.end(), b.parameters()));
}

TEST_F(SafetensorsLayout, CheckpointMustCarryAMatchingCrc32c) {
  Model model = parse_model(kNet, "m");
  model.build(1);
  auto optimizer = make_optimizer({}, model.parameter_count());
  TrainProgress progress;
  const fs::path path = dir_ / "resume.safetensors";
  save_checkpoint(path, model, *optimizer, progress);
  EXPECT_NO_THROW(load_checkpoint(path, model, *optimizer));

  // The same file without the checksum, written by hand.
  SafetensorsFile f = read_safetensors_file(path);
  std::string header = "{\"__metadata__\":{", data;
  for (const auto& [key, value] : f.metadata)
    if (key != kDataCrc32cKey) header += nlohmann::json(key).dump() + ":" + nlohmann::json(value).dump() + ",";
  header.back() = '}';
  for (const auto& [key, t] : f.tensors) {
    header += ",\"" + key + "\":{\"dtype\":\"F32\",\"shape\":" + nlohmann::json(t.shape).dump() +
              ",\"data_offsets\":[" + std::to_string(data.size()) + "," + std::to_string(data.size() + t.bytes.size()) +
              "]}";
    data.append(t.bytes.begin(), t.bytes.end());
  }
  write_raw(dir_ / "bare.safetensors", header + "}", data);
  ASSERT_EQ(read_safetensors(dir_ / "bare.safetensors").size(), f.tensors.size());
  expect_has(error_of([&] { load_checkpoint(dir_ / "bare.safetensors", model, *optimizer); }),
             {(dir_ / "bare.safetensors").string(), "lacks \"mnistlab.data_crc32c\""});

  flip_last_byte(path);
  expect_has(error_of([&] { load_checkpoint(path, model, *optimizer); }), {path.string(), "corrupt"});
}

TEST_F(SafetensorsLayout, ResumeFromAFlippedByteFails) {
  write_dataset();
  std::ofstream(dir_ / "net.model") << kNet;
  const std::string train = "train --model " + (dir_ / "net.model").string() + " --data-dir " +
                            (dir_ / "data").string() + " --threads 1 --batch-size 32 --out " + (dir_ / "r").string();
  ASSERT_EQ(run(train + " --epochs 2 --raise-sigterm-at-step 5").exit_code, 128 + 15);
  flip_last_byte(dir_ / "r" / "resume.safetensors");
  const auto resumed = run("train --resume " + (dir_ / "r").string());
  EXPECT_NE(resumed.exit_code, 0);
  expect_has(resumed.output, {(dir_ / "r" / "resume.safetensors").string(), "corrupt: its data's CRC-32C is"});
}

TEST_F(SafetensorsLayout, NonFiniteWeightsAreRefusedModelUnchanged) {
  Model a = parse_model(kNet, "a"), b = parse_model(kNet, "b");
  a.build(1);
  b.build(2);
  const std::vector<float> before(b.parameters(), b.parameters() + b.parameter_count());
  // state_dict order: 0.weight [6,1,3,3], 0.bias, 1.weight, ...
  Param& bias = *a.state_dict()[1].param;
  bias.value[2] = -std::numeric_limits<float>::infinity();
  bias.value[4] = std::numeric_limits<float>::quiet_NaN();
  save_state_dict(a, dir_ / "w.safetensors");
  expect_has(error_of([&] { load_state_dict(b, dir_ / "w.safetensors"); }),
             {(dir_ / "w.safetensors").string(),
              "'0.bias' holds 2 NaN or infinite values, the first at index 2 (-inf)"});
  EXPECT_TRUE(std::equal(before.begin(), before.end(), b.parameters()));
}

TEST_F(SafetensorsLayout, EvalAndExportRefuseNaNWeights) {
  write_dataset();
  std::ofstream(dir_ / "net.model") << kNet;
  Model a = parse_model(kNet, "a");
  a.build(1);
  a.state_dict()[0].param->value[7] = std::numeric_limits<float>::quiet_NaN();
  const fs::path weights = dir_ / "nan.safetensors";
  save_state_dict(a, weights);
  const std::string model = " --model " + (dir_ / "net.model").string() + " --weights " + weights.string();
  const std::string said = weights.string() + ": '0.weight' holds 1 NaN or infinite values, the first at index 7 (nan)";
  const auto eval = run("eval --data-dir " + (dir_ / "data").string() + model);
  EXPECT_NE(eval.exit_code, 0);
  expect_has(eval.output, {said});
  const auto exported = run("export" + model + " --out " + (dir_ / "n.onnx").string());
  EXPECT_NE(exported.exit_code, 0);
  expect_has(exported.output, {said});
  EXPECT_FALSE(fs::exists(dir_ / "n.onnx"));
}

namespace {

StoredTensor raw_tensor(const std::string& dtype, const std::vector<uint8_t>& bytes, int64_t count) {
  StoredTensor t;
  t.dtype = dtype;
  t.shape = {count};
  t.bytes = bytes;
  return t;
}

}  // namespace

// F16 and BF16 by hand from IEEE 754's binary16 and bfloat16's layout:
// 0x3c00 = 1, 0xc000 = -2, 0x0001 = 2^-24 (the least subnormal), 0x7bff =
// 65504 (the largest), 0x3555 = 0x555 / 1024 x 2^-2 + 2^-2 = 0.333251953125,
// 0x7c00 = +inf; bfloat16 0x3f80 = 1, 0xc049 = -3.140625.
TEST(SafetensorsDtypes, HalfAndBfloat16ConvertExactly) {
  const auto le16 = [](std::vector<uint16_t> v) {
    std::vector<uint8_t> b;
    for (uint16_t x : v) b.insert(b.end(), {uint8_t(x & 0xff), uint8_t(x >> 8)});
    return b;
  };
  const std::vector<float> half =
      raw_tensor("F16", le16({0x3c00, 0xc000, 0x0001, 0x7bff, 0x3555, 0x7c00, 0x8000}), 7).to_floats();
  EXPECT_EQ(half[0], 1.0f);
  EXPECT_EQ(half[1], -2.0f);
  EXPECT_EQ(half[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(half[3], 65504.0f);
  EXPECT_EQ(half[4], 0.333251953125f);
  EXPECT_EQ(half[5], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(half[6] == 0.0f && std::signbit(half[6]));
  const std::vector<float> bf16 = raw_tensor("BF16", le16({0x3f80, 0xc049}), 2).to_floats();
  EXPECT_EQ(bf16[0], 1.0f);
  EXPECT_EQ(bf16[1], -3.140625f);
}

TEST(SafetensorsDtypes, Float64BeyondFloat32IsAnErrorNotInfinity) {
  std::vector<uint8_t> bytes(16);
  const double values[2] = {0.1, 1e39};
  std::memcpy(bytes.data(), values, 16);
  EXPECT_EQ(raw_tensor("F64", std::vector<uint8_t>(bytes.begin(), bytes.begin() + 8), 1).to_floats()[0], 0.1f);
  const std::string error = error_of([&] { raw_tensor("F64", bytes, 2).to_floats(); });
  EXPECT_NE(error.find("at index 1 is beyond float32's range"), std::string::npos) << error;
  EXPECT_NE(error_of([&] { raw_tensor("I32", {0, 0, 0, 0}, 1).to_floats(); }).find("dtype I32"), std::string::npos);
}

// A half-precision NaN is caught after conversion, as a float32 one is.
TEST_F(SafetensorsLayout, HalfPrecisionNaNWeightsAreRefused) {
  Model a = parse_model("input 1 4 4\nflatten\nlinear 2\n", "net");
  a.build(1);
  std::map<std::string, StoredTensor> tensors;
  tensors["1.weight"] = raw_tensor("F16", std::vector<uint8_t>(2 * 32, 0), 32);
  tensors["1.weight"].shape = {2, 16};
  tensors["1.bias"] = raw_tensor("F16", {0x00, 0x3c, 0x01, 0x7e}, 2);  // 1.0, NaN
  const std::string error = error_of([&] { load_state_dict(a, tensors, "half.safetensors"); });
  EXPECT_NE(error.find("'1.bias' holds 1 NaN or infinite values, the first at index 1 (nan)"), std::string::npos)
      << error;
}

// A file whose header length happens to start with a pickle's bytes
// (0x80 0x02: 640 bytes) is still read as safetensors.
TEST_F(SafetensorsLayout, HeaderLengthLikeAPickleIsStillSafetensors) {
  std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  header.append(0x280 - header.size(), ' ');
  const float one = 1.0f;
  write_raw(dir_ / "small.safetensors", header, std::string(reinterpret_cast<const char*>(&one), 4));
  EXPECT_EQ(read_safetensors(dir_ / "small.safetensors").at("w").to_floats().at(0), 1.0f);
}
