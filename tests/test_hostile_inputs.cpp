// One table of hostile inputs, every command on each: a clear error (exit
// 1-127, a message naming the file and what was wrong), at most 500 MiB of
// memory and a few seconds, and no file in the way touched. Issue 14's
// audit found each of these; the cases that already worked are here too,
// so they stay that way.
#include <sys/stat.h>
#include <zlib.h>

#include <functional>
#include <map>

#include "cli_fixture.h"
#include "hostile_run.h"
#include "mnistlab/model_file.h"
#include "mnistlab/safetensors.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

constexpr double kMaxMiB = 500, kMaxSeconds = 5;

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

void write_raw(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<uint8_t> be32(uint32_t v) { return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }

// A PNG whose header (with a valid CRC) claims width x height, and no real
// image data: a reader that allocates from the header alone takes w*h bytes.
void write_png_claiming(const fs::path& path, uint32_t width, uint32_t height) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&](const char* type, const std::vector<uint8_t>& data) {
    const auto len = be32(uint32_t(data.size()));
    png.insert(png.end(), len.begin(), len.end());
    std::vector<uint8_t> body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    png.insert(png.end(), body.begin(), body.end());
    const auto crc = be32(uint32_t(crc32(0, body.data(), uInt(body.size()))));
    png.insert(png.end(), crc.begin(), crc.end());
  };
  std::vector<uint8_t> ihdr = be32(width);
  const auto h = be32(height);
  ihdr.insert(ihdr.end(), h.begin(), h.end());
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});  // 8-bit grayscale, no interlace
  chunk("IHDR", ihdr);
  chunk("IDAT", {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
  chunk("IEND", {});
  write_raw(path, png);
}

void write_safetensors_header(const fs::path& path, const std::string& header, size_t data_bytes) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t len = header.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << header << std::string(data_bytes, '\0');
}

// An IDX data folder: the good synthetic training split, and a test split
// whose images file is `images` (raw bytes).
void write_data_with_test_images(const fs::path& dir, const std::vector<uint8_t>& images) {
  fs::create_directories(dir);
  const Dataset train = synthetic(100, 1);
  write_idx_images(dir / "train-images-idx3-ubyte", IdxImages{int(train.size()), 28, 28, train.pixels});
  write_idx_labels(dir / "train-labels-idx1-ubyte", train.labels);
  write_raw(dir / "t10k-images-idx3-ubyte", images);
  write_idx_labels(dir / "t10k-labels-idx1-ubyte", std::vector<uint8_t>(10, 1));
}

std::vector<uint8_t> idx_images_header(uint32_t count, uint32_t rows, uint32_t cols) {
  std::vector<uint8_t> h = be32(0x803);
  for (uint32_t v : {count, rows, cols}) {
    const auto b = be32(v);
    h.insert(h.end(), b.begin(), b.end());
  }
  return h;
}

struct Hostile {
  std::string name;
  std::function<void(const fs::path& dir)> make;  // writes the case's files into dir
  std::vector<std::string> args;                  // "{dir}" stands for that folder
  std::vector<std::string> expect;                // in the output, in this order of importance
  int exit_code = 1;                              // 1..127 expected; 0 for a legal but odd input
};

std::vector<Hostile> cases() {
  const auto model = [](const std::string& text) {
    return [text](const fs::path& d) { write_text(d / "m.model", text); };
  };
  const std::vector<std::string> summary = {"summary", "{dir}/m.model"};
  std::vector<Hostile> t;
  // 1. No kernel tap reaches the image (was SIGFPE): a legal model, whose output is its bias.
  t.push_back({"no tap sees the image", model("input 1 1 1\nconv 1 k=1 s=2 p=1\n"), summary, {"Conv2d-1"}, 0});
  t.push_back({"no tap sees the image, trained on 28x28 data", model("input 1 1 1\nconv 1 k=1 s=2 p=1\nflatten\n"),
               {"train", "--model", "{dir}/m.model", "--data-dir", "{data}", "--epochs", "1", "--out", "{dir}/run"},
               {"the model takes inputs [-1, 1, 1, 1] but the dataset has 1x28x28 images"}});
  // 3. Shapes beyond int.
  t.push_back({"input of 2.5e9 values", model("input 1 50000 50000\nflatten\nlinear 10\n"), summary,
               {"m.model:1:", "16384 rows and columns"}});
  t.push_back({"input of 2e9 channels", model("input 2000000000 1 1 as a\nconcat a\n"), summary,
               {"m.model:1:", "65536 channels"}});
  t.push_back({"concat beyond the channel limit", model("input 40000 1 1 as a\nconcat a\n"), summary,
               {"m.model:2:", "Concat output [-1, 80000, 1, 1] is beyond the limits"}});
  t.push_back({"padding of 2^30", model("input 1 28 28\nconv 8 k=3 p=1073741824\n"), summary,
               {"m.model:2:", "p=1073741824 is above the limit of 1024"}});
  // 4. Sizes that parsing used to allocate or loop over.
  t.push_back({"1e8 output channels", model("input 1 28 28\nconv 100000000 k=3\n"), summary,
               {"m.model:2:", "out_channels 100000000 is above the limit of 65536"}});
  t.push_back({"ConvTranspose2d kernel of 1e8", model("input 1 28 28\nconvt 16 k=111111111\n"), summary,
               {"m.model:2:", "k=111111111 is above the limit of 1024"}});
  t.push_back({"kernel of 3e8", model("input 1 28 28\nconv 16 k=300000000\n"), summary,
               {"m.model:2:", "k=300000000 is above the limit"}});
  t.push_back({"3e10 parameters", model("input 60000 28 28\nconv 60000 k=3\n"), summary,
               {"m.model:2:", "above the limit of 268435456"}});
  // 7. Files too large to read whole.
  t.push_back({"2 MiB model file", model(std::string("input 1 28 28\n") + [] {
                 std::string s;
                 while (s.size() < (2u << 20)) s += "relu\n";
                 return s;
               }()),
               summary, {"m.model", "above the limit of 1048576"}});
  t.push_back({"10000 layers", model(std::string("input 1 28 28\n") + [] {
                 std::string s;
                 for (int i = 0; i < 10000; ++i) s += "relu\n";
                 return s;
               }()),
               summary, {"m.model", "at most 4096 layers"}});
  // 8. Text that is not text.
  const char nul_line[] = "input 1 28 28\nconv 8 k=3\n\x00\xff junk\n";
  t.push_back({"NUL and binary in a model file", model(std::string(nul_line, sizeof nul_line - 1)), summary,
               {"m.model:3: `\\x00\\xff junk`: unknown layer '\\x00\\xff'"}});
  // IDX files.
  t.push_back({"gzip IDX bomb", [](const fs::path& d) {
                 fs::create_directories(d / "data");
                 const Dataset train = synthetic(20, 1);
                 write_idx_images(d / "data" / "train-images-idx3-ubyte", IdxImages{20, 28, 28, train.pixels});
                 write_idx_labels(d / "data" / "train-labels-idx1-ubyte", train.labels);
                 write_idx_images(d / "data" / "t10k-images-idx3-ubyte", IdxImages{20, 28, 28, train.pixels});
                 gzFile out = gzopen((d / "data" / "t10k-labels-idx1-ubyte.gz").c_str(), "wb9");
                 const auto head = be32(0x801), count = be32(20);
                 gzwrite(out, head.data(), 4);
                 gzwrite(out, count.data(), 4);
                 gzwrite(out, train.labels.data(), 20);
                 std::vector<uint8_t> zeros(1 << 20, 0);
                 for (int i = 0; i < 1024; ++i) gzwrite(out, zeros.data(), unsigned(zeros.size()));  // 1 GiB
                 gzclose(out);
               },
               {"train", "--data-dir", "{dir}/data", "--epochs", "1", "--out", "{dir}/run"},
               {"t10k-labels-idx1-ubyte.gz", "foreign file: more bytes follow"}});
  // Under the 2 GiB limit (EMNIST ByClass's 547 MB must load), a promise is
  // still not memory: the buffer grows with the bytes that arrive.
  t.push_back({"IDX promising 1.9 GB, holding 16 bytes",
               [](const fs::path& d) {
                 auto bytes = idx_images_header(2400000, 28, 28);
                 bytes.resize(bytes.size() + 16, 0);
                 write_data_with_test_images(d / "data", bytes);
               },
               {"eval", "--weights", "{weights}", "--data-dir", "{dir}/data"}, {"t10k-images-idx3-ubyte", "truncated", "holds 16"}});
  t.push_back({"gzip IDX promising 1.5 GB, inflating to 96 MiB", [](const fs::path& d) {
                 write_data_with_test_images(d / "data", {});
                 fs::remove(d / "data" / "t10k-images-idx3-ubyte");
                 gzFile out = gzopen((d / "data" / "t10k-images-idx3-ubyte.gz").c_str(), "wb1");
                 const auto head = idx_images_header(1900000, 28, 28);
                 gzwrite(out, head.data(), unsigned(head.size()));
                 std::vector<uint8_t> zeros(1 << 20, 0);
                 for (int i = 0; i < 96; ++i) gzwrite(out, zeros.data(), unsigned(zeros.size()));
                 gzclose(out);
               },
               {"eval", "--weights", "{weights}", "--data-dir", "{dir}/data"},
               {"t10k-images-idx3-ubyte.gz", "truncated", "holds 100663296"}});
  t.push_back({"IDX promising 36 PB", [](const fs::path& d) {
                 write_data_with_test_images(d / "data", idx_images_header(0x7fffffff, 4096, 4096));
               },
               {"eval", "--weights", "{weights}", "--data-dir", "{dir}/data"}, {"t10k-images-idx3-ubyte", "above the limit of 2147483648"}});
  t.push_back({"empty test split", [](const fs::path& d) {
                 write_data_with_test_images(d / "data", idx_images_header(0, 28, 28));
               },
               {"eval", "--weights", "{weights}", "--data-dir", "{dir}/data"}, {"t10k-images-idx3-ubyte: holds no images"}});
  t.push_back({"foreign file as IDX", [](const fs::path& d) {
                 std::vector<uint8_t> html(200, 'x');
                 std::copy_n("<html>", 6, html.begin());
                 write_data_with_test_images(d / "data", html);
               },
               {"eval", "--weights", "{weights}", "--data-dir", "{dir}/data"}, {"t10k-images-idx3-ubyte", "magic number"}});
  // 2. PNG images.
  t.push_back({"PNG claiming 65535x65535", [](const fs::path& d) { write_png_claiming(d / "big.png", 65535, 65535); },
               {"predict", "--weights", "{weights}", "{dir}/big.png"}, {"big.png", "is 65535x65535; expected 28x28"}});
  t.push_back({"PNG claiming 65535x65535 to denoise", [](const fs::path& d) {
                 write_png_claiming(d / "big.png", 65535, 65535);
               },
               {"denoise", "apply", "--weights", "{dae_weights}", "{dir}/big.png", "{dir}/out.png"},
               {"big.png", "is 65535x65535; expected 28x28"}});
  t.push_back({"color PNG", [](const fs::path& d) { write_rgb_png(d / "rgb.png"); },
               {"predict", "--weights", "{weights}", "{dir}/rgb.png"}, {"rgb.png", "color PNG"}});
  t.push_back({"FIFO as an image", [](const fs::path& d) { mkfifo((d / "fifo.png").c_str(), 0600); },
               {"predict", "--weights", "{weights}", "{dir}/fifo.png"}, {"fifo.png", "is not a regular file"}});
  // Weights.
  t.push_back({"FIFO as weights", [](const fs::path& d) { mkfifo((d / "fifo").c_str(), 0600); },
               {"eval", "--weights", "{dir}/fifo", "--data-dir", "{data}"}, {"fifo", "is not a regular file"}});
  t.push_back({"negative dimension in safetensors", [](const fs::path& d) {
                 write_safetensors_header(d / "w.safetensors",
                                          R"({"0.weight":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4);
               },
               {"eval", "--weights", "{dir}/w.safetensors", "--data-dir", "{data}"},
               {"w.safetensors", "tensor '0.weight': shape has the dimension -1"}});
  t.push_back({"repeated tensor in safetensors", [](const fs::path& d) {
                 write_safetensors_header(
                     d / "w.safetensors",
                     R"({"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                     R"("0.bias":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                     8);
               },
               {"eval", "--weights", "{dir}/w.safetensors", "--data-dir", "{data}"},
               {"w.safetensors", "tensor '0.bias' appears twice"}});
  t.push_back({"truncated safetensors", [](const fs::path& d) {
                 write_safetensors_header(d / "w.safetensors",
                                          R"({"0.bias":{"dtype":"F32","shape":[32],"data_offsets":[0,128]}})", 10);
               },
               {"eval", "--weights", "{dir}/w.safetensors", "--data-dir", "{data}"},
               {"w.safetensors", "outside the file's 10 data bytes"}});
  // Options.
  t.push_back({"noise amount nan", [](const fs::path&) {},
               {"pairs", "--data-dir", "{data}", "--noise-amount", "nan", "--out", "{dir}/p.png"},
               {"--noise-amount: expected a number above 0, got 'nan'"}, 105});
  t.push_back({"negative sigma", [](const fs::path&) {},
               {"pairs", "--data-dir", "{data}", "--noise", "gaussian", "--noise-amount", "-0.3", "--out",
                "{dir}/p.png"},
               {"--noise-amount: expected a number above 0, got '-0.3'"}, 105});
  t.push_back({"unknown model", [](const fs::path&) {}, {"summary", "resnet9000"}, {"unknown model 'resnet9000'"}});
  // Outputs in the way.
  t.push_back({"run folder that is a file", [](const fs::path& d) { write_text(d / "file", "mine"); },
               {"train", "--data-dir", "{data}", "--epochs", "1", "--out", "{dir}/file"},
               {"file: is a file, not a folder"}});
  t.push_back({"picture onto a folder", [](const fs::path& d) { fs::create_directories(d / "taken"); },
               {"pairs", "--data-dir", "{data}", "--count", "2", "--out", "{dir}/taken"}, {"taken: is a folder"}});
  return t;
}

// Every path under dir: files with their size and modification time.
std::map<std::string, std::pair<uintmax_t, long>> tree_state(const fs::path& dir) {
  std::map<std::string, std::pair<uintmax_t, long>> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    lstat(e.path().c_str(), &st);
    // Folders (and pipes) by name only: a run folder made and removed again
    // leaves its parent's time changed, and nothing else.
    if (!e.is_regular_file()) files[e.path().string()] = {0, 0};
    else files[e.path().string()] = {e.file_size(), long(st.st_mtim.tv_sec) * 1000000000L + st.st_mtim.tv_nsec};
  }
  return files;
}

}  // namespace

TEST_F(Cli, HostileInputsGiveClearErrorsInBoundedMemoryAndTime) {
  // Shared, good inputs the hostile ones go with: data and weights.
  write_dataset();
  Model classifier = parse_model(resolve_model("baseline").text, "baseline");
  classifier.build(0);
  save_state_dict(classifier, dir_ / "baseline.safetensors");
  Model dae = parse_model(resolve_model("dae").text, "dae");
  dae.build(0);
  save_state_dict(dae, dir_ / "dae.safetensors");
  int index = 0;
  for (const Hostile& c : cases()) {
    SCOPED_TRACE(c.name);
    const fs::path dir = dir_ / ("case" + std::to_string(index++));
    fs::create_directories(dir);
    c.make(dir);
    std::vector<std::string> args;
    for (std::string a : c.args) {
      for (const auto& [key, value] : std::map<std::string, std::string>{
               {"{dir}", dir.string()},
               {"{data}", (dir_ / "data").string()},
               {"{weights}", (dir_ / "baseline.safetensors").string()},
               {"{dae_weights}", (dir_ / "dae.safetensors").string()}})
        for (size_t at; (at = a.find(key)) != std::string::npos;) a.replace(at, key.size(), value);
      args.push_back(a);
    }
    const auto before = tree_state(dir_);
    const Measured m = run_measured(args, 3 * kMaxSeconds);
    EXPECT_EQ(m.signal, 0) << "ended by signal " << m.signal << "\n" << m.output;
    EXPECT_FALSE(m.killed_for_time) << m.output;
    EXPECT_EQ(m.exit_code, c.exit_code) << m.output;
    for (const std::string& text : c.expect) EXPECT_NE(m.output.find(text), std::string::npos) << m.output;
    EXPECT_LE(m.peak_mib, kMaxMiB) << m.output;
    EXPECT_LE(m.seconds, kMaxSeconds) << m.output;
    EXPECT_EQ(tree_state(dir_), before) << "a file was created, changed or removed\n" << m.output;
  }
}
