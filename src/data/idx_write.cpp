// Writing IDX files: gzip when the name ends in .gz, raw otherwise. The file
// is written beside its final name and renamed into place, so a reader never
// sees half a file.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/temporary_file.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr int kMaxSide = 4096;

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

// zlib writes into a TemporaryFile (never through a link or into a device),
// renamed over the target when the stream is closed whole.
class IdxWriter {
 public:
  explicit IdxWriter(const fs::path& path) : path_(path), tmp_(path) {
    // "T" asks zlib for a plain (transparent) file instead of gzip.
    const char* mode = path.extension() == ".gz" ? "wb" : "wbT";
    const int fd = ::dup(tmp_.fd());
    errno = 0;
    file_ = fd >= 0 ? gzdopen(fd, mode) : nullptr;
    if (!file_) {
      if (fd >= 0) ::close(fd);
      fail(std::string("cannot write: ") + (errno ? std::strerror(errno) : "out of memory"));
    }
  }
  ~IdxWriter() {
    if (file_) gzclose(file_);  // only reached when an error was thrown
  }
  IdxWriter(const IdxWriter&) = delete;
  IdxWriter& operator=(const IdxWriter&) = delete;

  [[noreturn]] void fail(const std::string& what) const { throw Error(path_.string() + ": " + what); }

  void write(const uint8_t* data, size_t n) {
    for (size_t done = 0; done < n;) {
      unsigned chunk = unsigned(std::min<size_t>(n - done, 1u << 30));
      if (gzwrite(file_, data + done, chunk) != int(chunk)) {
        int err = Z_OK;
        const char* msg = gzerror(file_, &err);
        fail(std::string("cannot write: ") + (err == Z_ERRNO ? std::strerror(errno) : msg));
      }
      done += chunk;
    }
  }

  void finish() {
    const int rc = gzclose(file_);
    file_ = nullptr;
    if (rc != Z_OK) fail("cannot write: closing the file failed (zlib error " + std::to_string(rc) + ")");
    tmp_.commit();
  }

 private:
  fs::path path_;
  TemporaryFile tmp_;
  gzFile file_ = nullptr;
};

void write_idx(const fs::path& path, uint32_t magic, const std::vector<uint32_t>& dims,
               const uint8_t* data, size_t size) {
  std::vector<uint8_t> header;
  put_u32(header, magic);
  for (uint32_t d : dims) put_u32(header, d);
  IdxWriter out(path);
  out.write(header.data(), header.size());
  out.write(data, size);
  out.finish();
}

}  // namespace

void write_idx_images(const std::filesystem::path& path, const IdxImages& images) {
  auto fail = [&](const std::string& what) { throw Error(path.string() + ": cannot write images: " + what); };
  if (images.rows < 1 || images.rows > kMaxSide || images.cols < 1 || images.cols > kMaxSide) {
    fail("image size " + std::to_string(images.rows) + "x" + std::to_string(images.cols) +
         " is not plausible; expected rows and cols in 1.." + std::to_string(kMaxSide));
  }
  if (images.count < 0) fail("count " + std::to_string(images.count) + " is negative");
  size_t expected = size_t(images.count) * images.rows * images.cols;
  if (images.pixels.size() != expected) {
    fail("pixels holds " + std::to_string(images.pixels.size()) + " bytes, expected count*rows*cols = " +
         std::to_string(expected));
  }
  write_idx(path, kImagesMagic, {uint32_t(images.count), uint32_t(images.rows), uint32_t(images.cols)},
            images.pixels.data(), images.pixels.size());
}

void write_idx_labels(const std::filesystem::path& path, const std::vector<uint8_t>& labels) {
  if (labels.size() > UINT32_MAX) {
    throw Error(path.string() + ": cannot write labels: " + std::to_string(labels.size()) +
                " labels do not fit an IDX header (at most " + std::to_string(UINT32_MAX) + ")");
  }
  write_idx(path, kLabelsMagic, {uint32_t(labels.size())}, labels.data(), labels.size());
}

}  // namespace mnistlab
