#pragma once
// Small text files: a run folder's, model files, class names.
#include <cstdint>
#include <filesystem>
#include <string>

namespace mnistlab {

// The one reader of small text files. It opens the file once, without
// blocking (a FIFO would wait for a writer), and reads it only when it is a
// regular file of at most max_bytes. Every error names the
// file, what it is and `kind`, what was expected ("a model file", ...).
std::string read_text(const std::filesystem::path& path, const std::string& kind, int64_t max_bytes);
// Written to a temporary file and renamed, so a killed run never leaves half
// a file (io/temporary_file.h: never through a link, a device or a FIFO).
void write_text(const std::filesystem::path& path, const std::string& text);

}  // namespace mnistlab
