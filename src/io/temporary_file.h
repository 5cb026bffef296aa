#pragma once
// A file written whole: first to a temporary file beside it, named for this
// process ("NAME.tmp.<pid>", so two processes never share one), then renamed
// over the target. Whatever fails on the way, the temporary file is removed.
#include <filesystem>

namespace mnistlab {

class TemporaryFile {
 public:
  explicit TemporaryFile(std::filesystem::path target);
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile();  // removes the temporary file unless committed

  const std::filesystem::path& path() const { return tmp_; }
  // Renames the temporary file over the target; throws Error naming the
  // target (e.g. a folder of that name) and removes the temporary file.
  void commit();

 private:
  std::filesystem::path target_, tmp_;
  bool committed_ = false;
};

// "TARGET: cannot write (REASON)", the reason from errno when it says one.
[[noreturn]] void throw_cannot_write(const std::filesystem::path& target);

}  // namespace mnistlab
