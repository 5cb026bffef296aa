#pragma once
// SHA-256 of a file (OpenSSL's EVP digest), as `sha256sum` prints it.
#include <filesystem>
#include <string>

namespace mnistlab {

// 64 lowercase hex digits; Error naming the file when it cannot be read.
std::string sha256_of_file(const std::filesystem::path& path);

}  // namespace mnistlab
