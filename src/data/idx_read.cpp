// Reading IDX files (http://yann.lecun.com/exdb/mnist/): a big-endian 32-bit
// magic number 0x000008NN (0x08 = unsigned bytes, NN = number of dimensions),
// NN big-endian 32-bit sizes, then the bytes. zlib's gzread reads gzip and
// raw files alike, so the format is detected from the content, not the name.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "io/input_file.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"
#include "mnistlab/limits.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr uint32_t kMaxSide = uint32_t(limits::kImageSide);

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string describe_magic(uint32_t magic) {
  if (magic == kImagesMagic) return " (IDX images)";
  if (magic == kLabelsMagic) return " (IDX labels)";
  if ((magic >> 8) == 0x08) return " (IDX of unsigned bytes with " + std::to_string(magic & 0xff) + " dims)";
  return " (not an IDX file)";
}

// One open IDX file; closes itself. Every error names the file.
class IdxReader {
 public:
  explicit IdxReader(const fs::path& path) : name_(path.string()) {
    check_input_file(path, "an IDX file", limits::kIdxPayloadBytes + 4096);
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) {
      if (errno == ENOENT) fail("no such file");
      fail(std::string("cannot open: ") + (errno ? std::strerror(errno) : "out of memory"));
    }
    gzbuffer(file_, 1 << 18);  // fewer system calls than the default 8 KiB (a few % faster on .gz)
  }
  ~IdxReader() {
    if (file_) gzclose(file_);
  }
  IdxReader(const IdxReader&) = delete;
  IdxReader& operator=(const IdxReader&) = delete;

  [[noreturn]] void fail(const std::string& what) const { throw Error(name_ + ": " + what); }

  // Reads up to n bytes and returns how many came; fewer only at the end of
  // the data (or where a gzip stream is cut short: see ended_early_). A
  // corrupt gzip stream throws with zlib's own message.
  size_t read(uint8_t* dst, size_t n) {
    size_t total = 0;
    while (total < n) {
      unsigned chunk = unsigned(std::min<size_t>(n - total, 1u << 30));
      int got = gzread(file_, dst + total, chunk);
      if (got < 0) check_stream();
      if (got <= 0) break;
      total += size_t(got);
    }
    check_stream();
    return total;
  }

  // Reads the magic number and the sizes; checks the magic is `expected`.
  std::vector<uint32_t> read_header(uint32_t expected, const char* kind) {
    uint32_t magic = read_u32("the magic number");
    if (magic != expected) {
      fail("magic number " + hex32(magic) + describe_magic(magic) + ", expected " + hex32(expected) +
           " (IDX " + kind + ")");
    }
    std::vector<uint32_t> dims(expected & 0xff);
    for (uint32_t& d : dims) d = read_u32("the dimension sizes");
    return dims;
  }

  // Reads exactly `expected` bytes and checks nothing follows them. The
  // header's promise is held to limits::kIdxPayloadBytes first, and the
  // buffer grows as bytes arrive rather than trusting it, so neither a
  // corrupt header nor a gzip bomb can take more memory than real data of
  // that size would.
  std::vector<uint8_t> read_payload(uint64_t expected, const std::string& promise, int header_bytes) {
    if (expected > uint64_t(limits::kIdxPayloadBytes))
      fail("header promises " + promise + " (" + std::to_string(expected) + " bytes), above the limit of " +
           std::to_string(limits::kIdxPayloadBytes) + " bytes per IDX file");
    std::vector<uint8_t> data;
    size_t have = 0;
    while (have < expected) {
      size_t want = size_t(std::min<uint64_t>(expected, std::max<size_t>(size_t(1) << 20, 2 * have)));
      data.resize(want);
      have += read(data.data() + have, want - have);
      if (have < want) break;
    }
    if (have < expected) {
      fail("truncated: header promises " + promise + " (" + std::to_string(expected) +
           " bytes) but the file holds " + std::to_string(have) + " after the " +
           std::to_string(header_bytes) + "-byte header" + gzip_note());
    }
    expect_end(expected);
    return data;
  }

 private:
  uint32_t read_u32(const char* what) {
    uint8_t b[4];
    size_t got = read(b, 4);
    if (got < 4 && at_start_ && got == 0) fail("the file is empty; expected an IDX file");
    if (got < 4) {
      fail("too short: the file ends inside the IDX header (in " + std::string(what) + ")" + gzip_note());
    }
    at_start_ = false;
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
  }

  // Reading on to the end also makes zlib check the gzip CRC and length.
  // Whatever follows the data is an error at its first byte: counting it
  // would let a small gzip file inflate for ever.
  void expect_end(uint64_t payload) {
    uint8_t buf[4096];
    const size_t extra = read(buf, sizeof buf);
    if (!ended_early_.empty()) fail("truncated gzip stream: " + ended_early_);
    if (extra > 0) {
      fail("foreign file: more bytes follow the " + std::to_string(payload) +
           " data bytes the header promises; expected the file to end there");
    }
  }

  // Z_BUF_ERROR is zlib's "unexpected end of file": a gzip stream cut short.
  // The caller reports it with the byte counts; anything else is corruption.
  void check_stream() {
    int err = Z_OK;
    const char* raw = gzerror(file_, &err);
    if (err == Z_OK) return;
    // zlib prefixes its message with the path; ours already starts with it.
    std::string msg = raw ? raw : "unknown zlib error";
    if (msg.rfind(name_ + ": ", 0) == 0) msg.erase(0, name_.size() + 2);
    if (err == Z_BUF_ERROR) {
      ended_early_ = msg;
      return;
    }
    fail("corrupt gzip stream: " + msg);
  }

  std::string gzip_note() const {
    return ended_early_.empty() ? "" : " (the gzip stream ends early: " + ended_early_ + ")";
  }

  std::string name_;
  gzFile file_ = nullptr;
  bool at_start_ = true;
  std::string ended_early_;  // zlib's message when the gzip stream was cut short
};

}  // namespace

IdxImages read_idx_images(const std::filesystem::path& path) {
  IdxReader in(path);
  std::vector<uint32_t> dims = in.read_header(kImagesMagic, "images");
  uint32_t count = dims[0], rows = dims[1], cols = dims[2];
  if (rows < 1 || rows > kMaxSide || cols < 1 || cols > kMaxSide) {
    in.fail("image size " + std::to_string(rows) + "x" + std::to_string(cols) +
            " is not plausible; expected rows and cols in 1.." + std::to_string(kMaxSide));
  }
  if (count > uint32_t(INT32_MAX)) {
    in.fail("image count " + std::to_string(count) + " is not plausible; expected at most " +
            std::to_string(INT32_MAX));
  }
  std::string promise = std::to_string(count) + " images of " + std::to_string(rows) + "x" + std::to_string(cols);
  IdxImages images;
  images.count = int(count);
  images.rows = int(rows);
  images.cols = int(cols);
  images.pixels = in.read_payload(uint64_t(count) * rows * cols, promise, 16);
  return images;
}

std::vector<uint8_t> read_idx_labels(const std::filesystem::path& path) {
  IdxReader in(path);
  uint32_t count = in.read_header(kLabelsMagic, "labels")[0];
  return in.read_payload(count, std::to_string(count) + " labels", 8);
}

}  // namespace mnistlab
