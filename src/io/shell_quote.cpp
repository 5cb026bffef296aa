#include "io/shell_quote.h"

#include <cstdio>
#include <string_view>

namespace mnistlab {

std::string shell_quote(const std::string& word) {
  const auto safe = [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_@%+=:,./-").find(char(c)) != std::string_view::npos;
  };
  bool plain = !word.empty(), control = false;
  for (unsigned char c : word) {
    plain = plain && safe(c);
    control = control || c < 0x20 || c == 0x7f;
  }
  if (plain) return word;
  if (!control) {
    std::string out = "'";
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
  std::string out = "$'";
  for (unsigned char c : word) {
    if (c == '\\' || c == '\'') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char octal[8];  // always three digits: a digit after it cannot join the escape
      std::snprintf(octal, sizeof octal, "\\%03o", unsigned(c));
      out += octal;
    } else {
      out += char(c);
    }
  }
  return out + "'";
}

}  // namespace mnistlab
