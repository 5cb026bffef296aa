#include "io/folder_pin.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "mnistlab/error.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;

// Pinned folders by key, each with its descriptor and how many pins hold it.
struct Pinned {
  int fd = -1;
  int pins = 0;
};
std::mutex pinned_mutex;
std::map<std::string, Pinned>& pinned() {
  static std::map<std::string, Pinned> folders;
  return folders;
}

std::string key_of(const fs::path& folder) {
  std::error_code ec;
  fs::path absolute = fs::absolute(folder.empty() ? fs::path(".") : folder, ec);
  if (ec) absolute = folder;
  std::string key = absolute.lexically_normal().string();
  while (key.size() > 1 && key.back() == '/') key.pop_back();
  return key;
}

int open_directory(const fs::path& folder) {
  return ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

}  // namespace

FolderPin::FolderPin(const fs::path& folder) : key_(key_of(folder)) {
  std::lock_guard<std::mutex> guard(pinned_mutex);
  Pinned& p = pinned()[key_];
  if (p.pins == 0) {
    p.fd = open_directory(folder);
    if (p.fd < 0) {
      const int err = errno;
      pinned().erase(key_);
      key_.clear();
      throw Error(folder.string() + ": cannot open the folder (" + std::strerror(err) + ")");
    }
  }
  ++p.pins;
}

FolderPin::FolderPin(FolderPin&& other) noexcept : key_(std::exchange(other.key_, {})) {}

FolderPin& FolderPin::operator=(FolderPin&& other) noexcept {
  if (this != &other) {
    release();
    key_ = std::exchange(other.key_, {});
  }
  return *this;
}

FolderPin::~FolderPin() { release(); }

void FolderPin::release() {
  if (key_.empty()) return;
  std::lock_guard<std::mutex> guard(pinned_mutex);
  auto it = pinned().find(key_);
  if (it != pinned().end() && --it->second.pins == 0) {
    ::close(it->second.fd);
    pinned().erase(it);
  }
  key_.clear();
}

int folder_descriptor(const fs::path& folder) {
  {
    std::lock_guard<std::mutex> guard(pinned_mutex);
    if (!pinned().empty()) {
      auto it = pinned().find(key_of(folder));
      if (it != pinned().end()) return ::fcntl(it->second.fd, F_DUPFD_CLOEXEC, 0);
    }
  }
  return open_directory(folder);
}

int open_in_folder(const fs::path& path, int flags) {
  const int dir = folder_descriptor(path.parent_path());
  if (dir < 0) return -1;
  const int fd = ::openat(dir, path.filename().c_str(), flags, 0644);
  const int err = errno;
  ::close(dir);
  errno = err;
  return fd;
}

bool remove_file_in_folder(const fs::path& path) {
  const int dir = folder_descriptor(path.parent_path());
  if (dir < 0) return errno == ENOENT;
  const bool gone = ::unlinkat(dir, path.filename().c_str(), 0) == 0 || errno == ENOENT;
  const int err = errno;
  ::close(dir);
  errno = err;
  return gone;
}

void remove_empty_folder(const fs::path& folder) {
  const int fd = folder_descriptor(folder);
  if (fd < 0) return;
  struct stat held {}, named {};
  const bool same = ::fstat(fd, &held) == 0 && ::lstat(folder.c_str(), &named) == 0 && S_ISDIR(named.st_mode) &&
                    held.st_dev == named.st_dev && held.st_ino == named.st_ino;
  ::close(fd);
  if (same) ::rmdir(folder.c_str());
}

}  // namespace mnistlab
