#pragma once
// Checks every reader makes before it opens a file the user named: it must
// be a regular file (a FIFO or a device would block or never end; a folder
// is a mistake) of at most max_bytes. Errors name the file and the limit.
#include <cstdint>
#include <filesystem>
#include <string>

#include "mnistlab/error.h"

namespace mnistlab {

// Returns the file's size.
inline uint64_t check_input_file(const std::filesystem::path& path, const std::string& kind, int64_t max_bytes) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw Error(path.string() + ": no such file (expected " + kind + ")");
  if (std::filesystem::is_directory(status)) throw Error(path.string() + ": is a folder, expected " + kind);
  if (!std::filesystem::is_regular_file(status))
    throw Error(path.string() + ": is not a regular file (a pipe or a device?), expected " + kind);
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(path.string() + ": cannot read its size: " + ec.message());
  if (int64_t(size) > max_bytes)
    throw Error(path.string() + ": " + std::to_string(size) + " bytes, above the limit of " +
                std::to_string(max_bytes) + " for " + kind);
  return size;
}

}  // namespace mnistlab
