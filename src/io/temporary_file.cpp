#include "io/temporary_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "mnistlab/error.h"

namespace mnistlab {

TemporaryFile::TemporaryFile(std::filesystem::path target)
    : target_(std::move(target)), tmp_(target_.string() + ".tmp." + std::to_string(getpid())) {}

TemporaryFile::~TemporaryFile() {
  if (committed_) return;
  std::error_code ignored;
  std::filesystem::remove(tmp_, ignored);
}

void TemporaryFile::commit() {
  std::error_code ec;
  std::filesystem::rename(tmp_, target_, ec);
  if (ec) throw Error(target_.string() + ": cannot write (" + ec.message() + ")");
  committed_ = true;
}

void throw_cannot_write(const std::filesystem::path& target) {
  const int err = errno;
  throw Error(target.string() + ": cannot write" + (err ? " (" + std::string(std::strerror(err)) + ")" : ""));
}

}  // namespace mnistlab
