#pragma once
// Small text files of a run folder.
#include <filesystem>
#include <string>

namespace mnistlab {

// Throws Error naming the file when it cannot be read.
std::string read_text(const std::filesystem::path& path);
// Written to a temporary file and renamed, so a killed run never leaves half a file.
void write_text(const std::filesystem::path& path, const std::string& text);

}  // namespace mnistlab
