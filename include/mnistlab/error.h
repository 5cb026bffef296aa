#pragma once
// Errors on user input are exceptions carrying a message a person can act on:
// what was wrong (file, line, value) and what was expected. The command
// prints what() and exits non-zero; nothing aborts on user input.
#include <stdexcept>
#include <string>

namespace mnistlab {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace mnistlab
