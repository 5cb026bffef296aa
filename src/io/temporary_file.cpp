#include "io/temporary_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "io/folder_pin.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;

// What a non-regular file is, in words, or "" for a regular file.
std::string not_regular(mode_t mode) {
  if (S_ISREG(mode)) return "";
  if (S_ISLNK(mode)) return "is a symbolic link";
  if (S_ISDIR(mode)) return "is a folder";
  if (S_ISFIFO(mode)) return "is a FIFO (named pipe)";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "is a device";
  if (S_ISSOCK(mode)) return "is a socket";
  return "is not a regular file";
}

// The target, looked at without following a link: absent or regular, or an Error.
void check_target(int dir_fd, const std::string& name, const fs::path& shown) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw_cannot_write(shown);
  }
  if (const std::string what = not_regular(st.st_mode); !what.empty())
    throw Error(shown.string() + ": " + what + "; mnistlab writes only regular files (it neither replaces nor "
                "writes through anything else): name a file, or remove this one first");
}

int open_folder(const fs::path& target) {
  const int fd = folder_descriptor(target.parent_path());
  if (fd < 0) throw_cannot_write(target);
  return fd;
}

}  // namespace

TemporaryFile::TemporaryFile(fs::path target)
    : target_(std::move(target)), name_(target_.filename().string()),
      tmp_name_(name_ + ".tmp." + std::to_string(getpid())) {
  if (name_.empty() || name_ == "." || name_ == "..")
    throw Error(target_.string() + ": is a folder; expected a file name");
  dir_fd_ = open_folder(target_);
  try {
    check_target(dir_fd_, name_, target_);
    const int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    fd_ = ::openat(dir_fd_, tmp_name_.c_str(), flags, 0644);
    if (fd_ < 0 && errno == EEXIST) {  // left by a killed process whose PID we now have
      ::unlinkat(dir_fd_, tmp_name_.c_str(), 0);
      fd_ = ::openat(dir_fd_, tmp_name_.c_str(), flags, 0644);
    }
    if (fd_ < 0) throw_cannot_write(target_);
  } catch (...) {
    ::close(dir_fd_);
    throw;
  }
}

TemporaryFile::~TemporaryFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlinkat(dir_fd_, tmp_name_.c_str(), 0);
  ::close(dir_fd_);
}

void TemporaryFile::write(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_cannot_write(target_);
    bytes.remove_prefix(size_t(n));
  }
}

void TemporaryFile::commit() {
  // fsync before rename: a crash leaves either the old file or the new one.
  int result;
  do result = ::fsync(fd_);
  while (result != 0 && errno == EINTR);
  if (result != 0 || ::close(std::exchange(fd_, -1)) != 0) throw_cannot_write(target_);
  check_target(dir_fd_, name_, target_);
  if (::renameat(dir_fd_, tmp_name_.c_str(), dir_fd_, name_.c_str()) != 0) throw_cannot_write(target_);
  committed_ = true;
}

void write_file_atomically(const fs::path& path, std::string_view bytes) {
  TemporaryFile tmp(path);
  tmp.write(bytes);
  tmp.commit();
}

void check_output_path(const fs::path& path) {
  const int dir_fd = open_folder(path);
  try {
    check_target(dir_fd, path.filename().string(), path);
  } catch (...) {
    ::close(dir_fd);
    throw;
  }
  ::close(dir_fd);
}

void throw_cannot_write(const fs::path& target) {
  const int err = errno;
  throw Error(target.string() + ": cannot write" + (err ? " (" + std::string(std::strerror(err)) + ")" : ""));
}

}  // namespace mnistlab
