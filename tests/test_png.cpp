// encode_png_gray gives the bytes of the file write_png_gray writes, which
// read_png_gray reads back pixel for pixel. Files written here byte by byte
// are read with their samples as stored at every bit depth, whatever their
// gAMA, sRGB or cHRM chunks say, so predict and denoise apply take a picture
// at 16 bits as they take it at 8.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "cli_fixture.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/png.h"
#include "mnistlab/safetensors.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;
using namespace mnistlab::test;

TEST(Png, EncodedInMemoryAsWrittenToAFile) {
  const fs::path dir = fs::temp_directory_path() / ("mnistlab_png_" + std::to_string(getpid()));
  fs::create_directories(dir);
  GrayImage image{7, 4, {}};
  for (int i = 0; i < 28; ++i) image.pixels.push_back(uint8_t(i * 53 % 256));
  const std::string bytes = encode_png_gray(image);
  write_png_gray(dir / "file.png", image);
  EXPECT_EQ(bytes, test::read_file(dir / "file.png"));
  std::ofstream(dir / "memory.png", std::ios::binary) << bytes;
  const GrayImage back = read_png_gray(dir / "memory.png");
  EXPECT_EQ(back.width, 7);
  EXPECT_EQ(back.height, 4);
  EXPECT_EQ(back.pixels, image.pixels);
  fs::remove_all(dir);
  EXPECT_THROW(encode_png_gray(GrayImage{3, 3, std::vector<uint8_t>(8)}), Error);  // 8 pixels for 3x3
}

// ---- samples as stored, at any bit depth ----

// A grayscale PNG written here byte by byte (PNG spec 5 and 11.2: signature,
// IHDR, the extra chunks, one IDAT of filter-0 rows, IEND), so the files
// below do not come from the code under test: `bits` 1, 2, 4, 8 or 16,
// samples big-endian and packed from the high bits.
std::string chunk(const std::string& type, const std::string& data) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) out += char((data.size() >> shift) & 0xff);
  const std::string body = type + data;
  out += body;
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()));
  for (int shift = 24; shift >= 0; shift -= 8) out += char((crc >> shift) & 0xff);
  return out;
}

std::string be32(uint32_t v) { return {char(v >> 24), char(v >> 16 & 0xff), char(v >> 8 & 0xff), char(v & 0xff)}; }

std::string gray_png(int width, int height, int bits, const std::vector<uint16_t>& samples,
                     const std::string& extra_chunks = "") {
  std::string raw;
  for (int r = 0; r < height; ++r) {
    raw += '\0';  // filter type None
    uint32_t acc = 0;
    int held = 0;
    for (int c = 0; c < width; ++c) {
      const uint16_t v = samples[size_t(r) * width + c];
      if (bits == 16) {
        raw += char(v >> 8);
        raw += char(v & 0xff);
        continue;
      }
      acc = acc << bits | v;
      held += bits;
      if (held == 8) raw += char(acc), acc = 0, held = 0;
    }
    if (held) raw += char(acc << (8 - held));
  }
  std::string idat(compressBound(uLong(raw.size())), '\0');
  uLongf size = uLongf(idat.size());
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(idat.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
                     uLong(raw.size())),
            Z_OK);
  idat.resize(size);
  const std::string ihdr = be32(uint32_t(width)) + be32(uint32_t(height)) + char(bits) + std::string(4, '\0');
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + extra_chunks + chunk("IDAT", idat) +
         chunk("IEND", "");
}

const std::string kGamma45455 = chunk("gAMA", be32(45455));  // 1/2.2, the usual one
const std::string kGamma1 = chunk("gAMA", be32(100000));     // linear
const std::string kSrgb = chunk("sRGB", std::string(1, '\0'));
const std::string kCie = chunk("cHRM", be32(31270) + be32(32900) + be32(64000) + be32(33000) + be32(30000) +
                                           be32(60000) + be32(15000) + be32(6000));

class PngFile : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& bytes) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_ = [] {
    const fs::path d = fs::temp_directory_path() / ("mnistlab_pngfile_" + std::to_string(getpid()));
    fs::create_directories(d);
    return d;
  }();
};

TEST_F(PngFile, SixteenBitSamplesAreReadAsStoredWhateverTheColourChunksSay) {
  const std::vector<uint16_t> stored = {0, 1, 2, 128, 129, 257, 32767, 32768, 65534, 65535, 12345, 54321};
  // round(v / 257) by hand: 128/257 = 0.498, 129/257 = 0.502, 32767/257 = 127.498, 32768/257 = 127.502,
  // 65534/257 = 254.996, 12345/257 = 48.03, 54321/257 = 211.37.
  const std::vector<uint8_t> eight = {0, 0, 0, 0, 1, 1, 127, 128, 255, 255, 48, 211};
  for (const auto& [name, extra] : std::vector<std::pair<std::string, std::string>>{
           {"plain", ""}, {"gAMA 1/2.2", kGamma45455}, {"gAMA 1", kGamma1}, {"sRGB", kSrgb},
           {"gAMA+cHRM", kGamma45455 + kCie}, {"sBIT 8", chunk("sBIT", std::string(1, '\x08'))}}) {
    SCOPED_TRACE(name);
    const fs::path path = write("sixteen.png", gray_png(12, 1, 16, stored, extra));
    const GrayValues values = read_png_gray_values(path);
    EXPECT_EQ(values.width, 12);
    EXPECT_EQ(values.height, 1);
    EXPECT_EQ(values.bits, 16);
    ASSERT_EQ(values.values.size(), stored.size());
    for (size_t i = 0; i < stored.size(); ++i) EXPECT_EQ(values.values[i], float(stored[i]) / 65535.0f) << i;
    EXPECT_EQ(values.values[9], 1.0f);
    EXPECT_EQ(read_png_gray(path).pixels, eight);
  }
}

TEST_F(PngFile, EightBitAndSmallerSamplesAreReadAsStored) {
  std::vector<uint16_t> stored;
  for (int v = 0; v < 256; v += 15) stored.push_back(uint16_t(v));  // 0, 15, ..., 255: 18 values
  for (const auto& [name, extra] : std::vector<std::pair<std::string, std::string>>{
           {"plain", ""}, {"gAMA 1", kGamma1}, {"gAMA 1/2.2", kGamma45455}, {"sRGB", kSrgb},
           {"sBIT 4", chunk("sBIT", std::string(1, '\x04'))}}) {
    SCOPED_TRACE(name);
    const fs::path path = write("eight.png", gray_png(18, 1, 8, stored, extra));
    EXPECT_EQ(read_png_gray(path).pixels, std::vector<uint8_t>(stored.begin(), stored.end()));
    const GrayValues values = read_png_gray_values(path);
    EXPECT_EQ(values.bits, 8);
    for (size_t i = 0; i < stored.size(); ++i) EXPECT_EQ(values.values[i], float(stored[i]) / 255.0f) << i;
  }
  // 4 bits: 0..15 scaled to 0..255, v * 17 (PNG spec 12.5: the sample times 255 / 15).
  std::vector<uint16_t> nibbles(16);
  for (uint16_t v = 0; v < 16; ++v) nibbles[v] = v;
  const GrayImage four = read_png_gray(write("four.png", gray_png(16, 1, 4, nibbles, kGamma1)));
  for (int v = 0; v < 16; ++v) EXPECT_EQ(four.pixels[size_t(v)], 17 * v) << v;
  // 1 bit: 0 and 255.
  const GrayImage one = read_png_gray(write("one.png", gray_png(3, 1, 1, {1, 0, 1})));
  EXPECT_EQ(one.pixels, (std::vector<uint8_t>{255, 0, 255}));
}

TEST_F(PngFile, ThePictureAtEightAndAtSixteenBitsReadsTheSame) {
  std::vector<uint16_t> eight(28 * 28), sixteen(28 * 28);
  for (size_t i = 0; i < eight.size(); ++i) {
    eight[i] = uint16_t(i * 37 % 256);
    sixteen[i] = uint16_t(eight[i] * 257);  // 255 * 257 = 65535
  }
  const GrayValues a = read_png_gray_values(write("a.png", gray_png(28, 28, 8, eight)));
  for (const std::string& extra : {std::string(), kGamma45455, kSrgb}) {
    const GrayValues b = read_png_gray_values(write("b.png", gray_png(28, 28, 16, sixteen, extra)), 28, 28);
    EXPECT_EQ(a.values, b.values);
    EXPECT_EQ(read_png_gray(dir_ / "a.png").pixels, read_png_gray(dir_ / "b.png").pixels);
  }
  EXPECT_EQ(a.values[1], 37.0f / 255.0f);
}

// What `predict` prints for one image, without the file's name.
std::string prediction(const CommandResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output.substr(r.output.find(':'));
}

TEST_F(Cli, PredictGivesTheSameAnswerForThePictureAtEightAndAtSixteenBits) {
  // The fast preset's initial weights: any network whose answer moves with its input.
  const ModelSource source = resolve_model("fast");
  Model model = parse_model(source.text, source.origin);
  model.build(7);
  save_state_dict(model, dir_ / "fast.safetensors");
  std::vector<uint16_t> eight(28 * 28), sixteen(28 * 28);
  for (size_t i = 0; i < eight.size(); ++i) {
    eight[i] = uint16_t(i * 37 % 256);
    sixteen[i] = uint16_t(eight[i] * 257);
  }
  std::ofstream(dir_ / "eight.png", std::ios::binary) << gray_png(28, 28, 8, eight);
  std::ofstream(dir_ / "sixteen.png", std::ios::binary) << gray_png(28, 28, 16, sixteen);
  std::ofstream(dir_ / "gamma.png", std::ios::binary) << gray_png(28, 28, 16, sixteen, kGamma45455);
  const std::string use = "predict --model fast --threads 1 --top 10 --weights " + (dir_ / "fast.safetensors").string();
  const std::string answer = prediction(run(use + " " + (dir_ / "eight.png").string()));
  EXPECT_EQ(prediction(run(use + " " + (dir_ / "sixteen.png").string())), answer);
  EXPECT_EQ(prediction(run(use + " " + (dir_ / "gamma.png").string())), answer);
  // And a picture that differs gives another answer (the comparison can fail).
  sixteen[400] = 0;
  sixteen[401] = 0;
  for (size_t i = 0; i < 200; ++i) sixteen[i] = 65535;
  std::ofstream(dir_ / "other.png", std::ios::binary) << gray_png(28, 28, 16, sixteen);
  EXPECT_NE(prediction(run(use + " " + (dir_ / "other.png").string())), answer);
}

TEST_F(Cli, DenoiseApplyTakesSixteenBitSamplesAsStored) {
  // A denoiser that gives back its input: one 1x1 convolution of weight 1, no bias.
  std::ofstream(dir_ / "same.model") << "input 1 28 28\nconv 1 k=1 bias=0\n";
  const ModelSource source = resolve_model((dir_ / "same.model").string());
  Model model = parse_model(source.text, source.origin);
  model.build(1);
  save_state_dict(model, dir_ / "same.safetensors");
  std::map<std::string, StoredTensor> tensors = read_safetensors(dir_ / "same.safetensors");
  ASSERT_EQ(tensors.size(), 1u);
  const float one = 1.0f;
  tensors.begin()->second = f32_tensor(&one, {1, 1, 1, 1});
  write_safetensors(dir_ / "same.safetensors", tensors);

  std::vector<uint16_t> sixteen(28 * 28, 0);
  const std::vector<uint16_t> stored = {0, 128, 129, 257, 32767, 32768, 65534, 65535, 12345, 54321};
  std::copy(stored.begin(), stored.end(), sixteen.begin());
  std::ofstream(dir_ / "in.png", std::ios::binary) << gray_png(28, 28, 16, sixteen, kGamma45455);
  const auto r = run("denoise apply --model " + (dir_ / "same.model").string() + " --weights " +
                     (dir_ / "same.safetensors").string() + " " + (dir_ / "in.png").string() + " " +
                     (dir_ / "out.png").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const GrayImage out = read_png_gray(dir_ / "out.png");
  // round(v * 255 / 65535) by hand (v / 257: 0.498, 0.502, 1, 127.498, 127.502, 254.996, 255, 48.03, 211.37).
  EXPECT_EQ(std::vector<uint8_t>(out.pixels.begin(), out.pixels.begin() + 10),
            (std::vector<uint8_t>{0, 0, 1, 1, 127, 128, 255, 255, 48, 211}));
}

}  // namespace
}  // namespace mnistlab
