#pragma once
// Option checks whose messages say what was given and what is expected
// (CLI11's own print the range's limits as 300-digit numbers).
#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <string>

namespace mnistlab::cli {

inline CLI::Validator integer_in(long lo, long hi) {
  const std::string want = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        long v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi)
          return "expected " + want + ", got '" + s + "'";
        return "";
      },
      "INT " + std::to_string(lo) + ".." + std::to_string(hi));
}

// lo < x <= hi (open_low) or lo <= x <= hi
inline CLI::Validator number_in(double lo, double hi, bool open_low, const std::string& want) {
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        // from_chars, as integer_in: no leading space, no hexadecimal (stod took " 5" and 0x10).
        double v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || (open_low ? v <= lo : v < lo) ||
            v > hi)
          return "expected a number " + want + ", got '" + s + "'";
        return "";
      },
      "NUMBER " + want);
}

}  // namespace mnistlab::cli
