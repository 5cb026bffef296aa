#include "io/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/temporary_file.h"
#include "mnistlab/error.h"

namespace mnistlab {

namespace fs = std::filesystem;

namespace {

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string read_text(const fs::path& path, const std::string& kind, int64_t max_bytes) {
  const std::string name = path.string();
  const Descriptor fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) throw Error(name + ": no such file (expected " + kind + ")");
    throw Error(name + ": cannot read (" + std::strerror(errno) + "; expected " + kind + ")");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw Error(name + ": cannot read (" + std::strerror(errno) + ")");
  if (S_ISDIR(st.st_mode)) throw Error(name + ": is a folder, expected " + kind);
  if (!S_ISREG(st.st_mode)) throw Error(name + ": is not a regular file (a pipe or a device?), expected " + kind);
  if (st.st_size > max_bytes)
    throw Error(name + ": " + std::to_string(st.st_size) + " bytes, above the limit of " + std::to_string(max_bytes) +
                " for " + kind);
  // Read at most one byte past the limit: a file that grows while it is read
  // is caught without reading all of it.
  std::string text(size_t(max_bytes) + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(name + ": cannot read (" + std::strerror(errno) + ")");
    if (n == 0) break;
    got += size_t(n);
  }
  if (int64_t(got) > max_bytes)
    throw Error(name + ": more than " + std::to_string(max_bytes) + " bytes, the limit for " + kind);
  text.resize(got);
  return text;
}

void write_text(const fs::path& path, const std::string& text) { write_file_atomically(path, text); }

}  // namespace mnistlab
