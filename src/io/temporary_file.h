#pragma once
// A file written whole and never through anything but a regular file: the
// folder is opened once and everything after goes through that descriptor
// (openat, fstatat, renameat), so a path component swapped while the file
// is written cannot redirect it. The bytes go to "NAME.tmp.<pid>", created
// new (O_EXCL, O_NOFOLLOW: a link planted under that name is not followed),
// then renamed over NAME. A NAME that exists and is not a regular file (a
// symbolic link, a device such as /dev/null, a FIFO, a folder) is refused
// before anything is written: mnistlab never replaces one and never writes
// through one. Whatever fails on the way, the temporary file is removed.
#include <filesystem>
#include <string>
#include <string_view>

namespace mnistlab {

class TemporaryFile {
 public:
  explicit TemporaryFile(std::filesystem::path target);
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile();  // removes the temporary file unless committed

  // The temporary file, open for reading and writing.
  int fd() const { return fd_; }
  // Appends all of bytes (retrying short writes and EINTR) or throws Error.
  void write(std::string_view bytes);
  // Makes the bytes durable, then renames the temporary file over the target
  // (checked again: still absent or a regular file); throws Error naming the
  // target and removes the temporary file.
  void commit();

 private:
  std::filesystem::path target_;
  std::string name_, tmp_name_;
  int dir_fd_ = -1, fd_ = -1;
  bool committed_ = false;
};

// Writes bytes to path through a TemporaryFile.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Throws Error when path exists and is not a regular file, naming what it is
// (a symbolic link, a device, a FIFO, a folder). For outputs written by
// other means than TemporaryFile, before anything is written.
void check_output_path(const std::filesystem::path& path);

// "TARGET: cannot write (REASON)", the reason from errno when it says one.
[[noreturn]] void throw_cannot_write(const std::filesystem::path& target);

}  // namespace mnistlab
